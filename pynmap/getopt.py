"""nmap's command-line grammar: a lexer with glibc getopt_long_only's rules.

nmap reads its arguments with getopt_long_only(), and scripts rely on every
corner of that: long options with one or two dashes, unambiguous prefixes,
attached and detached arguments, optional arguments that must be attached,
clusters of short options, targets mixed in among the options, and `--`.
Typer/Click cannot express that grammar, so the lexer is ours and the Typer
app hands it the raw argument list.  The vocabulary is not here: it is built
from pynmap.options' table of options (OPTION_TABLE -> GRAMMAR).

The lexer is lazy: options are handled one at a time, in order, exactly as
nmap does, so an earlier option's fatal error wins over a later getopt error.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

from pynmap.errors import UsageError
from pynmap.plain import FrozenData

NO_ARG, REQUIRED_ARG, OPTIONAL_ARG = 0, 1, 2

# A long option: its name, its argument kind, and the short letter it stands
# for where nmap maps it onto one.
LongOption = tuple[str, int, str | None]


class Grammar:
    """The option vocabulary the lexer reads, as getopt_long_only is given it.

    `short` is getopt's option string ("x:" takes an argument, "x::" an
    optional one that must be attached); `long` the long options in table
    order (the order of the "possibilities" in an ambiguity message); `exact`
    long options that are matched only when spelled out in full, never by a
    prefix, so abbreviations keep resolving among `long` alone.
    """

    def __init__(self, short: str, long: tuple[LongOption, ...],
                 exact: tuple[LongOption, ...] = ()) -> None:
        self.short = short
        self.long = long
        self.exact = exact
        self.by_name = {name: (has_arg, letter) for name, has_arg, letter in long + exact}

    def short_kind(self, char: str) -> int | None:
        """NO_ARG/REQUIRED_ARG/OPTIONAL_ARG for a short option letter; None if unknown."""
        at = self.short.find(char)
        if at < 0 or char == ":":
            return None
        if self.short[at + 1 : at + 3] == "::":
            return OPTIONAL_ARG
        if self.short[at + 1 : at + 2] == ":":
            return REQUIRED_ARG
        return NO_ARG


class Token(FrozenData):
    """One option as getopt returns it.

    `name` is the short letter ("p", "v") when the option is a short one or a
    long one that nmap maps onto a short letter (--verbose -> "v"); otherwise
    the long name ("top-ports", "oX").  `value` is the argument or None.
    """

    __match_args__ = ("name", "value")
    __slots__ = __match_args__

    def __init__(self, name: str, value: str | None) -> None:
        self.name = name
        self.value = value


class Lexer:
    """Iterate over the options of an argument list the way getopt_long_only does.

    After iteration, `targets` holds the non-option words in order and
    `permuted()` the argument list as getopt leaves it (options first, then
    `--` if given, then the targets): nmap logs that order.
    """

    def __init__(self, argv: list[str], grammar: Grammar) -> None:
        self.grammar = grammar
        self.prog = argv[0] if argv else "nmap"
        self.argv = list(argv)
        self.targets: list[str] = []
        self._option_words: list[str] = []
        self._rewritten: dict[int, str] = {}  # option word index -> the word as typed
        self._double_dash = False

    def rewrite_value(self, value: str, written: str) -> None:
        """The option just read had argument `value`, and its handler wrote into
        it, as nmap's -b does (NULs where the parts end): argv, as nmap logs it,
        now holds `written` there."""
        last = self._option_words[-1]
        if written != value and last.endswith(value):
            self._rewritten[len(self._option_words) - 1] = last
            self._option_words[-1] = last[:len(last) - len(value)] + written

    def permuted(self, *, as_given: bool = False) -> list[str]:
        """argv as getopt leaves it; `as_given`: with the words as typed, before
        any handler wrote into them (rewrite_value)."""
        middle = ["--"] if self._double_dash else []
        words = self._option_words
        if as_given and self._rewritten:
            words = [self._rewritten.get(i, w) for i, w in enumerate(words)]
        return [self.prog, *words, *middle, *self.targets]

    def _error(self, message: str) -> UsageError:
        return UsageError(message, self.prog)

    def __iter__(self) -> Iterator[Token]:
        argv = self.argv
        i = 1
        while i < len(argv):
            word = argv[i]
            if word == "--":
                self._double_dash = True
                self.targets.extend(argv[i + 1 :])
                return
            if not word.startswith("-") or word == "-":
                self.targets.append(word)
                i += 1
                continue
            if word.startswith("--"):
                token, i = self._long(i, word[2:], "--")
                yield token
                continue
            # A single dash: try a long option first, unless the word is exactly
            # "-x" for a valid short option x (so short options stay reachable).
            if len(word) > 2 or self.grammar.short_kind(word[1]) is None:
                found = self._lookup_long(word[1:], "-", word)
                if found is not None:
                    token, i = self._long(i, word[1:], "-")
                    yield token
                    continue
            i = yield from self._short_cluster(i, word)

    def _lookup_long(self, body: str, prefix: str, word: str) -> str | None:
        """The long option `body` names, or None to fall back to short options.

        Raises the glibc error when the word can only be a (bad) long option.
        """
        name = body.split("=", 1)[0]
        if name in self.grammar.by_name:
            return name
        matches = [opt for opt, _, _ in self.grammar.long if opt.startswith(name)]
        if len(matches) > 1:
            listed = " ".join(f"'{prefix}{m}'" for m in matches)
            raise self._error(f"option '{prefix}{body}' is ambiguous; possibilities: {listed}")
        if matches:
            return matches[0]
        # glibc falls back to the short options when the first character
        # stands anywhere in the option string, ':' included (which the short
        # parser then calls an invalid option)
        if prefix == "--" or body[:1] not in self.grammar.short:
            raise self._error(f"unrecognized option '{prefix}{body}'")
        return None

    def _long(self, i: int, body: str, prefix: str) -> tuple[Token, int]:
        name = self._lookup_long(body, prefix, self.argv[i])
        if name is None:  # only reachable for "--": _lookup_long raised otherwise
            raise self._error(f"unrecognized option '{prefix}{body}'")
        has_arg, short = self.grammar.by_name[name]
        start = i
        i += 1
        value: str | None = None
        if "=" in body:
            if has_arg == NO_ARG:
                raise self._error(f"option '{prefix}{name}' doesn't allow an argument")
            value = body.split("=", 1)[1]
        elif has_arg == REQUIRED_ARG:
            if i >= len(self.argv):
                raise self._error(f"option '{prefix}{name}' requires an argument")
            value = self.argv[i]
            i += 1
        self._option_words.extend(self.argv[start:i])
        return Token(short or name, value), i

    def _short_cluster(self, i: int, word: str) -> Generator[Token, None, int]:
        """Yield the short options of one word ("-nr", "-p22", "-p 22"); return the next index."""
        start = i
        pos = 1
        while pos < len(word):
            char = word[pos]
            pos += 1
            kind = self.grammar.short_kind(char)
            if kind is None:
                raise self._error(f"invalid option -- '{char}'")
            if kind == NO_ARG:
                if pos >= len(word):
                    i += 1
                    self._option_words.extend(self.argv[start:i])
                yield Token(char, None)
                continue
            rest = word[pos:]
            i += 1
            if kind == OPTIONAL_ARG:
                value = rest or None
            elif rest:
                value = rest
            elif i < len(self.argv):
                value = self.argv[i]
                i += 1
            else:
                raise self._error(f"option requires an argument -- '{char}'")
            self._option_words.extend(self.argv[start:i])
            yield Token(char, value)
            break
        return i
