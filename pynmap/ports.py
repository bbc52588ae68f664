"""Which ports a scan probes: nmap's port grammar, top ports, exclusions, probe order.

The grammar (reference 1.3) is parsed the way nmap's getpts() walks the
string, byte by byte, so every odd input fails or succeeds where nmap's does
and with its words: comma lists, `A-B`, `-B`, `A-`, `-`, `T:`/`U:`/`S:`/`P:`
prefixes, service names with `*`/`?` wildcards, `[...]` (keep only ports
nmap-services knows), one duplicate warning per parse.  Ports are collected
in a 65536-byte table of protocol bits, as nmap does, and whole ranges are
merged with bytes.translate() and big-integer masks rather than port by
port, so even `-p-` takes only a few milliseconds.

Selection (`select_ports`) then follows nmap's gettoppts()/removepts():
`-p` alone takes the parsed list; otherwise the N best ports by open ratio
(`--top-ports N`, `-F` = 100, default 1000) or all ports with ratio >= R
(`--port-ratio R`), among the `-p` ports if given, after removing
`--exclude-ports` first; the exclusion is applied once more to the final list
and to the connect-ping ports.  An old-style services file without ratios
(/etc/services) falls back to 1-1024 plus the file's ports above 1024.

Callbacks: `warn(text)` receives nmap's stderr warnings (error()), `stdout(text)`
its debugging lines that go to standard output only (log_write(LOG_STDOUT)).
Both get one line without the trailing newline.  Errors are raised as
errors.Fatal with nmap's text.
"""

from __future__ import annotations

import itertools
import operator
import os
import random
import re
from collections.abc import Callable, Collection, Iterable, Sequence

from pynmap.cnumbers import c_g, strtod
from pynmap.errors import Fatal, Warn
from pynmap.plain import FrozenData
from pynmap.services import ServiceDB

TCP, UDP, SCTP, PROT = 1, 2, 4, 8
PROTOCOL_BITS = {"tcp": TCP, "udp": UDP, "sctp": SCTP, "ip": PROT}
_PREFIX_BITS = {ord("T"): TCP, ord("U"): UDP, ord("S"): SCTP, ord("P"): PROT}

EXAMPLE_WITH_PREFIXES = "-100,200-1024,T:3000-4000,U:60000-"
EXAMPLE_PLAIN = "-100,200-1024,3000-4000,60000-"  # -PS and friends take no prefixes
DEFAULT_PING_PORT = 80  # a bare -PS / -PA

DUPLICATE_WARNING = (
    "WARNING: Duplicate port number(s) specified.  Are you alert enough to be using Nmap?  "
    "Have some coffee or Jolt(tm)."
)
NO_PORTS = "No ports specified -- If you really don't want to scan any ports use ping scan..."
FAST_WITH_PORTS = (
    "You cannot use -F (fast scan) with -p (explicit port selection) but see --top-ports "
    "and --port-ratio to fast scan a range of ports"
)
OLD_STYLE_FILE = (
    "Unable to use --top-ports or --port-ratio with an old style (no-ratio) services file"
)
TCP_SCAN_SKIPPED = (
    "WARNING: a TCP scan type was requested, but no tcp ports were specified.  "
    "Skipping this scan type."
)
TCP_PING_SKIPPED = (
    "WARNING: a TCP ping scan was requested, but after excluding requested TCP ports, "
    "none remain. Skipping this scan type."
)
PREFIX_WARNINGS = {
    ord("T"): (
        "tcp",
        'WARNING: Your ports include "T:" but you haven\'t specified any TCP scan type.',
    ),
    ord("U"): (
        "udp",
        'WARNING: Your ports include "U:" but you haven\'t specified UDP scan with -sU.',
    ),
    ord("S"): (
        "sctp",
        'WARNING: Your ports include "S:" but you haven\'t specified any SCTP scan type.',
    ),
    ord("P"): (
        "ip",
        'WARNING: Your ports include "P:" but you haven\'t specified IP Protocol scan with -sO.',
    ),
}

# The TCP ports nmap moves to the front of a randomised scan: the 25 most
# often open TCP ports (as counted in 2008) plus 113, 554 and 256.
POPULAR_TCP_PORTS = frozenset(
    {
        80, 23, 443, 21, 22, 25, 3389, 110, 445, 139, 143, 53, 135, 3306, 8080,
        1723, 111, 995, 993, 5900, 1025, 587, 8888, 199, 1720, 113, 554, 256,
    }
)  # fmt: skip

_SPACE = frozenset(b" \t\n\v\f\r")
_DIGITS = frozenset(b"0123456789")
_MASK_START = frozenset(b"abcdefghijklmnopqrstuvwxyz*?")
_MASK_END = _SPACE | frozenset(b",]")
_ITEM_END = frozenset(b",]")
_MASK_LIMIT = 127  # nmap's 128-byte buffer: a mask reaching 127 bytes is refused


class PortSelection(FrozenData):
    """A parsed port spec: sorted port numbers per protocol (`ip` = protocol numbers < 256)."""

    __match_args__ = ("tcp", "udp", "sctp", "ip")
    __slots__ = __match_args__

    def __init__(self, tcp: tuple[int, ...] = (), udp: tuple[int, ...] = (),
                 sctp: tuple[int, ...] = (), ip: tuple[int, ...] = ()) -> None:
        self.tcp = tcp
        self.udp = udp
        self.sctp = sctp
        self.ip = ip

    @property
    def count(self) -> int:
        return len(self.tcp) + len(self.udp) + len(self.sctp) + len(self.ip)


class ScanPorts(FrozenData):
    """What a scan uses: the TCP ports to probe (sorted) and the connect-ping ports."""

    __match_args__ = ("tcp", "ping")
    __slots__ = __match_args__

    def __init__(self, tcp: tuple[int, ...], ping: tuple[int, ...] | None) -> None:
        self.tcp = tcp
        self.ping = ping  # None when no TCP ping list was given


# --- the byte table --------------------------------------------------------

_free_tables: dict[int, bytes] = {}
_bit_tables: dict[int, bytes] = {}


def _free_table(bits: int) -> bytes:
    """translate() table: 0xFF where a table byte has none of `bits`, else 0."""
    table = _free_tables.get(bits)
    if table is None:
        table = _free_tables[bits] = bytes(0 if v & bits else 0xFF for v in range(256))
    return table


def _bit_table(bit: int) -> bytes:
    """translate() table: 1 where a table byte has `bit`, else 0."""
    table = _bit_tables.get(bit)
    if table is None:
        table = _bit_tables[bit] = bytes(1 if v & bit else 0 for v in range(256))
    return table


def _to_int(data: bytes | bytearray) -> int:
    return int.from_bytes(data, "big")


_RUNS = re.compile(rb"\x01+")


def _ports_with(table: bytearray, bit: int, limit: int = 65536) -> tuple[int, ...]:
    flags = table.translate(_bit_table(bit))
    ports: list[int] = []
    for run in _RUNS.finditer(flags, 0, limit):
        ports.extend(range(run.start(), run.end()))
    return tuple(ports)


def _ntohs(value: int) -> int:
    return ((value & 0xFF) << 8) | (value >> 8)


class _Parser:
    """One getpts() call: the port table it fills and its once-only duplicate warning."""

    def __init__(self, services: ServiceDB, warn: Warn) -> None:
        self.services = services
        self.warn = warn
        self.table = bytearray(65536)
        self.warned = False
        self.used = 0  # every bit ever set, so selection() skips untouched protocols

    def parse(self, spec: bytes, bits: int, prefixes: bool) -> None:
        self._walk(spec, 0, False, bits, prefixes)

    def _fatal_illegal(self, number: int, prefixes: bool) -> Fatal:
        example = EXAMPLE_WITH_PREFIXES if prefixes else EXAMPLE_PLAIN
        return Fatal(
            f"Error #{number}: Your port specifications are illegal.  "
            f'Example of proper form: "{example}"'
        )

    def _number(self, s: bytes, i: int, bits: int) -> tuple[int, int]:
        """strtol() over the digits at i, with nmap's range check; (value, end)."""
        j = i
        while j < len(s) and s[j] in _DIGITS:
            j += 1
        digits = s[i:j].lstrip(b"0")
        value = int(digits) if 0 < len(digits) <= 12 else (0 if not digits else 10**12)
        if bits & PROT:
            if value > 255:
                raise Fatal("Protocols specified must be between 0 and 255 inclusive")
        elif value > 65535:
            raise Fatal("Ports specified must be between 0 and 65535 inclusive")
        return value, j

    def _walk(self, s: bytes, i: int, nested: bool, bits: int, prefixes: bool) -> None:
        n = len(s)
        while True:
            while i < n and s[i] in _SPACE:
                i += 1
            c = s[i] if i < n else 0
            if prefixes and i + 1 < n and s[i + 1] == 0x3A:  # "X:"
                prefix = _PREFIX_BITS.get(c)
                if prefix is None:
                    letter = os.fsdecode(bytes([c]))
                    raise Fatal(f"Error parsing port list: Unknown protocol specifier '{letter}'.")
                bits = prefix
                i += 2
                if i >= n:
                    return
                continue
            if c == 0x5B:  # "["
                if nested:
                    raise Fatal("Can't nest [] brackets in port/protocol specification")
                i += 1
                # the bracket's own parse may switch protocols; that stays inside it
                self._walk(s, i, True, bits, True)
                close = s.find(b"]", i)
                i = n if close == -1 else close + 1
                if i < n and s[i] == 0x2C:
                    i += 1
                if i >= n:
                    return
                continue
            if c == 0x5D:  # "]"
                if not nested:
                    raise Fatal("Unexpected ] character in port/protocol specification")
                return
            if c == 0x2D:  # "-": from the lowest number; the "-" itself is read below
                start = 0 if bits & PROT else 1
            elif c in _DIGITS:
                start, i = self._number(s, i, bits)
                while i < n and s[i] in _SPACE:
                    i += 1
            elif c in _MASK_START:
                j = i
                while j < n and s[j] not in _MASK_END:
                    j += 1
                    if j - i >= _MASK_LIMIT:
                        raise Fatal(
                            "A service mask in the port/protocol specification is either "
                            "malformed or too long"
                        )
                mask = os.fsdecode(s[i:j])
                i = j + 1 if j < n and s[j] != 0x5D else j
                if self._add_mask(mask, bits) == 0:
                    raise Fatal(
                        f"Found no matches for the service mask '{mask}' and your specified "
                        "protocols"
                    )
                if i >= n:
                    return
                continue
            else:
                raise self._fatal_illegal(485, prefixes)

            c = s[i] if i < n else 0
            if c == 0 or c in _ITEM_END:
                end = start
            elif c == 0x2D:
                i += 1
                c = s[i] if i < n else 0
                if c == 0 or c in _ITEM_END:
                    end = 255 if bits & PROT else 65535
                elif c in _DIGITS:
                    end, i = self._number(s, i, bits)
                else:
                    raise self._fatal_illegal(486, prefixes)
                if end < start:
                    kind = "protocol" if bits & PROT else "port"
                    raise Fatal(
                        f"Your {kind} range {start}-{end} is backwards. Did you mean {end}-{start}?"
                    )
            else:
                raise self._fatal_illegal(487, prefixes)

            self._add_range(start, end, bits, nested)

            while i < n and s[i] in _SPACE:
                i += 1
            c = s[i] if i < n else 0
            if c == 0x5D:
                if not nested:
                    raise Fatal("Unexpected ] character in port/protocol specification")
                return
            if c not in (0, 0x2C):
                raise self._fatal_illegal(488, prefixes)
            if c == 0x2C:
                i += 1
            if i >= n:
                return

    def _add_range(self, start: int, end: int, bits: int, nested: bool) -> None:
        size = end - start + 1
        old = bytes(self.table[start : end + 1])
        free = old.translate(_free_table(bits))
        if free.count(0) and not self.warned:
            self.warned = True
            self.warn(DUPLICATE_WARNING)
        if nested:
            if not free.count(0xFF):
                return
            add = _to_int(free) & _to_int(self._known(bits, start, end + 1))
        else:
            add = _to_int(free) & _to_int(bytes([bits]) * size)
        if add:
            self.table[start : end + 1] = (_to_int(old) | add).to_bytes(size, "big")
            self.used |= bits

    def _known(self, bits: int, lo: int, hi: int) -> bytes:
        """Per port, the bits of `bits` whose table (nmap-services / nmap-protocols) has it."""
        known = 0
        for proto, bit in (("tcp", TCP), ("udp", UDP), ("sctp", SCTP)):
            if bits & bit:
                present = bytes(self.services.known(proto)[lo:hi])  # 0/1 per port
                known |= _to_int(present.replace(b"\x01", bytes([bit])))
        if bits & PROT:
            numbers = self.services.protocols().by_number
            row = bytes(PROT if p in numbers else 0 for p in range(lo, hi))
            known |= _to_int(row)
        return known.to_bytes(hi - lo, "big")

    def _add_mask(self, mask: str, bits: int) -> int:
        """nmap's addportsfromservmask (+ protocols for P:): sets bits, no duplicate check."""
        self.services.load()
        count = 0
        for proto, bit in (("tcp", TCP), ("udp", UDP), ("sctp", SCTP)):
            if bits & bit:
                for port in self.services.match(mask, proto):
                    self.table[port] |= bit
                    self.used |= bit
                    count += 1
        if bits & PROT:
            for number in self.services.protocols().match(mask):
                # nmap stores the byte-swapped number here, so a protocol matched
                # by name lands outside 0-255 (only protocol 0 counts)
                self.table[_ntohs(number)] |= PROT
                self.used |= PROT
                count += 1
        return count

    def flags(self, bit: int) -> bytes:
        """One byte per port: 1 where the port has `bit`."""
        return bytes(self.table.translate(_bit_table(bit)))

    def count(self) -> int:
        total = 0
        for bit in (TCP, UDP, SCTP):
            if self.used & bit:
                total += self.table.translate(_bit_table(bit)).count(1)
        if self.used & PROT:
            total += self.table[:256].translate(_bit_table(PROT)).count(1)
        return total

    def ports(self, bit: int, limit: int = 65536) -> tuple[int, ...]:
        return _ports_with(self.table, bit, limit) if self.used & bit else ()

    def selection(self) -> PortSelection:
        return PortSelection(
            tcp=self.ports(TCP),
            udp=self.ports(UDP),
            sctp=self.ports(SCTP),
            ip=self.ports(PROT, 256),
        )


def _spec_bytes(spec: str) -> bytes:
    """The argument as the bytes nmap sees; nothing after a NUL exists in a C string."""
    try:
        raw = os.fsencode(spec)
    except UnicodeEncodeError:  # lone surrogates never come from argv, but do not crash
        raw = spec.encode("utf-8", "surrogatepass")
    return raw.split(b"\0", 1)[0]


def _bits(protocols: Iterable[str]) -> int:
    bits = 0
    for proto in protocols:
        bits |= PROTOCOL_BITS[proto]
    return bits


def _getpts(spec: str, services: ServiceDB, bits: int, warn: Warn) -> _Parser:
    """nmap's getpts(): the filled port table; an empty one is Fatal."""
    parser = _Parser(services, warn)
    parser.parse(_spec_bytes(spec), bits, True)
    if bits and parser.count() == 0:
        raise Fatal(NO_PORTS)
    return parser


def parse_port_spec(
    spec: str,
    services: ServiceDB,
    *,
    for_ping: bool = False,
    protocols: Collection[str] = ("tcp",),
    warn: Warn,
) -> PortSelection:
    """Parse a -p / --exclude-ports spec (nmap's getpts) for the scanned `protocols`.

    Unprefixed items apply to every protocol in `protocols` ("tcp", "udp",
    "sctp", "ip").  An empty result is Fatal ("No ports specified ...").
    With for_ping (nmap's getpts_simple for -PS/-PA): TCP only, no T:/U:
    prefixes outside brackets, the prefix-free example text, and an empty
    result is returned, not refused.
    """
    if for_ping:
        parser = _Parser(services, warn)
        parser.parse(_spec_bytes(spec), TCP, False)
        return PortSelection(tcp=parser.ports(TCP))
    return _getpts(spec, services, _bits(protocols), warn).selection()


# what a ping option's list holds: TCP ports (-PS, -PA, -PB, -PT), UDP ports
# (-PU), SCTP ports (-PY) or IP protocols (-PO)
_PING_BITS = {"U": UDP, "Y": SCTP, "O": PROT}


def parse_ping_ports(
    arg: str, services: ServiceDB, *, warn: Warn, flag: str = "S"
) -> tuple[int, ...]:
    """The list of -P<flag><arg> (nmap's getpts_simple); a bare -PS or -PA means port 80.

    -PU, -PY and -PO lists are parsed only for nmap's messages (unprivileged,
    they are refused or replaced); their bare defaults are not needed.
    """
    bits = _PING_BITS.get(flag, TCP)
    if arg == "":
        return (DEFAULT_PING_PORT,) if bits == TCP else ()
    parser = _Parser(services, warn)
    parser.parse(_spec_bytes(arg), bits, False)
    # every slot counts, as in nmap: a protocol matched by name sits above 255
    ports = parser.ports(bits)
    if not ports:
        raise Fatal(f"Bogus argument to -P{flag}: {arg}")
    return ports


# --- option arguments -------------------------------------------------------


def parse_top_ports_option(text: str) -> int:
    """--top-ports N: strtod() must give an integer >= 1 that fits a C int."""
    level, _ = strtod(text)
    if not (1 <= level <= 2**31 - 1) or level != int(level):
        raise Fatal("--top-ports should be an integer 1 or greater")
    return int(level)


def parse_port_ratio_option(text: str) -> float:
    """--port-ratio R: strtod(), refused outside [0, 1); NaN passes here (and fails later)."""
    level, _ = strtod(text)
    if level < 0 or level >= 1:
        raise Fatal("--port-ratio should be between [0 and 1)")
    return level


# --- selection --------------------------------------------------------------


class _Selector:
    def __init__(
        self,
        services: ServiceDB,
        bits: int,
        warn: Warn,
        debugging: int,
        stdout: Callable[[str], None] | None,
    ) -> None:
        self.services = services
        self.bits = bits
        self.warn = warn
        self.debugging = debugging
        self.stdout = stdout

    def log(self, line: str) -> None:
        if self.stdout is not None:
            self.stdout(line)

    def getpts(self, spec: str) -> _Parser:
        return _getpts(spec, self.services, self.bits, self.warn)

    def report_removed(self, kind: str, removed: Sequence[int]) -> None:
        """remaining_ports()'s -d2 / -d lines (nmap prints them only when both lists are non-empty)."""
        if self.debugging > 1:
            listed = "".join(f"{p} " for p in removed) if removed else "None"
            self.log(f"Removed {kind} ports: {listed}")
        if self.debugging and removed:
            self.log(
                f"Removed {len(removed)} {kind} ports that would have been considered for "
                "scanning otherwise."
            )

    def remaining(self, ports: Sequence[int], excluded: Sequence[int], kind: str) -> list[int]:
        """nmap's remaining_ports(): `ports` without `excluded`, order kept."""
        if not ports or not excluded:
            return list(ports)
        gone = set(excluded)
        kept = [p for p in ports if p not in gone]
        self.report_removed(kind, [p for p in ports if p in gone] if self.debugging else [])
        return kept

    def remaining_flags(self, ports: bytes, excluded: bytes) -> bytes:
        """remaining() over whole-range port maps (1 per port): the -p / "-" pool minus exclusions."""
        if not ports.count(1) or not excluded.count(1):
            return ports
        have, gone = _to_int(ports), _to_int(excluded)
        both = (have & gone).to_bytes(65536, "big")
        if self.debugging:
            removed = [m.start() for m in re.finditer(b"\x01", both)]
            self.report_removed("tcp", removed)
        return (have ^ (have & gone)).to_bytes(65536, "big")

    def top_ports(
        self, level: float, spec: str | None, fast: bool, exclude_spec: str | None
    ) -> list[int]:
        """nmap's gettoppts() for TCP."""
        services = self.services.load()
        if not services.has_ratios:
            if level != -1:
                raise Fatal(OLD_STYLE_FILE)
            if spec is not None:
                return list(self.getpts(spec).ports(TCP))
            return list(self.getpts("[-]" if fast else "1-1024,[1025-]").ports(TCP))
        if level == -1:
            if spec is not None:
                return list(self.getpts(spec).ports(TCP))
            level = 100 if fast else 1000

        # the ports top-ports may pick from: the -p ports (else all) minus the excluded
        eligible: bytes | None = None
        if spec is not None or exclude_spec is not None:
            eligible = self.getpts(spec if spec is not None else "-").flags(TCP)
            if exclude_spec is not None:
                eligible = self.remaining_flags(eligible, self.getpts(exclude_spec).flags(TCP))

        order, ratios = services.ratio_order("tcp")
        chosen: list[int] = []
        if level < 1:
            for port, ratio in zip(order, ratios, strict=True):
                if eligible is not None and not eligible[port]:
                    continue
                if ratio < level:
                    break
                chosen.append(port)
            self.log_level(f"ports open on {c_g(level * 100)}% or more average hosts", chosen)
        elif level >= 1:
            if level > 65536:
                raise Fatal(f"Level argument to gettoppts ({c_g(level)}) is too large")
            wanted = int(level)
            if eligible is None:
                chosen = list(order[:wanted])
            else:
                for port in order:
                    if len(chosen) == wanted:
                        break
                    if eligible[port]:
                        chosen.append(port)
            self.log_level(f"top {wanted} ports found open", chosen)
        else:
            raise Fatal(
                f"Argument to gettoppts ({c_g(level)}) should be a positive ratio below 1 or an "
                "integer of 1 or higher"
            )
        return sorted(chosen)

    def log_level(self, what: str, chosen: Sequence[int]) -> None:
        if self.debugging:
            self.log(f"PORTS: Using {what} (TCP:{len(chosen)}, UDP:0, SCTP:0)")


def select_ports(
    *,
    spec: str | None,
    exclude_spec: str | None,
    fast: bool,
    top_ports: int | None = None,
    port_ratio: float | None = None,
    top_level: float | None = None,
    services: ServiceDB,
    requested_protocols: Collection[str] = ("tcp",),
    ping_ports: Sequence[int] | None = None,
    port_scan: bool = True,
    warn: Warn,
    debugging: int = 0,
    stdout: Callable[[str], None] | None = None,
) -> ScanPorts:
    """The TCP ports to scan and the connect-ping ports left after --exclude-ports.

    Mirrors nmap from its -F/-p check to its "no ports" warnings: -p with -F
    is Fatal; T:/U:/S:/P: in -p warn for unrequested protocols; gettoppts;
    removepts (scan ports, then ping ports); the skipped-scan warnings.
    `top_ports` and `port_ratio` are one nmap setting: pass only the one that
    came last on the command line, or pass that setting as `top_level` (nmap's
    o.topportlevel: N >= 1 for --top-ports, R < 1 for --port-ratio, None or -1
    when neither was given).  --servicedb implies -F: pass fast=True.
    `ping_ports` is the TCP ping list when TCP host discovery is on (default
    80,443; -PS/-PA lists merged), else None.  With port_scan=False (-sn, -sL)
    only the exclusion of ping ports happens.
    """
    given = [v for v in (top_ports, port_ratio, top_level) if v is not None]
    if len(given) > 1:
        raise ValueError("top_ports, port_ratio and top_level are one setting: pass one")
    bits = _bits(requested_protocols)
    selector = _Selector(services, bits, warn, debugging, stdout)
    tcp: list[int] = []
    if port_scan:
        if spec is not None and fast:
            raise Fatal(FAST_WITH_PORTS)
        if spec is not None:
            _prefix_warnings(spec, requested_protocols, warn)
        level = float(given[0]) if given else -1.0
        tcp = selector.top_ports(level, spec, fast, exclude_spec)
    ping = None if ping_ports is None else list(ping_ports)
    if exclude_spec is not None:
        if not port_scan:
            # nmap parses a ping-only exclusion for every port protocol
            selector.bits |= TCP | UDP | SCTP
        excluded = selector.getpts(exclude_spec).ports(TCP)
        tcp = selector.remaining(tcp, excluded, "tcp")
        if ping is not None:
            ping = selector.remaining(ping, excluded, "syn_ping")
    if port_scan and "tcp" in requested_protocols and not tcp:
        warn(TCP_SCAN_SKIPPED)
    if ping is not None and not ping:
        warn(TCP_PING_SKIPPED)
    return ScanPorts(tuple(tcp), None if ping is None else tuple(ping))


def select_scan_ports(
    *,
    spec: str | None,
    exclude_spec: str | None,
    fast: bool,
    top_ports: int | None = None,
    port_ratio: float | None = None,
    top_level: float | None = None,
    services: ServiceDB,
    requested_protocols: Collection[str] = ("tcp",),
    warn: Warn,
    debugging: int = 0,
    stdout: Callable[[str], None] | None = None,
) -> tuple[int, ...]:
    """The TCP ports to scan (select_ports without ping ports)."""
    return select_ports(
        spec=spec,
        exclude_spec=exclude_spec,
        fast=fast,
        top_ports=top_ports,
        port_ratio=port_ratio,
        top_level=top_level,
        services=services,
        requested_protocols=requested_protocols,
        warn=warn,
        debugging=debugging,
        stdout=stdout,
    ).tcp


def _prefix_warnings(spec: str, requested: Collection[str], warn: Warn) -> None:
    """nmap warns for every "X:" in -p whose protocol no requested scan uses."""
    raw = _spec_bytes(spec)
    for i in range(len(raw) - 1):
        if raw[i + 1] == 0x3A and raw[i] in PREFIX_WARNINGS:
            proto, text = PREFIX_WARNINGS[raw[i]]
            if proto not in requested:
                warn(text)


# --- order and presentation -------------------------------------------------


def scan_order(ports: Sequence[int], *, randomize: bool, rng: random.Random) -> list[int]:
    """The order ports are probed in: ascending with -r, else nmap's randomisation.

    nmap shuffles the TCP port list uniformly, then walks it and swaps every
    port of a fixed popular set (POPULAR_TCP_PORTS) into the next slot at the
    front, so popular ports are probed first, still in random order among
    themselves.  Ours: shuffle, then a stable partition (popular first).
    """
    order = sorted(ports)
    if not randomize:
        return order
    rng.shuffle(order)
    popular = [p for p in order if p in POPULAR_TCP_PORTS]
    if not popular:
        return order
    return popular + [p for p in order if p not in POPULAR_TCP_PORTS]


def compress_ranges(ports: Iterable[int]) -> str:
    """ "1-25,80": sorted ports with consecutive runs joined (XML scaninfo, -oG "Ports scanned")."""
    values = ports if isinstance(ports, list | tuple) else list(ports)
    if not all(map(operator.lt, values, values[1:])):
        values = sorted(set(values))
    if not values:
        return ""
    if values[-1] - values[0] == len(values) - 1:  # one run, as for -p-
        return str(values[0]) if len(values) == 1 else f"{values[0]}-{values[-1]}"
    # indexes where a run starts: the port is not its predecessor + 1 (found at C speed,
    # as -p- lists 65535 ports)
    successors = map(operator.add, values, itertools.repeat(1))
    breaks = itertools.compress(range(1, len(values)), map(operator.ne, values[1:], successors))
    starts = [0, *breaks]
    ends = [*starts[1:], len(values)]
    return ",".join(
        str(values[a]) if b - a == 1 else f"{values[a]}-{values[b - 1]}"
        for a, b in zip(starts, ends, strict=True)
    )


__all__ = [
    "DUPLICATE_WARNING",
    "NO_PORTS",
    "POPULAR_TCP_PORTS",
    "PortSelection",
    "ScanPorts",
    "compress_ranges",
    "parse_ping_ports",
    "parse_port_ratio_option",
    "parse_port_spec",
    "parse_top_ports_option",
    "scan_order",
    "select_ports",
    "select_scan_ports",
]
