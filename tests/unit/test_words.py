"""nmap's splitting of a command line held in one string (NMAP_ARGS, --resume logs)."""

from __future__ import annotations

from pynmap.words import MAX_WORDS, arg_parse


def test_blanks_and_quotes() -> None:
    assert arg_parse(b" nmap\t-p 22 \"a b\" 'c\"d' ") == [b"nmap", b"-p", b"22", b"a b", b'c"d']


def test_a_quote_inside_a_word_is_an_ordinary_character() -> None:
    assert arg_parse(b"ab\"c d") == [b'ab"c', b"d"]


def test_quotes_need_no_blank_after_them() -> None:
    assert arg_parse(b'"ab"cd') == [b"ab", b"cd"]


def test_unclosed_quote_fails() -> None:
    assert arg_parse(b"nmap 'oops") is None


def test_vertical_tab_separates_but_unicode_space_does_not() -> None:
    assert arg_parse(b"a\vb") == [b"a", b"b"]
    assert arg_parse("a\u00a0b".encode()) == ["a\u00a0b".encode()]


def test_limits() -> None:
    assert arg_parse(b"x " * MAX_WORDS) is not None
    assert arg_parse(b"x " * (MAX_WORDS + 1)) is None
    assert arg_parse(b"y" * 4095) == [b"y" * 4095]
    assert arg_parse(b"y" * 4096) is None
