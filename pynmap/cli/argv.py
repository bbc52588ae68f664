"""nmap's command-line grammar: a lexer with glibc getopt_long_only's rules.

nmap reads its arguments with getopt_long_only(), and scripts rely on every
corner of that: long options with one or two dashes, unambiguous prefixes,
attached and detached arguments, optional arguments that must be attached,
clusters of short options, targets mixed in among the options, and `--`.
Typer/Click cannot express that grammar, so the lexer is ours and the Typer
app hands it the raw argument list.

The lexer is lazy: options are handled one at a time, in order, exactly as
nmap does, so an earlier option's fatal error wins over a later getopt error.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator

from pynmap.errors import UsageError
from pynmap.plain import FrozenData

NO_ARG, REQUIRED_ARG, OPTIONAL_ARG = 0, 1, 2

# nmap 7.93's short-option string for getopt: "x:" takes an argument,
# "x::" an optional one that must be attached.
SHORT_OPTIONS = "46Ab:D:d::e:Ffg:hIi:M:m:nO::o:P::p:qRrS:s::T:Vv::"

# nmap 7.93's long options, in its table order (the order of the
# "possibilities" in an ambiguity message).  The third field is the short
# option a long one stands for, where nmap maps it onto one.
LONG_OPTIONS: tuple[tuple[str, int, str | None], ...] = (
    ("version", NO_ARG, "V"),
    ("verbose", NO_ARG, "v"),
    ("datadir", REQUIRED_ARG, None),
    ("servicedb", REQUIRED_ARG, None),
    ("versiondb", REQUIRED_ARG, None),
    ("debug", OPTIONAL_ARG, "d"),
    ("help", NO_ARG, "h"),
    ("iflist", NO_ARG, None),
    ("release-memory", NO_ARG, None),
    ("nogcc", NO_ARG, None),
    ("max-os-tries", REQUIRED_ARG, None),
    ("max-parallelism", REQUIRED_ARG, "M"),
    ("min-parallelism", REQUIRED_ARG, None),
    ("timing", REQUIRED_ARG, "T"),
    ("max-rtt-timeout", REQUIRED_ARG, None),
    ("min-rtt-timeout", REQUIRED_ARG, None),
    ("initial-rtt-timeout", REQUIRED_ARG, None),
    ("excludefile", REQUIRED_ARG, None),
    ("exclude", REQUIRED_ARG, None),
    ("max-hostgroup", REQUIRED_ARG, None),
    ("min-hostgroup", REQUIRED_ARG, None),
    ("open", NO_ARG, None),
    ("scanflags", REQUIRED_ARG, None),
    ("defeat-rst-ratelimit", NO_ARG, None),
    ("defeat-icmp-ratelimit", NO_ARG, None),
    ("host-timeout", REQUIRED_ARG, None),
    ("scan-delay", REQUIRED_ARG, None),
    ("max-scan-delay", REQUIRED_ARG, None),
    ("max-retries", REQUIRED_ARG, None),
    ("oA", REQUIRED_ARG, None),
    ("oN", REQUIRED_ARG, None),
    ("oM", REQUIRED_ARG, None),
    ("oG", REQUIRED_ARG, None),
    ("oS", REQUIRED_ARG, None),
    ("oH", REQUIRED_ARG, None),
    ("oX", REQUIRED_ARG, None),
    ("iL", REQUIRED_ARG, None),
    ("iR", REQUIRED_ARG, None),
    ("sI", REQUIRED_ARG, None),
    ("source-port", REQUIRED_ARG, "g"),
    ("randomize-hosts", NO_ARG, None),
    ("nsock-engine", REQUIRED_ARG, None),
    ("proxies", REQUIRED_ARG, None),
    ("proxy", REQUIRED_ARG, None),
    ("discovery-ignore-rst", NO_ARG, None),
    ("osscan-limit", NO_ARG, None),
    ("osscan-guess", NO_ARG, None),
    ("fuzzy", NO_ARG, None),
    ("packet-trace", NO_ARG, None),
    ("version-trace", NO_ARG, None),
    ("data", REQUIRED_ARG, None),
    ("data-string", REQUIRED_ARG, None),
    ("data-length", REQUIRED_ARG, None),
    ("send-eth", NO_ARG, None),
    ("send-ip", NO_ARG, None),
    ("stylesheet", REQUIRED_ARG, None),
    ("no-stylesheet", NO_ARG, None),
    ("webxml", NO_ARG, None),
    ("rH", NO_ARG, None),
    ("vv", NO_ARG, None),
    ("ff", NO_ARG, None),
    ("privileged", NO_ARG, None),
    ("unprivileged", NO_ARG, None),
    ("mtu", REQUIRED_ARG, None),
    ("append-output", NO_ARG, None),
    ("noninteractive", NO_ARG, None),
    ("spoof-mac", REQUIRED_ARG, None),
    ("thc", NO_ARG, None),
    ("badsum", NO_ARG, None),
    ("ttl", REQUIRED_ARG, None),
    ("traceroute", NO_ARG, None),
    ("reason", NO_ARG, None),
    ("allports", NO_ARG, None),
    ("version-intensity", REQUIRED_ARG, None),
    ("version-light", NO_ARG, None),
    ("version-all", NO_ARG, None),
    ("system-dns", NO_ARG, None),
    ("resolve-all", NO_ARG, None),
    ("unique", NO_ARG, None),
    ("log-errors", NO_ARG, None),
    ("deprecated-xml-osclass", NO_ARG, None),
    ("yoloscan", NO_ARG, None),
    ("dns-servers", REQUIRED_ARG, None),
    ("port-ratio", REQUIRED_ARG, None),
    ("exclude-ports", REQUIRED_ARG, None),
    ("top-ports", REQUIRED_ARG, None),
    ("script", REQUIRED_ARG, None),
    ("script-trace", NO_ARG, None),
    ("script-updatedb", NO_ARG, None),
    ("script-args", REQUIRED_ARG, None),
    ("script-args-file", REQUIRED_ARG, None),
    ("script-help", REQUIRED_ARG, None),
    ("script-timeout", REQUIRED_ARG, None),
    ("ip-options", REQUIRED_ARG, None),
    ("min-rate", REQUIRED_ARG, None),
    ("max-rate", REQUIRED_ARG, None),
    ("adler32", NO_ARG, None),
    ("stats-every", REQUIRED_ARG, None),
    ("disable-arp-ping", NO_ARG, None),
    ("route-dst", REQUIRED_ARG, None),
    ("resume", REQUIRED_ARG, None),
)

# pynmap's own long options (JSON output).  They are matched only when spelled
# out in full: getopt's prefix matching of nmap's table above stays exactly
# nmap's (`--o` lists the same possibilities, `-j` is still unrecognized), so
# no abbreviation a script uses with nmap resolves differently.
PYNMAP_LONG_OPTIONS: tuple[tuple[str, int, str | None], ...] = (
    ("oJ", REQUIRED_ARG, None),
    ("json-lines", REQUIRED_ARG, None),
)

_LONG_BY_NAME = {name: (has_arg, short)
                 for name, has_arg, short in LONG_OPTIONS + PYNMAP_LONG_OPTIONS}


def _short_arg_kind(char: str) -> int | None:
    """NO_ARG/REQUIRED_ARG/OPTIONAL_ARG for a short option letter; None if unknown."""
    at = SHORT_OPTIONS.find(char)
    if at < 0 or char == ":":
        return None
    if SHORT_OPTIONS[at + 1 : at + 3] == "::":
        return OPTIONAL_ARG
    if SHORT_OPTIONS[at + 1 : at + 2] == ":":
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


class ArgvLexer:
    """Iterate over the options of an argument list the way getopt_long_only does.

    After iteration, `targets` holds the non-option words in order and
    `permuted()` the argument list as getopt leaves it (options first, then
    `--` if given, then the targets): nmap logs that order.
    """

    def __init__(self, argv: list[str]) -> None:
        self.prog = argv[0] if argv else "nmap"
        self.argv = list(argv)
        self.targets: list[str] = []
        self._option_words: list[str] = []
        self._double_dash = False

    def permuted(self) -> list[str]:
        middle = ["--"] if self._double_dash else []
        return [self.prog, *self._option_words, *middle, *self.targets]

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
            if len(word) > 2 or _short_arg_kind(word[1]) is None:
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
        if name in _LONG_BY_NAME:
            return name
        matches = [opt for opt, _, _ in LONG_OPTIONS if opt.startswith(name)]
        if len(matches) > 1:
            listed = " ".join(f"'{prefix}{m}'" for m in matches)
            raise self._error(f"option '{prefix}{body}' is ambiguous; possibilities: {listed}")
        if matches:
            return matches[0]
        # glibc falls back to the short options when the first character
        # stands anywhere in the option string, ':' included (which the short
        # parser then calls an invalid option)
        if prefix == "--" or body[:1] not in SHORT_OPTIONS:
            raise self._error(f"unrecognized option '{prefix}{body}'")
        return None

    def _long(self, i: int, body: str, prefix: str) -> tuple[Token, int]:
        name = self._lookup_long(body, prefix, self.argv[i])
        if name is None:  # only reachable for "--": _lookup_long raised otherwise
            raise self._error(f"unrecognized option '{prefix}{body}'")
        has_arg, short = _LONG_BY_NAME[name]
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
            kind = _short_arg_kind(char)
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
