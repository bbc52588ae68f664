"""The getopt_long_only lexer, checked against what nmap 7.93 did.

The strongest check: every golden capture records the argument list as nmap
permuted it (`# Nmap 7.93 scan initiated ... as: ...`); our lexer must
produce the same list from the same command.
"""

from __future__ import annotations

import re
import shlex

import pytest

from pynmap.errors import UsageError
from pynmap.getopt import Lexer, Token
from pynmap.options import GRAMMAR, LONG_OPTIONS
from tests.support.reference import CASES

AS_LINE = re.compile(r"^# Nmap 7\.93 scan initiated .*? as: (.*)$", re.M)


def lex(line: str) -> tuple[list[Token], Lexer]:
    lexer = Lexer(shlex.split(line), GRAMMAR)
    return list(lexer), lexer


def recorded_cases() -> list[tuple[str, str, str]]:
    found = []
    for case in sorted(CASES.iterdir()) if CASES.is_dir() else []:
        cmd = (case / "cmd").read_text().strip() if (case / "cmd").exists() else ""
        for name in ("out.gnmap", "out.nmap", "scan.nmap", "scan.gnmap", "partial.gnmap"):
            path = case / name
            if path.exists():
                m = AS_LINE.search(path.read_text(errors="replace"))
                if m and cmd.startswith("nmap ") and "--resume" not in cmd:
                    found.append((case.name, cmd, m.group(1)))
                    break
    return found


RECORDED = recorded_cases()


def test_reference_cases_are_present() -> None:
    assert len(RECORDED) >= 40, "the golden captures should hold many logged command lines"


@pytest.mark.parametrize(("case", "cmd", "logged"), RECORDED, ids=[c[0] for c in RECORDED])
def test_permutation_matches_nmaps_log(case: str, cmd: str, logged: str) -> None:
    from pynmap.output.fmt import join_quoted

    argv = shlex.split(cmd)
    lexer = Lexer(argv, GRAMMAR)
    list(lexer)
    assert join_quoted(lexer.permuted()) == logged


def test_single_dash_long_options_and_attached_values() -> None:
    tokens, lexer = lex("nmap -sT -top-ports 5 --max-retries=1 -oG - 127.0.0.1 -vv -n")
    assert tokens == [Token("s", "T"), Token("top-ports", "5"), Token("max-retries", "1"),
                      Token("oG", "-"), Token("vv", None), Token("n", None)]
    assert lexer.targets == ["127.0.0.1"]


@pytest.mark.parametrize("form", ["--top-ports 10", "--top-ports=10", "-top-ports 10",
                                  "-top-ports=10", "--top 10", "-top=10"])
def test_top_ports_spellings(form: str) -> None:
    tokens, _ = lex(f"nmap {form} x")
    assert tokens == [Token("top-ports", "10")]


def test_short_option_arguments() -> None:
    tokens, _ = lex("nmap -p22 -p 23 -T4 -T 3 -v -v3 -vvv -d -d2 -PS22,80 -Pn -oX -")
    assert tokens == [Token("p", "22"), Token("p", "23"), Token("T", "4"), Token("T", "3"),
                      Token("v", None), Token("v", "3"), Token("v", "vv"), Token("d", None),
                      Token("d", "2"), Token("P", "S22,80"), Token("P", "n"), Token("oX", "-")]


def test_optional_argument_must_be_attached() -> None:
    tokens, lexer = lex("nmap -v 3")
    assert tokens == [Token("v", None)]
    assert lexer.targets == ["3"]


def test_clusters_and_the_foo_example() -> None:
    # "-foo" is not a long option, so it is -f then -o with the argument "o".
    tokens, _ = lex("nmap -foo")
    assert tokens == [Token("f", None), Token("o", "o")]
    tokens, _ = lex("nmap -nr -Fr")
    assert tokens == [Token("n", None), Token("r", None), Token("F", None), Token("r", None)]


def test_long_options_mapped_to_short_letters() -> None:
    tokens, _ = lex("nmap --verbose --debug=3 --timing aggressive --source-port 53 --version")
    assert tokens == [Token("v", None), Token("d", "3"), Token("T", "aggressive"),
                      Token("g", "53"), Token("V", None)]


def test_double_dash_ends_options_and_is_logged() -> None:
    tokens, lexer = lex("nmap -sT 10.0.0.1 -p 22 -- -oX 127.0.0.1")
    assert tokens == [Token("s", "T"), Token("p", "22")]
    assert lexer.permuted() == ["nmap", "-sT", "-p", "22", "--", "10.0.0.1", "-oX", "127.0.0.1"]


def test_lone_dash_is_a_target() -> None:
    tokens, lexer = lex("nmap - -sL")
    assert tokens == [Token("s", "L")]
    assert lexer.targets == ["-"]


def errors_of(line: str) -> str:
    with pytest.raises(UsageError) as info:
        lex(line)
    return info.value.text


def test_ambiguous_prefix_lists_possibilities_in_table_order() -> None:
    # verbatim from the reference, section 1.1
    assert errors_of("nmap --max 5") == (
        "nmap: option '--max' is ambiguous; possibilities: '--max-os-tries' "
        "'--max-parallelism' '--max-rtt-timeout' '--max-hostgroup' '--max-scan-delay' "
        "'--max-retries' '--max-rate'\nSee the output of nmap -h for a summary of options.\n")


def test_exact_match_beats_prefix() -> None:
    tokens, _ = lex("nmap --version")
    assert tokens == [Token("V", None)]
    assert "is ambiguous" in errors_of("nmap --versio")


def test_unknown_and_missing_argument_messages() -> None:
    tail = "\nSee the output of nmap -h for a summary of options.\n"
    assert errors_of("nmap --foo") == "nmap: unrecognized option '--foo'" + tail
    assert errors_of("nmap -j") == "nmap: unrecognized option '-j'" + tail
    assert errors_of("nmap -p") == "nmap: option requires an argument -- 'p'" + tail
    assert errors_of("nmap --top-ports") == "nmap: option '--top-ports' requires an argument" + tail
    assert errors_of("nmap --top") == "nmap: option '--top-ports' requires an argument" + tail
    assert errors_of("nmap -nj") == "nmap: invalid option -- 'j'" + tail
    assert errors_of("nmap --open=1") == "nmap: option '--open' doesn't allow an argument" + tail


def test_errors_name_the_program_as_invoked() -> None:
    with pytest.raises(UsageError) as info:
        list(Lexer(["pynmap", "--foo"], GRAMMAR))
    assert info.value.text.startswith("pynmap: unrecognized option '--foo'\n")


def test_table_is_nmaps_size() -> None:
    # nmap 7.93 (with Lua) has 101 long options; a missing one would change prefix matching.
    assert len(LONG_OPTIONS) == 101
    assert len({name for name, _, _ in LONG_OPTIONS}) == 101


# pynmap's own long options (-oJ, --json-lines) are matched only when spelled out
# in full: each line below is lexed as nmap 7.93 lexes it (glibc getopt_long_only
# over nmap's table), so no abbreviation or error changes.
@pytest.mark.parametrize(("line", "expected"), [
    ("nmap -oJfoo x", [Token("o", "Jfoo")]),  # -o with "Jfoo", as in nmap
    ("nmap -oJ x.json t", [Token("oJ", "x.json")]),
    ("nmap --oJ=- t", [Token("oJ", "-")]),
    ("nmap -json-lines - t", [Token("json-lines", "-")]),
    ("nmap --json-lines=x t", [Token("json-lines", "x")]),
])
def test_pynmap_options_spelled_in_full(line: str, expected: list[Token]) -> None:
    assert lex(line)[0] == expected


@pytest.mark.parametrize(("line", "message"), [
    ("nmap -j", "nmap: unrecognized option '-j'"),
    ("nmap --json x", "nmap: unrecognized option '--json'"),
    ("nmap --json-line x", "nmap: unrecognized option '--json-line'"),
    ("nmap --o x", "nmap: option '--o' is ambiguous; possibilities: '--open' '--oA' '--oN' "
                   "'--oM' '--oG' '--oS' '--oH' '--oX' '--osscan-limit' '--osscan-guess'"),
])
def test_abbreviations_resolve_as_in_nmap(line: str, message: str) -> None:
    with pytest.raises(UsageError) as info:
        list(Lexer(shlex.split(line), GRAMMAR))
    assert info.value.text.startswith(message + "\n")
