"""nmap-service-probes: the probe database of version detection (-sV), parsed.

The file (data/nmap-service-probes, format described in the Nmap book,
"nmap-service-probes File Format") is a list of `Probe` sections, each with
its payload, the ports it is likely to answer on, its rarity, its waits, its
fallbacks and its `match`/`softmatch` lines; an optional `Exclude` line
comes first.  This module is sans-I/O apart from reading the file: it turns
the text into frozen objects, and answers the pure questions the service
scan will ask (which probe next, what a match says).

Parsing follows nmap's own reader line by line, so that a malformed file
fails with nmap's fatal() text and line number.  The patterns are PCRE;
Python's `re` on bytes reads nearly all of them as they are, and
`translate_pcre` rewrites the few constructs whose meaning differs.  They
are compiled one by one when first needed (`Probe.search`): the 11,900
patterns take about a second and a half to compile, which a run must not
pay, least of all inside the service scan's I/O loop.  Before compiling a
pattern, `Probe.search` checks that the response holds the literal text the
pattern cannot match without (`literal_needs`: "^SSH-" of an SSH match,
"Server: nginx" of an nginx one); a response usually leaves a few dozen of
a probe's thousands of patterns to compile and search.
"""

from __future__ import annotations

import contextlib
import copy
import importlib
import marshal
import os
import re
import stat
import sys
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, cast

from pynmap.cnumbers import atoi
from pynmap.errors import Fatal, SystemFatal
from pynmap.services import DataFiles, cache_dir

PROBES_FILE = "nmap-service-probes"

# Defaults of a Probe section without the directive (nmap's service_scan.h).
DEFAULT_TOTALWAITMS = 5000
DEFAULT_TCPWRAPPEDMS = 2000
DEFAULT_RARITY = 5
# nmap 7.93's fgets() buffer.
_LINE_BUFFER = 2048
MAXFALLBACKS = 20

# --version-intensity levels of the shorthands, and the default.
INTENSITY_DEFAULT = 7
INTENSITY_LIGHT = 2
INTENSITY_ALL = 9

# nmap's result buffers (portlist.h): a substituted field must fit, with its NUL.
SERVICE_FIELD_LEN = 80
SERVICE_EXTRA_LEN = 256
SERVICE_TYPE_LEN = 32

_SPACE = b" \t\n\v\f\r"  # C isspace()


class ProbeFileError(Fatal):
    """A malformed nmap-service-probes: nmap's fatal() text for it."""


def _fatal(text: str) -> ProbeFileError:
    return ProbeFileError(text)


@dataclass(frozen=True, slots=True)
class Match:
    """One `match` or `softmatch` line.

    `pattern` is the PCRE source as written; `product` .. `devicetype` are the
    version templates (None when the line has none), `cpe` the `cpe:/...`
    templates in their order (each without its closing delimiter, as nmap
    keeps them).
    """

    soft: bool
    service: str
    pattern: bytes
    ignorecase: bool = False
    dotall: bool = False
    product: bytes | None = None
    version: bytes | None = None
    info: bytes | None = None
    hostname: bytes | None = None
    ostype: bytes | None = None
    devicetype: bytes | None = None
    cpe: tuple[bytes, ...] = ()
    line: int = 0

    def compile(self) -> re.Pattern[bytes]:
        flags = (re.IGNORECASE if self.ignorecase else 0) | (re.DOTALL if self.dotall else 0)
        return re.compile(translate_pcre(self.pattern), flags)

    def needs(self) -> Needs:
        """The literal text any response this line matches must hold (see `literal_needs`)."""
        return literal_needs(translate_pcre(self.pattern), ignorecase=self.ignorecase)


@dataclass(frozen=True, slots=True)
class Probe:
    """One `Probe` section.  `payload` is the unescaped probe string; the NULL
    probe is the one whose payload is empty."""

    protocol: str  # "TCP" or "UDP"
    name: str
    payload: bytes
    line: int
    options: bytes = b""  # what follows the payload's delimiter (e.g. no-payload)
    ports: frozenset[int] = frozenset()
    sslports: frozenset[int] = frozenset()
    totalwaitms: int = DEFAULT_TOTALWAITMS
    tcpwrappedms: int = DEFAULT_TCPWRAPPEDMS
    rarity: int = DEFAULT_RARITY
    fallback: bytes | None = None  # the directive's text, resolved by ProbeDB
    matches: tuple[Match, ...] = ()
    # The compiled patterns, each filled on first use (not part of the value),
    # and what each needs of a response (literal_needs), likewise.
    _compiled: list[re.Pattern[bytes] | None] = field(
        default_factory=list, compare=False, repr=False, hash=False)
    _needs: list[Needs | None] = field(
        default_factory=list, compare=False, repr=False, hash=False)

    @property
    def is_null(self) -> bool:
        return not self.payload

    @property
    def services(self) -> frozenset[str]:
        """The service names its matches can name (nmap's serviceIsPossible)."""
        return frozenset(m.service for m in self.matches)

    def compiled(self) -> Sequence[re.Pattern[bytes]]:
        """The matches' patterns, all compiled (in match order)."""
        for i in range(len(self.matches)):
            self.pattern(i)
        return cast("list[re.Pattern[bytes]]", self._compiled)

    def pattern(self, index: int) -> re.Pattern[bytes]:
        """The pattern of match `index`, compiled on first use: a response that
        matches early in a probe's thousands of matches compiles no more."""
        if len(self._compiled) != len(self.matches):
            self._compiled[:] = [None] * len(self.matches)
        got = self._compiled[index]
        if got is None:
            got = self._compiled[index] = self.matches[index].compile()
        return got

    def search(self, index: int, data: bytes, folded: bytes) -> re.Match[bytes] | None:
        """Match `index`'s pattern searched in `data` (`folded` is data.lower()).

        A pattern whose literal text is not in the data cannot match it: it is
        not searched, nor compiled.  A response typically leaves a few dozen
        of a probe's thousands of patterns to compile (a tenth of a millisecond
        each), where compiling them all would hold the I/O loop for most of a
        second while other probes' connections and timers wait on it."""
        if not self.needs_of(index).admits(data, folded):
            return None
        return self.pattern(index).search(data)

    def needs_of(self, index: int) -> Needs:
        """Match `index`'s literal needs, worked out on first use."""
        if len(self._needs) != len(self.matches):
            self._needs[:] = [None] * len(self.matches)
        needs = self._needs[index]
        if needs is None:
            needs = self._needs[index] = self.matches[index].needs()
        return needs

    def port_is_probable(self, port: int, ssl: bool = False) -> bool:
        return port in (self.sslports if ssl else self.ports)


@dataclass(frozen=True, slots=True)
class ProbeDB:
    """The whole file: the NULL probe, the others in file order, the Exclude set."""

    null_probe: Probe | None
    probes: tuple[Probe, ...]
    excluded: frozenset[tuple[str, int]] = frozenset()  # ("TCP"|"UDP"|"SCTP", port)
    has_exclude: bool = False
    # probe name -> the fallback probes in order (itself first; NULL last for TCP)
    fallbacks: dict[tuple[str, str], tuple[Probe, ...]] = field(
        default_factory=dict, compare=False, repr=False, hash=False)

    def probe_by_name(self, name: str, protocol: str) -> Probe | None:
        """nmap's getProbeByName(): the NULL probe (TCP only), a probe of that
        protocol, else one of that name of any protocol."""
        null = self.null_probe
        if protocol == "TCP" and null is not None and null.name == name:
            return null
        named = [p for p in self.probes if p.name == name]
        same = [p for p in named if p.protocol == protocol]
        found = same or named
        return found[0] if found else None

    def is_excluded(self, port: int, protocol: str = "TCP") -> bool:
        return (protocol, port) in self.excluded


# --- reading the file ------------------------------------------------------------------------

def cstring_unescape(raw: bytes) -> bytes | None:
    r"""A probe string's escapes, as nmap takes them: \\ \0 \n \r \t \xHH only (None if bad)."""
    out = bytearray()
    i, n = 0, len(raw)
    simple = {ord("\\"): 0x5C, ord("0"): 0, ord("n"): 10, ord("r"): 13, ord("t"): 9}
    while i < n:
        c = raw[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        i += 1
        e = raw[i] if i < n else 0
        if e in simple:
            out.append(simple[e])
            i += 1
        elif e == ord("x"):
            digits = raw[i + 1:i + 3]
            if len(digits) != 2 or not all(chr(d) in "0123456789abcdefABCDEF" for d in digits):
                return None
            out.append(int(digits, 16))
            i += 3
        else:
            return None
    return bytes(out)


def _strtol(text: bytes) -> int:
    """C strtol(s, NULL, 10): leading space, a sign, digits; 0 when none (a value past
    a long's range is out of every range checked here, as LONG_MAX is)."""
    m = re.match(rb"[ \t\n\v\f\r]*([+-]?[0-9]+)", text)
    return int(m.group(1)) if m else 0


def _port_vector(text: bytes, line: int) -> frozenset[int]:
    """A `ports`/`sslports` list ("21-25,53,80"), checked as nmap checks it."""
    bad_form = f'Parse error on line {line} of nmap-service-probes: An example of proper ' \
        'portlist form is "21-25,53,80"'
    out_of_range = f"Parse error on line {line} of nmap-service-probes: Ports must be " \
        "between 0 and 65535 inclusive"
    ports: set[int] = set()
    i, n = 0, len(text)
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        m = re.compile(rb"[0-9]+").match(text, i)
        if not m:
            raise _fatal(bad_form)
        start = int(m.group())
        if start > 65535:
            raise _fatal(out_of_range)
        i = m.end()
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n or text[i] == ord(","):
            end = start
        elif text[i] == ord("-"):
            m = re.compile(rb"[0-9]+").match(text, i + 1)
            if not m:
                raise _fatal(bad_form)
            end = int(m.group())
            if end > 65535 or end < start:
                raise _fatal(out_of_range)
            i = m.end()
        else:
            raise _fatal(bad_form)
        ports.update(range(start, end + 1))
        while i < n and text[i] in _SPACE:
            i += 1
        if i < n and text[i] != ord(","):
            raise _fatal(bad_form)
        if i < n:
            i += 1
        if i >= n:
            return frozenset(ports)


def _next_template(text: bytes, pos: int, line: int) -> tuple[str, bytes, bytes, int] | None:
    """nmap 7.93's next_template(): (mode, template, flags, position after) or None at the end.

    A template is a run of letters and colons (`m`, `p`, `cpe:`), any
    delimiter, the text, the same delimiter again and the flag letters.
    """
    n = len(text)
    while pos < n and text[pos] in _SPACE:
        pos += 1
    if pos >= n or text[pos] == 0:
        return None
    q = pos
    while q < n and (_is_alpha(text[q]) or text[q] == ord(":")):
        q += 1
    if q >= n or text[q] == 0 or text[q] in _SPACE:
        raise _fatal(f"next_template: parse error on line {line} of nmap-service-probes")
    mode = text[pos:q].decode("latin-1")
    end = text.find(text[q:q + 1], q + 1)
    if end < 0:
        raise _fatal(f"next_template: parse error on line {line} of nmap-service-probes")
    template = text[q + 1:end]
    p = q = end + 1
    while q < n and _is_alpha(text[q]):
        q += 1
    return mode, template, text[p:q], q


def _is_alpha(c: int) -> bool:
    return 0x41 <= c <= 0x5A or 0x61 <= c <= 0x7A


_TEMPLATE_FIELDS = {"p": "product", "v": "version", "i": "info", "h": "hostname",
                    "o": "ostype", "d": "devicetype"}


def parse_match(text: bytes, line: int) -> Match:
    """A whole `match`/`softmatch` line (with its newline), as nmap's InitMatch reads it."""
    who = "InitMatch"
    text = text.lstrip(_SPACE)
    if text.startswith(b"softmatch "):
        soft, rest = True, text[10:]
    elif text.startswith(b"match "):
        soft, rest = False, text[6:]
    else:
        raise _fatal(f'{who}: parse error on line {line} of nmap-service-probes - must begin '
                     'with "match" or "softmatch"')
    space = rest.find(b" ")
    if space < 0:
        raise _fatal(f"{who}: parse error on line {line} of nmap-service-probes: could not find "
                     "service name")
    service = rest[:space].decode("latin-1")
    first = _next_template(rest, space, line)
    if first is None:
        raise _fatal(f"{who}: parse error on line {line} of nmap-service-probes")
    mode, pattern, flags, pos = first
    if mode != "m":
        raise _fatal(f"{who}: parse error on line {line} of nmap-service-probes: matchtext "
                     "must begin with 'm'")
    if any(f not in b"is" for f in flags):
        raise _fatal(f"{who}: illegal regexp option on line {line} of nmap-service-probes")
    fields: dict[str, bytes] = {}
    cpe: list[bytes] = []
    while (nxt := _next_template(rest, pos, line)) is not None:
        mode, template, _flags, pos = nxt
        if mode in _TEMPLATE_FIELDS:
            fields[_TEMPLATE_FIELDS[mode]] = template  # a repeated one replaces the first
        elif mode == "cpe:":
            cpe.append(b"cpe:/" + template)  # nmap keeps the prefix, whatever the delimiter
        else:
            raise _fatal(f"{who}: Unknown template specifier '{mode}' on line {line} of "
                         "nmap-service-probes")
    return Match(soft=soft, service=service, pattern=pattern, ignorecase=ord("i") in flags,
                 dotall=ord("s") in flags, cpe=tuple(cpe), line=line,
                 **fields)


def _probe_head(text: bytes, line: int) -> tuple[str, str, bytes, bytes]:
    """The rest of a `Probe ` line: protocol, name, unescaped payload, options."""
    if not text:
        raise _fatal(f"Parse error on line {line} of nmap-service-probes: no arguments found!")
    if text.startswith(b"TCP "):
        protocol = "TCP"
    elif text.startswith(b"UDP "):
        protocol = "UDP"
    else:
        raise _fatal(f"Parse error on line {line} of nmap-service-probes: invalid protocol")
    text = text[4:]
    if not text or not (chr(text[0]).isascii() and chr(text[0]).isalnum()):
        raise _fatal(f"Parse error on line {line} of nmap-service-probes - bad probe name")
    space = text.find(b" ")
    if space < 0:
        raise _fatal(f"Parse error on line {line} of nmap-service-probes - nothing after "
                     "probe name")
    name = text[:space].decode("latin-1")
    rest = text[space + 1:]
    if not rest.startswith(b"q"):
        raise _fatal(f"Parse error on line {line} of nmap-service-probes - probe string must "
                     "begin with 'q'")
    delim = rest[1:2]
    end = rest.find(delim, 2) if delim else -1
    if end < 0:
        raise _fatal(f"Parse error on line {line} of nmap-service-probes -- no ending "
                     "delimiter for probe string")
    payload = cstring_unescape(rest[2:end])
    if payload is None:
        raise _fatal(f"Parse error on line {line} of nmap-service-probes: bad probe string "
                     "escaping")
    return protocol, name, payload, rest[end + 1:].strip(_SPACE)


def _lines(data: bytes) -> Iterator[tuple[int, bytes]]:
    """fgets() lines (newline kept), numbered from 1.

    nmap 7.93 reads into a 2048-byte buffer, so a longer line arrives as
    several pieces, each counted as a line (the rest then rarely parses).
    """
    start, number = 0, 0
    while start < len(data):
        end = data.find(b"\n", start)
        end = len(data) if end < 0 else end + 1
        end = min(end, start + _LINE_BUFFER - 1)
        number += 1
        yield number, data[start:end]
        start = end


def _exclude_ports(spec: bytes) -> frozenset[tuple[str, int]]:
    """The Exclude line's port list (T:/U:/S: prefixes; bare ports are TCP and UDP)."""
    out: set[tuple[str, int]] = set()
    protocols: tuple[str, ...] = ("TCP", "UDP")
    for part in spec.decode("latin-1").strip().split(","):
        part = part.strip()
        if not part:
            continue
        if len(part) > 1 and part[1] == ":" and part[0] in "TUS":
            protocols = ({"T": "TCP", "U": "UDP", "S": "SCTP"}[part[0]],)
            part = part[2:]
        lo, _, hi = part.partition("-")
        first = int(lo) if lo else 1
        last = int(hi) if hi else (65535 if "-" in part else first)
        for proto in protocols:
            out.update((proto, port) for port in range(first, last + 1))
    return frozenset(out)


@dataclass
class _Section:
    """A Probe section being read."""

    protocol: str
    name: str
    payload: bytes
    line: int
    options: bytes
    directives: dict[str, object] = field(default_factory=dict)
    matches: list[Match] = field(default_factory=list)

    def freeze(self) -> Probe:
        return Probe(self.protocol, self.name, self.payload, self.line, self.options,
                     matches=tuple(self.matches), **self.directives)  # type: ignore[arg-type]


def parse_probes(data: bytes, filename: str = PROBES_FILE) -> ProbeDB:
    """The probe database in `data` (a file's bytes); ProbeFileError as nmap's fatal() when bad."""
    sections: list[_Section] = []
    excluded: frozenset[tuple[str, int]] = frozenset()
    has_exclude = False
    current: _Section | None = None
    for number, text in _lines(data):
        if text.startswith((b"\n", b"#")):
            continue
        if current is None:
            if text.startswith(b"Exclude "):
                if has_exclude:
                    raise _fatal("Only 1 Exclude directive is allowed in the "
                                 "nmap-service-probes file")
                excluded, has_exclude = _exclude_ports(text[8:]), True
                continue
            if not text.startswith(b"Probe "):
                raise _fatal(f"Parse error on line {number} of nmap-service-probes file: "
                             f'{filename} -- line was expected to begin with "Probe " or '
                             '"Exclude "')
        if text.startswith(b"Probe "):
            protocol, name, payload, options = _probe_head(text[6:], number)
            current = _Section(protocol, name, payload, number, options)
            sections.append(current)
            continue
        assert current is not None  # a line before the first Probe was refused above
        if text.startswith(b"ports "):
            current.directives["ports"] = _port_vector(text[6:], number)
        elif text.startswith(b"sslports "):
            current.directives["sslports"] = _port_vector(text[9:], number)
        elif text.startswith(b"rarity "):
            rarity = atoi(text[7:].decode("latin-1"))  # a C int: 4294967297 is 1
            if not 1 <= rarity <= 9:
                raise _fatal(f"setRarity: Rarity directive on line {number} of "
                             "nmap-service-probes must be between 1 and 9")
            current.directives["rarity"] = rarity
        elif text.startswith(b"fallback "):
            current.directives["fallback"] = text[9:]
        elif text.startswith((b"totalwaitms ", b"tcpwrappedms ")):
            name = text.split(b" ", 1)[0].decode()
            waitms = _strtol(text[len(name) + 1:])
            if not 100 <= waitms <= 300000:
                raise _fatal(f"Error on line {number} of nmap-service-probes file ({filename}): "
                             f"bad {name} value.  Must be between 100 and 300000 milliseconds")
            current.directives[name] = waitms
        elif text.startswith((b"match ", b"softmatch ")):
            current.matches.append(parse_match(text, number))
        elif text.startswith(b"Exclude "):
            raise _fatal("The Exclude directive must precede all Probes in nmap-service-probes")
        else:
            raise _fatal(f"Parse error on line {number} of nmap-service-probes file: "
                         f"{filename} -- unknown directive")
    null_probe: Probe | None = None
    probes: list[Probe] = []
    for section in sections:
        probe = section.freeze()
        if probe.is_null:
            null_probe = probe  # nmap keeps one NULL probe (the last one read)
        else:
            probes.append(probe)
    db = ProbeDB(null_probe, tuple(probes), excluded, has_exclude)
    db.fallbacks.update(_compile_fallbacks(db))
    return db


def _compile_fallbacks(db: ProbeDB) -> dict[tuple[str, str], tuple[Probe, ...]]:
    """nmap's compileFallbacks(): itself, the `fallback` probes, then NULL (TCP only)."""
    out: dict[tuple[str, str], tuple[Probe, ...]] = {}
    if db.null_probe is not None:
        out[(db.null_probe.protocol, db.null_probe.name)] = (db.null_probe,)
    for probe in db.probes:
        chain: list[Probe] = [probe]
        if probe.fallback is not None:
            for word in re.split(rb"[,\r\n\t ]+", probe.fallback):
                if not word:
                    continue
                if len(chain) >= MAXFALLBACKS - 1:
                    break
                found = db.probe_by_name(word.decode("latin-1"), probe.protocol)
                if found is None:
                    raise _fatal(f"compileFallbacks: Unknown fallback specified in Probe "
                                 f"{probe.name}: '{word.decode('latin-1')}'")
                chain.append(found)
            if len(chain) == MAXFALLBACKS - 1:
                raise _fatal(f"compileFallbacks: MAXFALLBACKS exceeded on probe '{probe.name}'")
        if probe.protocol == "TCP" and db.null_probe is not None:
            chain.append(db.null_probe)
        out[(probe.protocol, probe.name)] = tuple(chain)
    return out


def load_probes(path: str) -> ProbeDB:
    """Read and parse the file at `path` (nmap's pfatal() when it cannot be opened)."""
    return _read(path)[1]


_Identity = tuple[int, int, int, int]


def _identity(st: os.stat_result) -> _Identity:
    return st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns


def _read(path: str) -> tuple[_Identity, ProbeDB]:
    """The file at `path` parsed (from the parse cache when it holds this very
    file), and the identity of the file read."""
    try:
        with open(path, "rb") as f:
            st = os.fstat(f.fileno())
            cacheable = stat.S_ISREG(st.st_mode) and st.st_size >= _CACHE_MIN_SIZE
            cached = _cache_load(st) if cacheable else None
            if cached is not None:
                return _identity(st), cached
            data = f.read()
    except OSError as e:
        raise SystemFatal(f"Failed to open nmap-service-probes file {path} for reading",
                          e.errno or 0) from None
    db = parse_probes(data, path)  # (a file that does not parse is never cached)
    if cacheable:
        _cache_store(st, db)
    return _identity(st), db


# --- the parse cache -------------------------------------------------------------------------
#
# Parsing the 11,900 lines takes 0.12-0.17 s, working out every pattern's
# literal needs 0.1 s more; reading both back takes 0.05 s.  Like
# nmap-services' cache (pynmap.services), one file per data file (by device
# and inode) in ~/.cache/pynmap, marshal data (no code), written whole under
# a temporary name and renamed; it is used only if its key matches: the data
# file's size and times, this interpreter, and this very probes.py (whose
# parser and literal_needs made it).  A damaged, stale or unwritable cache
# only costs a parse.

_CACHE_FORMAT = 1
_CACHE_MIN_SIZE = 64 * 1024  # a smaller file parses in a few milliseconds


def _cache_file(st: os.stat_result) -> str:
    return os.path.join(cache_dir(), f"probes-{st.st_dev:x}-{st.st_ino:x}.v{_CACHE_FORMAT}")


def _cache_key(st: os.stat_result) -> tuple[int, ...]:
    code = os.stat(__file__)
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, sys.hexversion, code.st_size,
            code.st_mtime_ns, code.st_ino)


def _match_fields(m: Match) -> tuple[object, ...]:
    return (m.soft, m.service, m.pattern, m.ignorecase, m.dotall, m.product, m.version, m.info,
            m.hostname, m.ostype, m.devicetype, m.cpe, m.line)


def _probe_fields(p: Probe) -> tuple[object, ...]:
    needs = [p.needs_of(i) for i in range(len(p.matches))]
    return (p.protocol, p.name, p.payload, p.line, p.options, p.ports, p.sslports,
            p.totalwaitms, p.tcpwrappedms, p.rarity, p.fallback,
            tuple(_match_fields(m) for m in p.matches),
            tuple(tuple(n) for n in needs))


def _cache_store(st: os.stat_result, db: ProbeDB) -> None:
    try:
        directory = cache_dir()
        os.makedirs(directory, mode=0o700, exist_ok=True)
        tmp = os.path.join(directory, f".probes-{os.getpid()}-{threading.get_ident():x}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError:
        return  # no cache this time (nor the needs worked out for it); nothing depends on it
    try:
        with os.fdopen(fd, "wb") as f:
            probes = [_probe_fields(p) for p in _all_probes(db)]
            f.write(marshal.dumps((_cache_key(st), db.null_probe is not None, probes,
                                   db.excluded, db.has_exclude)))
        os.replace(tmp, _cache_file(st))
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if not isinstance(exc, OSError):
            raise


def _probe_from(protocol: str, name: str, payload: bytes, line: int, options: bytes,
                ports: frozenset[int], sslports: frozenset[int], totalwaitms: int,
                tcpwrappedms: int, rarity: int, fallback: bytes | None,
                matches: Sequence[Sequence[object]],
                needs: Sequence[tuple[bytes, tuple[bytes, ...], bool]]) -> Probe:
    return Probe(protocol, name, payload, line, options, ports, sslports, totalwaitms,
                 tcpwrappedms, rarity, fallback,
                 tuple(Match(*m) for m in matches),  # type: ignore[arg-type]
                 _needs=list(map(Needs._make, needs)))


def _cache_load(st: os.stat_result) -> ProbeDB | None:
    try:
        with open(_cache_file(st), "rb") as f:
            key, has_null, probes, excluded, has_exclude = marshal.loads(f.read())
        if tuple(key) != _cache_key(st):
            return None
        made = [_probe_from(*fields) for fields in probes]
        null = made.pop(0) if has_null else None
        db = ProbeDB(null, tuple(made), frozenset(excluded), bool(has_exclude))
        db.fallbacks.update(_compile_fallbacks(db))
        return db
    except Exception:  # missing, damaged or not ours: the file is parsed instead
        return None


def find_probe_db(files: DataFiles, ahead: ReadAhead | None = None) -> ProbeDB:
    """nmap-service-probes found as nmap finds it (--versiondb, --datadir, $NMAPDIR,
    ~/.nmap, the bundled copy), read, and recorded among the files read.
    `ahead`: the same file read while the port scan ran, used if it is that file
    and unchanged."""
    found, path = files.fetch(PROBES_FILE)
    if found != 1:
        raise _fatal("Service scan requested but I cannot find nmap-service-probes file.")
    db = ahead.take(path) if ahead is not None else None
    if db is None:
        db = load_probes(path)
    files.loaded[PROBES_FILE] = path
    return db


class ReadAhead:
    """nmap-service-probes read (or read back from the parse cache, with every
    pattern's literal needs) in a thread of its own while the port scan runs
    (-sV), and the service scan's modules imported.  The port scan mostly
    waits on the network: this work no longer delays the service scan.

    It changes nothing the run shows: nmap reads the file when the service scan
    begins, and so does find_probe_db(): the search (with its warning and -d2
    line, which the thread does not give) and any error happen there, as
    before.  What was read ahead is used only if it is the file found then,
    unchanged (device, inode, size, modification time), and parsed without
    error; otherwise the file is read again.
    """

    def __init__(self, files: DataFiles) -> None:
        self._files = copy.copy(files)  # searched without a word: a copy that says nothing
        self._files.warn = _quiet
        self._files.plain_log = None
        self._files.loaded = {}
        self._got: tuple[str, _Identity, ProbeDB] | None = None
        self._thread = threading.Thread(target=self._read, name="pynmap-probes", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        try:
            found, path = self._files.fetch(PROBES_FILE)
            if found != 1:
                return
            self._got = path, *_read(path)
            # (modules that nothing else imports meanwhile: no import lock is shared)
            importlib.import_module("pynmap.engine.service")
            importlib.import_module("pynmap.engine.streams")
        except Exception:  # the service scan reads the file itself, and says what is wrong
            return

    def take(self, path: str) -> ProbeDB | None:
        """The database read ahead, if it is the file at `path` as it is now."""
        self._thread.join()
        got, self._got = self._got, None
        if got is None or got[0] != path:
            return None
        try:
            if _identity(os.stat(path)) != got[1]:
                return None
        except OSError:
            return None
        return got[2]


def _quiet(_line: str) -> None:
    pass


# --- PCRE to Python re -----------------------------------------------------------------------

_PCRE_REWRITES = re.compile(rb"\\\\|\\z|\\Z|\\h|\(\?<(?=[A-Za-z_])|\[:(\^?)([a-z]+):\]")
_POSIX_CLASSES = {
    b"alpha": b"a-zA-Z", b"digit": b"0-9", b"alnum": b"a-zA-Z0-9", b"upper": b"A-Z",
    b"lower": b"a-z", b"space": b" \\t\\n\\r\\f\\v", b"xdigit": b"0-9A-Fa-f",
    b"punct": b"!-/:-@\\[-`{-~", b"print": b" -~", b"graph": b"!-~", b"cntrl": b"\\x00-\\x1f\\x7f",
    b"word": b"\\w", b"blank": b" \\t",
}


def translate_pcre(pattern: bytes) -> bytes:
    r"""A PCRE pattern as Python's `re` reads it with the same meaning.

    PCRE's \z is Python's \Z, PCRE's \Z (end, or before a final newline) is
    (?=\n?\Z), \h is [ \t], (?<name>...) is (?P<name>...), and POSIX
    classes [:alpha:] inside a set become their ranges.  Escaped
    backslashes are kept as they are, so `\\z` stays a backslash and a z.
    """

    def rewrite(m: re.Match[bytes]) -> bytes:
        token = m.group()
        if token == rb"\\":
            return token
        if token == rb"\z":
            return rb"\Z"
        if token == rb"\Z":
            return rb"(?=\n?\Z)"
        if token == rb"\h":
            return rb"[ \t]"
        if token == b"(?<":
            return b"(?P<"
        ranges = _POSIX_CLASSES.get(m.group(2))
        if ranges is None or m.group(1):
            return token  # left for re to refuse (none in the bundled file)
        return ranges

    return _PCRE_REWRITES.sub(rewrite, pattern)


class Needs(NamedTuple):
    """Literal text a pattern cannot match without: the response must start
    with `prefix` and contain each of `inner`; `folded`: both are lower case
    and are looked for in the lower-cased response (the pattern's i flag:
    for bytes, `re` folds ASCII letters only, as bytes.lower() does).
    (A named tuple: the parse cache makes 11,917 of them at once.)"""

    prefix: bytes = b""
    inner: tuple[bytes, ...] = ()
    folded: bool = False

    def admits(self, data: bytes, folded: bytes) -> bool:
        """False when the pattern cannot match `data` (`folded`: data.lower())."""
        subject = folded if self.folded else data
        if not subject.startswith(self.prefix):
            return False
        return all(text in subject for text in self.inner)


ANYTHING = Needs()  # what is known of a pattern the analysis does not read: nothing

# One token of a (Python) pattern: a run of plain characters, an escape (its
# text after the backslash), a character set, "(", ")", "|", a repeat, or any
# other single character (., ^, $, a stray bracket).
_TOKEN = re.compile(
    rb"([^\\\[\](){}|?*+.^$]+)"
    rb"|\\(x[0-9a-fA-F]{2}|0[0-7]{0,2}|[1-9][0-9]*|[\s\S])"
    rb"|(\[\^?\]?(?:\\[\s\S]|[^\]\\])*\])"
    rb"|(\()|(\))|(\|)"
    rb"|(\{[0-9]*(?:,[0-9]*)?\}|[?*+{])"
    rb"|[\s\S]")
# inline flags ((?i), (?x), (?s:...)) or a comment change how the rest reads
_INLINE_FLAGS = re.compile(rb"\(\?[aiLmsux#-]")
_CONTROL_ESCAPES = {b"a": b"\a", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t",
                    b"v": b"\v"}


def _escaped_literal(escape: bytes) -> bytes:
    """The byte an escape stands for (as re reads it); b"" for a class, an
    anchor or a group reference."""
    if len(escape) == 3 and escape[:1] == b"x":
        return bytes([int(escape[1:], 16)])
    if escape[:1] == b"0":  # \0 and up to two more octal digits
        return bytes([int(escape, 8)])
    if len(escape) == 1:
        if escape in _CONTROL_ESCAPES:
            return _CONTROL_ESCAPES[escape]
        if not (escape.isascii() and escape.isalnum()):
            return escape  # \. \( \\ \  \xff...: the character itself
    return b""


def literal_needs(pattern: bytes, *, ignorecase: bool = False) -> Needs:
    """What text a match of `pattern` (Python syntax, as translate_pcre gives
    it) must contain: the runs of plain characters at its top level, the one
    right after a leading ^ as a prefix.

    Conservative by construction: a character followed by a repeat is not
    counted, nothing inside a group or a set is read, and a pattern with a
    top-level alternative, inline flags or anything unbalanced gives ANYTHING.
    So a pattern whose needs the data lacks cannot match it (tests check
    this against re's own parser for every pattern of the bundled file)."""
    if _INLINE_FLAGS.search(pattern):
        return ANYTHING
    anchored = pattern[:1] == b"^"
    at_start = anchored  # the run under way starts right after the ^
    prefix = b""
    inner: list[bytes] = []
    run = b""
    depth = 0
    for plain, escape, _set, opening, closing, bar, repeat in _TOKEN.findall(
            pattern, 1 if anchored else 0):
        if depth:
            if opening:
                depth += 1
            elif closing:
                depth -= 1
            continue
        if plain:
            run += plain
            continue
        if escape:
            literal = _escaped_literal(escape)
            if literal:
                run += literal
                continue
        elif repeat:
            run = run[:-1]  # the repeated character may be absent or many
        elif closing or bar:
            return ANYTHING
        elif opening:
            depth = 1
        if run:
            if at_start:
                prefix = run
            else:
                inner.append(run)
            run = b""
        at_start = False
    if depth:
        return ANYTHING
    if run:
        if at_start:
            prefix = run
        else:
            inner.append(run)
    if ignorecase:
        return Needs(prefix.lower(), tuple(text.lower() for text in inner), True)
    return Needs(prefix, tuple(inner))


def compile_all(db: ProbeDB) -> int:
    """Compile every pattern of every probe now; the number compiled (for tests)."""
    count = 0
    for probe in _all_probes(db):
        count += len(probe.compiled())
    return count


def _all_probes(db: ProbeDB) -> Iterable[Probe]:
    if db.null_probe is not None:
        yield db.null_probe
    yield from db.probes


# --- what a match says: the version templates ------------------------------------------------

_SUBST_MAX_ARGS = 5
_SUBST_STRLEN = 128
_CPE_ESCAPED = b":/?#[]@!$&'()*+,;=%<>\""


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """The fields a match fills (nmap's product, version, extrainfo, hostname,
    ostype, devicetype and its three CPE slots), as bytes; `failed` names the
    templates whose substitution failed (nmap warns and leaves them empty)."""

    product: bytes = b""
    version: bytes = b""
    info: bytes = b""
    hostname: bytes = b""
    ostype: bytes = b""
    devicetype: bytes = b""
    cpe_a: bytes = b""
    cpe_h: bytes = b""
    cpe_o: bytes = b""
    failed: tuple[str, ...] = ()

    @property
    def cpes(self) -> tuple[bytes, ...]:
        return tuple(c for c in (self.cpe_a, self.cpe_h, self.cpe_o) if c)

    def over(self, older: VersionInfo) -> VersionInfo:
        """These fields laid over `older`'s: a later match of the same port
        replaces only the fields it fills (nmap's processMatch)."""
        return VersionInfo(
            product=self.product or older.product, version=self.version or older.version,
            info=self.info or older.info, hostname=self.hostname or older.hostname,
            ostype=self.ostype or older.ostype, devicetype=self.devicetype or older.devicetype,
            cpe_a=self.cpe_a or older.cpe_a, cpe_h=self.cpe_h or older.cpe_h,
            cpe_o=self.cpe_o or older.cpe_o)


def _group(m: re.Match[bytes], n: int) -> bytes | None:
    """Capture n (1-9) as nmap reads it: None when it does not exist or is unset."""
    if not 1 <= n <= 9 or n > (m.re.groups or 0):
        return None
    return m.group(n)


def _subst_args(t: bytes, i: int) -> tuple[list[int | bytes], int] | None:
    """getsubstcommandargs(): the arguments from t[i] (after the '('), and the end."""
    args: list[int | bytes] = []
    n = len(t)
    while i < n and t[i] != ord(")"):
        while i < n and t[i] in _SPACE:
            i += 1
        if i >= n:
            break
        if t[i] == ord(")"):
            break
        if len(args) == _SUBST_MAX_ARGS:
            return None
        if t[i] == ord('"'):
            raw = bytearray()
            while True:
                i += 1
                if i >= n:
                    return None  # nmap reads past the end of the string here
                # a quote ends the string unless escaped by a backslash that is not itself escaped
                if t[i] == ord('"') and (t[i - 1] != 0x5C or (i >= 2 and t[i - 2] == 0x5C)):
                    break
                if len(raw) >= _SUBST_STRLEN - 1:
                    return None
                raw.append(t[i])
            value = cstring_unescape(bytes(raw))
            if value is None:
                return None
            args.append(value)
            i += 1
        else:
            number = _strtol0(t, i)
            if number is None:
                return None
            args.append(number[0])
            i = number[1]
        stop = re.compile(rb"[,)]").search(t, i)
        if stop is None:
            return None
        i = stop.start()
        if t[i] == ord(","):
            i += 1
    if i < n and t[i] == ord(")"):
        i += 1
    return args, i


_STRTOL0 = re.compile(rb"[ \t\n\v\f\r]*([+-]?)(?:0[xX]([0-9a-fA-F]+)|(0[0-7]*)|([1-9][0-9]*))")


def _strtol0(t: bytes, i: int) -> tuple[int, int] | None:
    """strtol(s, &end, 0) at t[i]: (value, end), None when no digits were read."""
    m = _STRTOL0.match(t, i)
    if m is None:
        return None
    sign = -1 if m.group(1) == b"-" else 1
    if m.group(2) is not None:
        return sign * int(m.group(2), 16), m.end()
    if m.group(3) is not None:
        return sign * int(m.group(3), 8), m.end()
    return sign * int(m.group(4)), m.end()


def _substvar(t: bytes, i: int, m: re.Match[bytes]) -> tuple[bytes, int] | None:
    """substvar(): the value of the variable at t[i] ('$'), and where it ends."""
    i += 1
    if i < len(t) and 0x30 <= t[i] <= 0x39:
        value = _group(m, t[i] - 0x30)
        return (value, i + 1) if value is not None else None
    paren = t.find(b"(", i)
    if paren < 0 or not 0 < paren - i < 16:
        return None
    command = t[i:paren]
    parsed = _subst_args(t, paren + 1)
    if parsed is None or not parsed[0]:
        return None
    args, end = parsed
    first = args[0]
    if not isinstance(first, int):
        return None
    value = _group(m, first)
    if value is None:
        return None
    if command == b"P" and len(args) == 1:
        # printable characters only: collapses UTF-16 text such as "W\0O\0R\0K\0"
        return bytes(c for c in value if 0x20 <= c <= 0x7E), end
    if command == b"SUBST" and len(args) == 3 and isinstance(args[1], bytes) \
            and isinstance(args[2], bytes):
        find, repl = _cstr(args[1]), _cstr(args[2])
        out, j = bytearray(), 0
        while j < len(value):
            if value.startswith(find, j):  # an empty find string matches everywhere
                out += repl
                j += len(find)
                if not find:
                    out.append(value[j])
                    j += 1
            else:
                out.append(value[j])
                j += 1
        return bytes(out), end
    if command == b"I" and len(args) == 2 and isinstance(args[1], bytes) and len(args[1]) == 1:
        if len(value) > 8:
            return None
        if args[1] == b">":
            return str(int.from_bytes(value, "big")).encode(), end
        if args[1] == b"<":
            return str(int.from_bytes(value, "little")).encode(), end
    return None


def _cstr(b: bytes) -> bytes:
    """What C sees of a byte string: up to its first NUL."""
    nul = b.find(b"\0")
    return b if nul < 0 else b[:nul]


def _cpe_transform(value: bytes) -> bytes:
    """transform_cpe(): a substituted value made safe inside a CPE name."""
    out = bytearray()
    for c in value:
        if c in _CPE_ESCAPED:
            out += b"%%%02X" % c
        elif c in _SPACE:
            out += b"_"
        elif 0x41 <= c <= 0x5A:
            out.append(c + 0x20)
        else:
            out.append(c)
    return bytes(out)


def substitute(template: bytes, m: re.Match[bytes], size: int, *,
               cpe: bool = False) -> bytes | None:
    """dotmplsubst(): the template with its $-variables filled from match `m`,
    trailing white space and commas removed; None when a variable cannot be
    filled or the result does not fit a C buffer of `size` bytes."""
    if size < 3:
        return None
    template = _cstr(template)
    out = bytearray()
    i, n = 0, len(template)
    while i < n:
        dollar = template.find(b"$", i)
        if dollar < 0:
            # only literal text is left: it must leave room for the NUL
            if len(out) + (n - i) > size - 1:
                return None
            out += template[i:]
            return _trim(bytes(out))
        literal = template[i:dollar]
        if literal and size - len(out) <= len(literal) - 1:
            return None
        out += literal
        found = _substvar(template, dollar, m)
        if found is None:
            return None
        value, i = found
        value = _cstr(value)
        if cpe:
            value = _cpe_transform(value)
        if len(out) + len(value) >= size - 1:
            return None
        out += value
    if len(out) >= size - 1:
        return None
    return _trim(bytes(out))


def _trim(b: bytes) -> bytes:
    return b.rstrip(_SPACE + b",")


def version_info(match: Match, m: re.Match[bytes]) -> VersionInfo:
    """getVersionStr(): every template of `match` filled from the regex match `m`."""
    fields: dict[str, bytes] = {}
    failed: list[str] = []
    sizes = {"product": SERVICE_FIELD_LEN, "version": SERVICE_FIELD_LEN,
             "info": SERVICE_EXTRA_LEN, "hostname": SERVICE_FIELD_LEN,
             "ostype": SERVICE_TYPE_LEN, "devicetype": SERVICE_TYPE_LEN}
    for name, size in sizes.items():
        template = getattr(match, name)
        if template is None:
            continue
        value = substitute(template, m, size)
        if value is None:
            failed.append(name)
        else:
            fields[name] = value
    for template in match.cpe:
        part = template[5:6]
        slot = {b"a": "cpe_a", b"h": "cpe_h", b"o": "cpe_o"}.get(part)
        if slot is None:
            continue  # nmap warns and skips a CPE of unknown part
        value = substitute(template, m, SERVICE_FIELD_LEN, cpe=True)
        if value is None:
            failed.append(slot)
            fields[slot] = b""
        else:
            fields[slot] = value  # a later CPE of the same part replaces an earlier one
    return VersionInfo(**fields, failed=tuple(failed))


# --- which probes a service gets -------------------------------------------------------------

def version_intensity(intensity: int | None = None, *, light: bool = False,
                      all_probes: bool = False) -> int:
    """The intensity in effect: --version-intensity N, or its shorthands (the last given wins
    in nmap; callers pass only that one)."""
    if intensity is not None:
        return intensity
    if all_probes:
        return INTENSITY_ALL
    if light:
        return INTENSITY_LIGHT
    return INTENSITY_DEFAULT


def probe_sequence(db: ProbeDB, port: int, *, protocol: str = "TCP", ssl: bool = False,
                   intensity: int = INTENSITY_DEFAULT,
                   softmatched: str | None = None) -> list[Probe]:
    """The probes nmap sends to one port, in order, when nothing matches (nmap's nextProbe()).

    The NULL probe first (TCP only); then every probe of the protocol whose
    `ports` (`sslports` through SSL) list the port, whatever its rarity; then
    the other probes of rarity <= intensity.  After a softmatch of service S
    only probes with a match for S are kept, and rarity no longer counts;
    --version-all (intensity 9) keeps them all.
    """
    def possible(p: Probe) -> bool:
        return softmatched is None or intensity >= 9 or softmatched in p.services

    out: list[Probe] = []
    if protocol == "TCP" and db.null_probe is not None:
        out.append(db.null_probe)
    same = [p for p in db.probes if p.protocol == protocol]
    out += [p for p in same if p.port_is_probable(port, ssl) and possible(p)]
    for p in same:
        if p.port_is_probable(port, ssl):
            continue
        # no softmatch: the rarity decides; after one, only whether S can be matched
        if (p.rarity <= intensity) if softmatched is None else possible(p):
            out.append(p)
    return out


def port_is_excluded(db: ProbeDB, port: int, *, protocol: str = "TCP",
                     allports: bool = False) -> bool:
    """The Exclude directive (9100-9107 in the bundled file: printers print whatever
    they are sent) keeps a port out of the service scan unless --allports."""
    return not allports and db.is_excluded(port, protocol)
