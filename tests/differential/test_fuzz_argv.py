"""Bad input at scale: generated command lines, pynmap against the live nmap.

Each line is nmap's option vocabulary (pynmap's own table, pynmap.options)
mixed with garbage: random and non-UTF-8 bytes, over-long numbers, empty
words, odd dashes, abbreviations, attached and detached values.  For every
line pynmap must raise no Python exception, and must exit as nmap exits with
the same stderr (after the mask).  stdout is not compared: -h prints
pynmap's own help text.

Every line is safe to run, by three independent fences:
* each line starts with `-sL -n` (a list scan sends nothing), and
  `unsafe_reason` rejects anything that could turn it into a real scan or
  a reverse lookup, write a file outside the line's own scratch directory,
  or read stdin;
* both programs run in a namespace of the test's own whose only interface
  is `lo`, with stdin /dev/null (tests.support.fuzzdriver);
* as uid/gid nobody, in a scratch directory made for each line, so a file
  named by mistake cannot land anywhere that matters.

The lines are derandomized: CI runs the same 2000 every time.  Set
PYNMAP_FUZZ_EXAMPLES=20000 to run more by hand (PYNMAP_FUZZ_SEED=n for a
different, still reproducible, set).
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Iterator

import pytest
from hypothesis import HealthCheck, assume, example, given, seed, settings
from hypothesis import strategies as st

from pynmap.errors import UsageError
from pynmap.getopt import Lexer
from pynmap.options import GRAMMAR, LONG_OPTIONS, SHORT_OPTIONS
from tests.support.compare import first_difference
from tests.support.fuzzdriver import FuzzDriver
from tests.support.mask import mask
from tests.support.netns import Netns

pytestmark = pytest.mark.nmap

EXAMPLES = int(os.environ.get("PYNMAP_FUZZ_EXAMPLES", "2000"))
SEED = int(os.environ.get("PYNMAP_FUZZ_SEED", "0"))
# nmap's exit statuses: success, a fatal error, a getopt error or the usage screen
NMAP_EXITS = {0, 1, 255}

# Files in each line's scratch directory (the same for both programs)
FILES = {
    "targets.txt": "127.0.0.1\n10.0.0.1-2 # a comment\nfoo.invalid\n::1\n",
    "excl.txt": "127.0.0.1\n",
    "empty.txt": "",
    "bad.txt": "127.0.0.1/99\n",
}

# -- safety --------------------------------------------------------------------------------

# Options that open a file for writing, and the ones that read a named file
WRITES = {"o", "m", "oA", "oN", "oM", "oG", "oS", "oX", "oH"}
READS_STDIN = {"i", "iL", "excludefile"}
# -R (reverse-resolve every target) sends DNS queries even in a list scan
FORBIDDEN = {"R"}
# Deliberate differences (README "Supported options"): pynmap refuses these
# with "pynmap does not support ...", nmap runs NSE for --script (whose
# errors come from its Lua engine), and --privileged makes nmap act as root
# (raw scans, SYN by default, root's checks), which pynmap never is.  -b is
# compared: after -sL it is always refused ("-sL and -sn ... not valid with
# any other scan types") before its relay is even resolved.
DELIBERATE = {"iR", "iflist", "route-dst", "script-help", "script-updatedb", "script",
              "privileged"}
# pynmap's own notes on what it accepts but does not perform (-sV, -sC, -A,
# --proxies): deliberate, left out of the comparison
PYNMAP_ONLY = re.compile(r"^Warning: pynmap does not (?:perform|run) .*\n", re.MULTILINE)
# scan letters that select a scan (nmap's -s); L and n skip the port scan
SCAN_LETTERS = set("ABCFLMNOPRSTUVWXYZn")
SKIPPING_SCANS = set("Ln")


def unsafe_reason(argv: list[str]) -> str | None:
    """Why the line (without the program name) must not run, or None.

    The line is read with getopt's rules up to its first getopt error (where
    nmap stops too).
    """
    if argv[:2] != ["-sL", "-n"]:
        return "does not start with -sL -n"
    lexer = Lexer(["pynmap", *argv], GRAMMAR)
    try:
        for token in lexer:
            name, value = token.name, token.value or ""
            if name in FORBIDDEN:
                return f"-{name} would send packets"
            if name in DELIBERATE:
                return f"-{name}: a deliberate difference"
            if name in WRITES and ("/" in value or value.startswith(".")):
                return f"-{name} {value!r} could write outside the scratch directory"
            if name in READS_STDIN and value in ("-", "/dev/stdin", "/proc/self/fd/0"):
                return f"-{name} {value!r} reads stdin"
            if name == "s":
                letters = set(value)
                # a value with a letter nmap does not know is refused whole
                if letters - SKIPPING_SCANS and letters <= SCAN_LETTERS:
                    return f"-s{value} selects a port scan"
    except UsageError:
        pass
    return None


def test_unsafe_lines_are_refused() -> None:
    """The first fence, on lines that would do harm if they ran."""
    harmful = [
        ["-sT", "127.0.0.1"],
        ["-n", "127.0.0.1"],
        ["-sL", "-n", "-sT"],
        ["-sL", "-n", "-sLT"],
        ["-sL", "-n", "-sS"],
        ["-sL", "-n", "-R"],
        ["-sL", "-n", "-nR"],
        ["-sL", "-n", "-oN", "/etc/passwd"],
        ["-sL", "-n", "-oN/tmp/x"],
        ["-sL", "-n", "--oX=../x"],
        ["-sL", "-n", "-oA", "/dev/null"],
        ["-sL", "-n", "-nroG/x"],
        ["-sL", "-n", "-m", "/x"],
        ["-sL", "-n", "-oNormal/x"],
        ["-sL", "-n", "-iL", "-"],
        ["-sL", "-n", "-i", "-"],
        ["-sL", "-n", "--excludefile=/dev/stdin"],
        ["-sL", "-n", "--ifl"],
        ["-sL", "-n", "-iR", "3"],
    ]
    for argv in harmful:
        assert unsafe_reason(argv) is not None, argv
    for argv in (["-sL", "-n", "-sQ"], ["-sL", "-n", "-sn", "-oN", "out"], ["-sL", "-n", "--x"]):
        assert unsafe_reason(argv) is None, argv


def test_driver_refuses_a_namespace_with_a_way_out(nmap_oracle: str) -> None:
    """The last fence: the driver runs nothing where an interface besides lo exists
    (here the test's own namespace, whatever it has, stands in for a leaky one)."""
    import socket

    if sorted(name for _, name in socket.if_nameindex()) == ["lo"]:
        pytest.skip("the test itself runs where only lo exists")
    driver = FuzzDriver(Netns("host"), FILES, exec_prefix=[])
    try:
        with pytest.raises(RuntimeError, match="driver died"):
            driver.run(["-sL", "-n", "127.0.0.1"])
    finally:
        driver.close()


# -- generation ----------------------------------------------------------------------------

DASHES = ["-", "--", "---", "\u2010", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d",
          "\udc96", "\udc97", "\udce2\udc80\udc93"]
NUMBERS = ["0", "1", "-1", "2", "5", "10", "900", "1000", "1.5", "0.5", "1e3", "-0", "+3",
           " 7", "7 ", "0x1f", "010", "2147483648", "4294967296", "4294967297", "-2147483649",
           "18446744073709551617", "9" * 40, "1" + "0" * 400, "1e309", "nan", "inf", "1,2",
           "", "abc", "5x"]
TIMES = ["1ms", "5ms", "10ms", "1s", "2m", "1h", "1d", "0", "60", "200", "20000", "1.5s",
         "-1", "ms", "1 ms", "0.001", "99999999999h", "1e10s", "5x", ""]
PORT_SPECS = ["22", "1-100", "T:22,U:53", "-", "-100", "60000-", "[1-5]", "[-]", "ssh",
              "http*", "*", "s*", "", ",", "1-2-3", "65536", "22x", "X:22", "T:", "]",
              "[[1-5]]", "0", "22,22", "ssh ,http", "U:53", "S:22", "22-x", "100-1", "ssh-",
              "99999999999999999999", "T:-", "1-65535"]
TIMING = ["0", "5", "6", "insane", "Paranoid", "normal", "AGGRESSIVE", "foo", "", "-1", "3.5"]
OUT_NAMES = ["out", "o.xml", "-", "", "-foo", "a b", "x&<>'\".xml", "%D-%T", "%", "\u00e9.nmap",
             "\udce9", "a\tb", "~"]
IN_FILES = ["targets.txt", "excl.txt", "empty.txt", "bad.txt", "missing.txt", "", ".",
            "/nonexistent", "-x", "\udce9"]
TARGETS = ["127.0.0.1", "127.0.0.1-3", "10.0.0.0/30", "192.168.1.1,3", "::1", "localhost",
           "fe80::1%lo", "127.1", "0x7f.1", "256.1.1.1", "1.2.3.4/33", "foo.invalid", "a..b",
           "127.0.0.1/x", "[::1]", "1.2.3.4-", "4294967297", "999999999999999999999.1.1.1",
           "\u00e9.com", "\udce9", "", " ", "a\tb", "<a>&'\"", "::1/126", "127.0.0.1/31",
           "-", "127.0.0.-1", "1.2.3.4,", "0", "255.255.255.255/32"]

VALUES: dict[str, list[str]] = {
    "p": PORT_SPECS, "exclude-ports": PORT_SPECS,
    "T": TIMING, "timing": TIMING,
    "port-ratio": ["0", "0.5", "0.99", "1", "1.5", "-0.1", "abc", "1e-9", ""],
    "exclude": TARGETS, "dns-servers": ["127.0.0.53", "127.0.0.1,x", "", ",", "::1"],
    "s": ["L", "n", "", "Q", "P", "LQ", "nq", "Lx", "\udce9"],
    "P": ["n", "S22", "A", "E", "U", "Y", "O", "R", "X", "S", "Sabc", "B80", "T", "I", "M",
          "P", "S-", "A1-3,ssh", "N", "0", "D", "U53", "O1,2", "Y1", "S99999", ""],
    "v": ["", "0", "1", "3", "x", "v", "vv", "10", "-1", "99999999999"],
    "d": ["", "0", "1", "3", "x", "d", "9", "10", "99999999999", "1x"],
    "O": ["", "1", "2", "x"],
    "e": ["lo", "eth0", "", "x" * 40],
    "S": ["127.0.0.1", "x", ""],
    "D": ["RND:3", "127.0.0.1,ME", "ME", "", "RND:x"],
    "spoof-mac": ["0", "Apple", "00:11:22:33:44:55", "zz", ""],
    "data": ["0xdeadbeef", "zz", "", "\\x01"], "data-string": ["x", ""],
    "ip-options": ["R", "\\x01", " ", "S 127.0.0.1", "U"],
    "proxies": ["http://127.0.0.1:8080", "x", ""], "proxy": ["x"],
    "stylesheet": ["x.xsl", "http://a/<&>\"'", ""],
    "nsock-engine": ["epoll", "poll", "select", "kqueue", ""],
    "scanflags": ["SYN", "URGACKPSHRSTSYNFIN", "x", "0x12", "999"],
    "sI": ["zombie", "a" * 300, ""],
    "source-port": NUMBERS, "g": NUMBERS,
}
FILE_OPTIONS = {"iL", "i", "excludefile", "servicedb", "versiondb", "datadir", "resume"}
TIME_OPTIONS = {"host-timeout", "scan-delay", "max-scan-delay", "max-rtt-timeout",
                "min-rtt-timeout", "initial-rtt-timeout", "stats-every", "script-timeout"}

garbage_chars = st.characters(codec="utf-8", exclude_characters="\x00/*")
raw_bytes = st.binary(max_size=8).filter(lambda b: b"\x00" not in b and b"/" not in b
                                         ).map(lambda b: b.decode("utf-8", "surrogateescape"))
garbage = st.one_of(
    st.text(garbage_chars, max_size=10),
    st.text(st.sampled_from("0123456789.-,:%[]eEx "), max_size=24),
    raw_bytes,
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
)


def _values_for(name: str) -> st.SearchStrategy[str]:
    if name in VALUES:
        known = VALUES[name]
    elif name in WRITES:
        known = OUT_NAMES
    elif name in FILE_OPTIONS:
        known = IN_FILES
    elif name in TIME_OPTIONS:
        known = TIMES + NUMBERS
    else:
        known = NUMBERS
    return st.one_of(st.sampled_from(known), garbage)


SHORT = [c for c in SHORT_OPTIONS if c != ":"]


def _short_kind(letter: str) -> str:
    at = SHORT_OPTIONS.index(letter)
    tail = SHORT_OPTIONS[at + 1 : at + 3]
    return "optional" if tail == "::" else "required" if tail[:1] == ":" else "none"


@st.composite
def short_item(draw: st.DrawFn) -> list[str]:
    letter = draw(st.sampled_from(SHORT))
    kind = _short_kind(letter)
    if kind == "none":  # possibly a cluster: -nvF
        more = draw(st.lists(st.sampled_from(SHORT), max_size=2))
        return ["-" + letter + "".join(more)]
    value = draw(_values_for(letter))
    if kind == "optional" or draw(st.booleans()):
        return ["-" + letter + value]
    return ["-" + letter, value]


@st.composite
def long_item(draw: st.DrawFn) -> list[str]:
    name, has_arg, _ = draw(st.sampled_from(LONG_OPTIONS))
    dash = draw(st.sampled_from(["--", "-"]))
    # sometimes an abbreviation (perhaps an ambiguous one)
    spelled = name[: draw(st.integers(1, len(name)))] if draw(st.integers(0, 4)) == 0 else name
    if has_arg == 0:
        if draw(st.integers(0, 9)) == 0:
            return [f"{dash}{spelled}={draw(garbage)}"]
        return [dash + spelled]
    value = draw(_values_for(name))
    if draw(st.booleans()):
        return [f"{dash}{spelled}={value}"]
    return [dash + spelled, value]


@st.composite
def odd_item(draw: st.DrawFn) -> list[str]:
    """A word nmap's grammar does not expect: odd dashes, unknown options, bare garbage."""
    dash = draw(st.sampled_from(DASHES))
    body = draw(st.one_of(st.sampled_from(["p", "sT", "v", "oN", "", "=", "-"]), garbage))
    return [dash + body]


def _expands_widely(word: str) -> bool:
    """A target word that could name many addresses (a list scan would print them all)."""
    return word.count(".") >= 3 and bool(re.search(r"[-,]", word))


item = st.one_of(
    short_item(), long_item(), long_item(), odd_item(),
    st.sampled_from(TARGETS).map(lambda t: [t]),
    garbage.filter(lambda w: not _expands_widely(w)).map(lambda w: [w]),
)


@st.composite
def command_line(draw: st.DrawFn) -> list[str]:
    words = ["-sL", "-n"]
    for part in draw(st.lists(item, max_size=6)):
        words.extend(part)
    if draw(st.integers(0, 9)) == 0:  # an option left without its value at the end
        words.append(draw(st.sampled_from(["-p", "-oN", "--top-ports", "-iL", "-T", "--exclude"])))
    reason = unsafe_reason(words)
    assume(reason is None)
    return words


# -- the test ------------------------------------------------------------------------------

def _tokens(argv: list[str]) -> list[tuple[str, str | None]]:
    lexer = Lexer(["pynmap", *argv], GRAMMAR)
    found: list[tuple[str, str | None]] = []
    with contextlib.suppress(UsageError):  # the tokens before a getopt error
        for token in lexer:
            found.append((token.name, token.value))
    return found


# Mismatches too deep to fix, each with its reason (the lead has the list).
# A line one of these matches is only checked for tracebacks and exit codes.
KNOWN_DIFFERENCES: list[tuple[Callable[[list[tuple[str, str | None]]], bool], str]] = [
    # `-o ""`: nmap's test of the first letter finds the string's terminating
    # NUL in "NAXGS" and prints "Did you mean: -o\0 " followed by whatever
    # lies in memory after the empty argument (the next argument, or the
    # first environment string): a read past the value, not reproduced.
    (lambda tokens: ("o", "") in tokens, "-o with an empty file name"),
    # --spoof-mac: nmap takes a value that is not hex digits for a vendor name
    # and looks it up in nmap-mac-prefixes, which pynmap does not ship; its
    # verdict and message cannot be reproduced without that file.
    (lambda tokens: any(name == "spoof-mac" for name, _ in tokens), "--spoof-mac vendors"),
    # -A and -sC start nmap's script engine even in a list scan; from -d4 on it
    # logs nsock's lines (NSE is a deliberate absence in pynmap, see README).
    (lambda tokens: any(name == "d" for name, _ in tokens) and any(
        name == "A" or (name == "s" and "C" in (value or "")) for name, value in tokens),
     "NSE's debug lines"),
]


def known_difference(argv: list[str]) -> str | None:
    tokens = _tokens(argv)
    return next((reason for matches, reason in KNOWN_DIFFERENCES if matches(tokens)), None)


@pytest.fixture(scope="module")
def driver(netns: Netns, nmap_oracle: str) -> Iterator[FuzzDriver]:
    fuzz = FuzzDriver(netns, FILES)
    yield fuzz
    fuzz.close()


def _show(argv: list[str]) -> str:
    return " ".join(repr(word) for word in argv)


# Lines the fuzz found wrong once, run every time whatever the seed
FOUND = [
    ["-sL", "-n", "--ip-options", "R x"],  # nmap parses IP options as it reads them
    ["-sL", "-n", "--ip-options", "\\x01*3"],
    ["-sL", "-n", "--proxies", "x,y"],  # and proxy chains
    ["-sL", "-n", "--proxies", "http://foo.invalid:80"],
    ["-sL", "-n", "-D", "foo.invalid"],  # and resolves decoys
    ["-sL", "-n", "-s\u00e9"],  # a scan type is named by its first byte
    ["-sL", "-n", "-e", "", "127.0.0.1"],  # an empty -e names no device
    ["-sL", "-n", "-M", "99999"],  # more sockets than the hard limit gives
    ["-sL", "-n", "--top-ports", "inf"],  # was a Python OverflowError
    ["-sL", "-n", "--top-ports", "4294967297", "--x"],  # (int) cast fails: at parse time
    ["-sL", "-n", "-S", "Tc\u0094\u00f5\u00f4\u00e5"],  # was an IDNA UnicodeError
    ["-sL", "-n", "--data=", "--x"],  # an empty hex string is refused at once
    ["-sL", "-n", "-:", "-p"],  # ':' is in getopt's option string: an invalid short option
    ["-sL", "-n", "-;", "127.0.0.1"],  # ';' is not: an unrecognized long one
]


def _with_found(test: Callable[..., None]) -> Callable[..., None]:
    for argv in FOUND:
        test = example(argv=argv)(test)
    return test


@_with_found
@seed(SEED)
@settings(max_examples=EXAMPLES, derandomize=SEED == 0, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                 HealthCheck.function_scoped_fixture, HealthCheck.data_too_large])
@given(argv=command_line())
def test_fuzzed_command_lines_match_nmap(driver: FuzzDriver, argv: list[str]) -> None:
    outcome = driver.run(argv)
    shown = _show(argv)
    assert outcome.traceback is None, f"pynmap {shown}\n{outcome.traceback}"
    assert outcome.nmap is not None, f"harness: nmap timed out on {shown}"
    nmap, pynmap = outcome.nmap, outcome.pynmap
    assert nmap.exit in NMAP_EXITS, f"harness: nmap exit {nmap.exit} on {shown}\n{nmap.stderr}"
    assert pynmap.exit in NMAP_EXITS, f"pynmap {shown}: exit {pynmap.exit}\n{pynmap.stderr}"
    if known_difference(argv):
        return
    assert pynmap.exit == nmap.exit, (
        f"pynmap {shown}: exit nmap {nmap.exit}, pynmap {pynmap.exit}\n"
        f"nmap:   {nmap.stderr!r}\npynmap: {pynmap.stderr!r}")
    want, got = mask(nmap.stderr), mask(PYNMAP_ONLY.sub("", pynmap.stderr))
    assert want == got, f"pynmap {shown}: stderr {first_difference(want, got)}"
