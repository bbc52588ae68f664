"""Reverse DNS of the hosts of a host batch, the way nmap does it.

By default (nmap's "mass DNS") an address is first looked up in a cache
that /etc/hosts fills once (the first name of the first line listing the
address) and every DNS answer of the run extends.  The rest go out at once
as PTR queries over UDP to the nameservers of /etc/resolv.conf, or of
--dns-servers: each server keeps a growing number of queries in flight
(10 to 200), a query is sent again on a fixed schedule of timeouts (4, 4
and 5 s with one server; 2.5 and 4 s with two; 2.5 and 3 s with more) and
then moves to the next server, three servers at most, before the address is
given up.  An answer that only holds a CNAME, or a truncated one, is handed
to the C library afterwards.  --system-dns asks the C library (getnameinfo)
for every address instead, /etc/hosts included.

The resolver prints what nmap prints on the way (task lines, -d progress
and statistics, the "Illegal character(s)" notes) through a reporter; the
wire format is built and read here with nmap's own tolerance and quirks.
"""

from __future__ import annotations

import contextlib
import errno
import os
import random
import select
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from pynmap.plain import FrozenData, PlainData

SockAddr = tuple[Any, ...]

HOSTS_FILE = "/etc/hosts"
RESOLV_CONF = "/etc/resolv.conf"
DNS_PORT = 53

# Retransmission timeouts (ms) on one server, by number of servers (1, 2, 3+).
READ_TIMEOUTS: tuple[tuple[int, ...], ...] = ((4000, 4000, 5000), (2500, 4000), (2500, 3000))
CAPACITY_MIN, CAPACITY_MAX, CAPACITY_UP = 10, 200, 2
CAPACITY_MINOR_DOWN, CAPACITY_MAJOR_DOWN = 0.9, 0.7
SERVERS_TO_TRY = 3
MAX_WAIT_MS = 500  # nmap looks at its timeouts at least this often
SUMMARY_EVERY = 50  # -d progress line after every this many settled addresses
CACHE_LINES = 256  # the cache is pruned when it holds this many names
SYSTEM_THREADS = 16
FQDN_LEN = 254  # longest name nmap's getnameinfo() buffer takes

TYPE_A, TYPE_CNAME, TYPE_PTR, CLASS_IN = 1, 5, 12, 1
RCODE_MASK = 0x0007  # nmap reads only the low three bits of the rcode
RCODE_FORMERR, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_NOTIMP, RCODE_REFUSED = 1, 2, 3, 4, 5
FLAG_RESPONSE, FLAG_TRUNCATED, FLAG_RD, FLAGS_ZERO = 0x8000, 0x0200, 0x0100, 0x0070

ILLEGAL_NOTE = "Illegal character(s) in hostname -- replacing with '*'"
_HOSTNAME_EXTRA = set(".-+=:_~*")


# -- files, read the way nmap's fgets()/sscanf() read them -----------------------------------------
def _c_lines(data: bytes, size: int = 2048) -> Iterator[bytes]:
    """The pieces fgets() with a `size` buffer returns, each cut at a NUL like a C string."""
    start = 0
    while start < len(data):
        newline = data.find(b"\n", start, start + size - 1)
        end = newline + 1 if newline >= 0 else min(len(data), start + size - 1)
        yield data[start:end].split(b"\0", 1)[0]
        start = end


def _clip(line: bytes) -> bytes:
    """nmap drops everything from the first CR, LF or '#', then leading blanks and tabs."""
    for stop in (b"\r", b"\n", b"#"):
        line = line.split(stop, 1)[0]
    return line.lstrip(b" \t")


_C_SPACE = b" \t\n\v\f\r"


def _scan_word(text: bytes, at: int, width: int) -> tuple[bytes, int]:
    """sscanf's %<width>s from `at`: leading white space skipped; (b"", at) when none is left."""
    while at < len(text) and text[at] in _C_SPACE:
        at += 1
    end = at
    while end < len(text) and end - at < width and text[end] not in _C_SPACE:
        end += 1
    return text[at:end], end


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as stream:
        return stream.read()


def hosts_file_entries(path: str = HOSTS_FILE) -> list[tuple[str, str]]:
    """(address, name) for every line of a hosts file nmap takes, in file order.

    Only the first name of a line counts (at most 255 bytes); a file that
    cannot be read gives nothing, silently, as in nmap.
    """
    try:
        data = _read_bytes(path)
    except OSError:
        return []
    entries = []
    for line in _c_lines(data):
        text = _clip(line)
        word, at = _scan_word(text, 0, 46)
        name, _ = _scan_word(text, at, 255)
        if not word or not name:
            continue
        address = canonical(word.decode("latin-1"))
        if address is not None:
            entries.append((address, name.decode("latin-1")))
    return entries


def resolv_conf_words(path: str = RESOLV_CONF) -> list[str]:
    """The nameserver words of resolv.conf in order (OSError if it cannot be read).

    nmap matches "nameserver %46s": the keyword must start the line (after
    blanks) and the white space after it may be missing.
    """
    words = []
    for line in _c_lines(_read_bytes(path)):
        text = _clip(line)
        if text.startswith(b"nameserver"):
            word, _ = _scan_word(text, len(b"nameserver"), 46)
            if word:
                words.append(word.decode("latin-1"))
    return words


def split_servers(text: str) -> list[str]:
    """--dns-servers and resolv.conf words, split on blanks and commas like strtok(" ,")."""
    return [w for w in text.replace(",", " ").split(" ") if w]


def canonical(text: str) -> str | None:
    """The printable form of an IPv6 or IPv4 literal (inet_pton's strict forms), else None."""
    for family in (socket.AF_INET6, socket.AF_INET):
        try:
            return socket.inet_ntop(family, socket.inet_pton(family, text))
        except (OSError, ValueError):
            continue
    return None


def address_key(address: str) -> tuple[int, bytes]:
    """(family, packed address) of a target address; a %scope suffix plays no part."""
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    return family, socket.inet_pton(family, address.split("%", 1)[0])


# -- names ----------------------------------------------------------------------------------------
def sanitize_hostname(name: str) -> tuple[str, int]:
    """nmap's setHostName(): each byte other than ASCII letters, digits and .-+=:_~*
    becomes '*'; returns the name and how many were replaced (one note each)."""
    out = []
    replaced = 0
    for char in name:
        if (char.isascii() and char.isalnum()) or char in _HOSTNAME_EXTRA:
            out.append(char)
        else:
            out.append("*")
            replaced += 1
    return "".join(out), replaced


# -- the wire format ------------------------------------------------------------------------------
def ptr_name(address: str) -> str:
    """The in-addr.arpa / ip6.arpa name asked for an address."""
    family, packed = address_key(address)
    if family == socket.AF_INET6:
        return ".".join(reversed(packed.hex())) + ".ip6.arpa"
    return ".".join(str(b) for b in reversed(packed)) + ".in-addr.arpa"


def build_query(query_id: int, name: str) -> bytes:
    """A standard query with recursion desired for the PTR records of `name`."""
    header = struct.pack("!HHHHHH", query_id & 0xFFFF, FLAG_RD, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p) & 0xFF]) + p.encode("latin-1") for p in name.split("."))
    return header + labels + b"\0" + struct.pack("!HH", TYPE_PTR, CLASS_IN)


def read_name(data: bytes, offset: int) -> tuple[str, int] | None:
    """A domain name at `offset`: (name, bytes used there), or None where nmap gives up.

    As in nmap, a compression pointer must lead before the start of the
    name that contains it (so a loop is impossible), and labels are joined
    with dots as they are, without a trailing dot.
    """
    labels: list[str] = []
    used = 0
    while True:
        if offset + used >= len(data):
            return None
        length = data[offset + used]
        if length == 0:
            used += 1
            break
        if length & 0xC0 == 0xC0:
            if offset + used + 1 >= len(data):
                return None
            target = ((length & 0x3F) << 8) | data[offset + used + 1]
            used += 2
            if target >= offset:
                return None
            rest = read_name(data, target)
            if rest is None:
                return None
            labels.append(rest[0])
            return ".".join(labels), used
        used += 1
        if offset + used + length > len(data):
            return None
        labels.append(data[offset + used : offset + used + length].decode("latin-1"))
        used += length
    return ".".join(labels), used


class Record(FrozenData):
    """One answer record nmap understands (A, CNAME or PTR)."""

    __match_args__ = ("name", "rtype", "rclass", "value")
    __slots__ = __match_args__

    def __init__(self, name: str, rtype: int, rclass: int, value: str) -> None:
        self.name = name
        self.rtype = rtype
        self.rclass = rclass
        self.value = value  # the target name for CNAME and PTR, the dotted address for A


class Response(FrozenData):
    __match_args__ = ("query_id", "flags", "questions", "answers")
    __slots__ = __match_args__

    def __init__(self, query_id: int, flags: int, questions: int,
                 answers: tuple[Record, ...]) -> None:
        self.query_id = query_id
        self.flags = flags
        self.questions = questions
        self.answers = answers

    @property
    def rcode(self) -> int:
        return self.flags & RCODE_MASK


def parse_response(data: bytes) -> Response | None:
    """The header, questions and answers of a DNS message, or None where nmap would
    drop the whole packet: anything cut short, a bad name, or an answer record of a
    type other than A, CNAME and PTR.  Authority and additional records are not read.
    """
    if len(data) < 12:
        return None
    query_id, flags, qdcount, ancount = struct.unpack("!HHHH", data[:8])
    at = 12
    for _ in range(qdcount):
        if len(data) - at <= 5:
            return None
        name = read_name(data, at)
        if name is None or at + name[1] + 4 > len(data):
            return None
        at += name[1] + 4
    answers = []
    for _ in range(ancount):
        if len(data) - at <= 7:
            return None
        owner = read_name(data, at)
        if owner is None:
            return None
        at += owner[1]
        if at + 10 > len(data):
            return None
        rtype, rclass, _ttl, rdlength = struct.unpack("!HHIH", data[at : at + 10])
        at += 10
        if at + rdlength > len(data):
            return None
        if rtype == TYPE_A:
            if at + 4 > len(data):
                return None
            value, used = socket.inet_ntop(socket.AF_INET, data[at : at + 4]), 4
        elif rtype in (TYPE_CNAME, TYPE_PTR):
            target = read_name(data, at)
            if target is None:
                return None
            value, used = target
        else:
            return None
        # nmap goes on after what it parsed, not after rdlength
        at += used
        answers.append(Record(owner[0], rtype, rclass, value))
    return Response(query_id, flags, qdcount, tuple(answers))


_NO_ADDRESS: tuple[int, bytes] = (0, b"")


def ptr_owner_address(name: str) -> tuple[bool, tuple[int, bytes]]:
    """The address an .in-addr.arpa or .ip6.arpa name stands for, read backwards
    digit by digit as nmap does: (False, none) for a bad character, (True, none)
    for a name under neither domain."""
    lowered = name.lower()
    if len(name) >= 13 and lowered.endswith(".in-addr.arpa"):
        octets = [0, 0, 0, 0, 0]  # a fifth label lands in scratch space, as in nmap
        place, index, p = 0, 0, len(name) - 14
        while p >= 0 and index < 4:
            if name[p] == ".":
                place, p, index = 0, p - 1, index + 1
            if p < 0:
                break
            if not "0" <= name[p] <= "9":
                return False, _NO_ADDRESS
            if place < 3:
                octets[index] = (octets[index] + int(name[p]) * (1, 10, 100)[place]) & 0xFF
            place += 1
            p -= 1
        return True, (socket.AF_INET, bytes(octets[:4]))
    if len(name) >= 9 and lowered.endswith(".ip6.arpa"):
        packed = [0] * 16
        high, index, p = True, 0, len(name) - 10
        while p >= 0 and index < 16:
            if name[p] == ".":
                p -= 1
            if p < 0:
                break
            code = ord(name[p]) & 0xFF
            if code < 0x3A:
                nibble = (code - 0x30) & 0xFF
            elif code < 0x47:
                nibble = (code - 0x37) & 0xFF
            elif code < 0x67:
                nibble = (code - 0x57) & 0xFF
            else:
                return False, _NO_ADDRESS
            if nibble > 0xF:
                return False, _NO_ADDRESS
            if high:
                packed[index] = (packed[index] + (nibble << 4)) & 0xFF
            else:
                packed[index] = (packed[index] + nibble) & 0xFF
                index += 1
            high = not high
            p -= 1
        return True, (socket.AF_INET6, bytes(packed))
    return True, _NO_ADDRESS


# -- the cache ------------------------------------------------------------------------------------
class _CacheEntry(PlainData):
    __match_args__ = ("name", "hits")
    __slots__ = __match_args__

    def __init__(self, name: str, hits: int = 0) -> None:
        self.name = name
        self.hits = hits


class HostCache:
    """nmap's name cache: /etc/hosts and every DNS answer of the run.

    The first name stored for an address stays.  When it holds CACHE_LINES
    names, every name never looked up since it was stored is dropped to make
    room (nmap's ageing halves a copy of the counter, so only unused names go).
    """

    def __init__(self) -> None:
        self.entries: dict[tuple[int, bytes], _CacheEntry] = {}

    def lookup(self, key: tuple[int, bytes]) -> str | None:
        entry = self.entries.get(key)
        if entry is None:
            return None
        entry.hits = min(255, entry.hits + 1)
        return entry.name

    def add(self, key: tuple[int, bytes], name: str) -> bool:
        if self.lookup(key) is not None:
            return False
        if len(self.entries) >= CACHE_LINES:
            self.entries = {k: e for k, e in self.entries.items() if e.hits}
        self.entries[key] = _CacheEntry(name)
        return True


# -- sockets --------------------------------------------------------------------------------------
class DatagramSocket(Protocol):
    def send(self, data: bytes, /) -> int: ...
    def recv(self, size: int, /) -> bytes: ...
    def close(self) -> None: ...


class Network(Protocol):
    """Where the mass resolver's queries go: real UDP, or a test's fake."""

    def now(self) -> float: ...
    def open(self, family: int, sockaddr: SockAddr) -> DatagramSocket | None: ...
    def wait(self, socks: Sequence[DatagramSocket], timeout: float) -> list[DatagramSocket]: ...


class _DeadSocket:
    """A server socket that could not be connected: what is sent to it is lost."""

    def send(self, data: bytes, /) -> int:
        return 0

    def recv(self, size: int, /) -> bytes:
        raise BlockingIOError

    def close(self) -> None:
        pass


class UdpNetwork:
    """Connected, non-blocking UDP sockets to port 53; -S and -e apply to them as in nmap."""

    def __init__(self, source: str | None = None, device: str | None = None,
                 port: int = DNS_PORT) -> None:
        self.source = source
        self.device = device
        self.port = port
        self._poll: select.poll | None = None
        self._polled: tuple[int, ...] = ()

    def now(self) -> float:
        return time.monotonic()

    def open(self, family: int, sockaddr: SockAddr) -> DatagramSocket | None:
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM)
        except OSError:
            return None
        sock.setblocking(False)
        # nsock carries on quietly when these fail, and so do we
        if self.source:
            with contextlib.suppress(OSError):
                sock.bind((self.source, 0))
        if self.device:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.device.encode())
        try:
            sock.connect((sockaddr[0], self.port, *sockaddr[2:]))
        except OSError:
            sock.close()
            return _DeadSocket()
        return sock

    def wait(self, socks: Sequence[DatagramSocket], timeout: float) -> list[DatagramSocket]:
        real = {s.fileno(): s for s in socks if isinstance(s, socket.socket)}
        if not real:
            time.sleep(max(0.0, timeout))
            return []
        if self._polled != tuple(real):  # a new batch: new sockets
            self._poll = select.poll()
            for fd in real:
                self._poll.register(fd, select.POLLIN)
            self._polled = tuple(real)
        assert self._poll is not None
        return [real[fd] for fd, _ in self._poll.poll(max(0.0, timeout) * 1000)]


# -- the mass resolver ----------------------------------------------------------------------------
class Stats(PlainData):
    """nmap's counters for one batch, as its -d/-v3 summary line shows them."""

    __match_args__ = ("actual", "ok", "nx", "dropped", "servfail", "sent", "cname", "servers",
                      "millis")
    __slots__ = __match_args__

    def __init__(self, actual: int = 0, ok: int = 0, nx: int = 0, dropped: int = 0,
                 servfail: int = 0, sent: int = 0, cname: int = 0, servers: int = 0,
                 millis: int = 0) -> None:
        self.actual = actual  # addresses that needed DNS (all of them with --system-dns)
        self.ok = ok
        self.nx = nx
        self.dropped = dropped
        self.servfail = servfail
        self.sent = sent  # TR: transmissions
        self.cname = cname  # CN: deferred to the C library and named there
        self.servers = servers
        self.millis = millis

    @property
    def seconds(self) -> float:
        return self.millis / 1000.0

    @property
    def settled(self) -> int:
        return self.ok + self.nx + self.dropped


class _Server:
    def __init__(self, label: str, family: int, sockaddr: SockAddr) -> None:
        self.label = label  # as the user or resolv.conf wrote it
        self.family = family
        self.sockaddr = sockaddr
        self.sock: DatagramSocket | None = None
        self.capacity = CAPACITY_MIN
        self.on_wire = 0
        self.queue: deque[_Request] = deque()
        self.in_process: deque[_Request] = deque()

    def scale(self, factor: float) -> None:
        self.capacity = min(CAPACITY_MAX, max(CAPACITY_MIN, int(self.capacity * factor)))

    def grow(self) -> None:
        self.capacity = min(CAPACITY_MAX, max(CAPACITY_MIN, self.capacity + CAPACITY_UP))


class _Request:
    def __init__(self, address: str, key: tuple[int, bytes]) -> None:
        self.address = address
        self.key = key
        self.name: str | None = None
        self.first: _Server | None = None
        self.server: _Server | None = None
        self.tries = 0  # sent this many times to `server`
        self.servers_tried = 0
        self.query_id = 0
        self.deadline = 0.0


_FINISHED, _SYSTEM, _TIMEOUT = 0, 1, 2
_ICMP_ERRORS = frozenset({errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH})


class MassResolver:
    """One batch of PTR queries over UDP (nmap's nmap_mass_rdns_core loop).

    `name_found(request, name)` is called for every name a server gives;
    `debug(line)` gets the -d lines.  Returns the requests to hand to the
    C library (CNAME-only or truncated answers).
    """

    def __init__(self, servers: list[_Server], network: Network, stats: Stats,
                 name_found: Callable[[_Request, str], None],
                 debug: Callable[[str], None] | None, started: float,
                 next_id: int) -> None:
        self.servers = servers
        self.network = network
        self.stats = stats
        self.name_found = name_found
        self.debug = debug
        self.started = started
        self.next_id = next_id
        self.row = READ_TIMEOUTS[min(len(READ_TIMEOUTS), len(servers)) - 1]
        self.new: deque[_Request] = deque()
        self.records: dict[int, _Request] = {}
        self.deferred: list[_Request] = []
        self.total = 0
        self.now = network.now()
        self.earliest = float("inf")  # no deadline comes before this

    def run(self, requests: list[_Request]) -> list[_Request]:
        self.new.extend(requests)
        self.total = len(requests)
        for server in self.servers:
            server.sock = self.network.open(server.family, server.sockaddr)
            server.capacity, server.on_wire = CAPACITY_MIN, 0
            server.queue.clear()
            server.in_process.clear()
        socks = {id(s.sock): s for s in self.servers if s.sock is not None}
        open_socks = [s.sock for s in self.servers if s.sock is not None]
        try:
            while self.total > 0:
                self.now = self.network.now()
                timeout = self._expire()
                self._write()
                if self.total <= 0:
                    break
                ready = self.network.wait(open_socks, timeout / 1000)
                self.now = self.network.now()
                for sock in ready:
                    answering = socks.get(id(sock))
                    if answering is not None:
                        self._read(answering)
        finally:
            for server in self.servers:
                if server.sock is not None:
                    with contextlib.suppress(OSError):
                        server.sock.close()
                    server.sock = None
        return self.deferred

    # The -d progress line; nmap prints it before counting the answer it is about.
    def _progress(self) -> None:
        s = self.stats
        if self.debug is not None and s.settled % SUMMARY_EVERY == 0:
            elapsed = int((self.now - self.started) * 1000) / 1000.0
            self.debug(f"mass_rdns: {elapsed:.2f}s {s.settled}/{s.actual} [#: {len(self.servers)}, "
                       f"OK: {s.ok}, NX: {s.nx}, DR: {s.dropped}, SF: {s.servfail}, "
                       f"TR: {s.sent}]")

    def _write(self, *, rounds: int = -1) -> None:
        """Fill every server up to its capacity: its own retries first, then new
        addresses, which go to the servers in turn.  After an answer nmap sends
        one query per server at once and the rest as its writes complete
        (`rounds=1`); what an -d progress line counts depends on it."""
        progress = True
        while progress and rounds != 0:
            rounds -= 1
            progress = False
            for server in self.servers:
                if server.on_wire >= server.capacity:
                    continue
                if server.queue:
                    request = server.queue.popleft()
                elif self.new:
                    request = self.new.popleft()
                    request.first = request.server = server
                else:
                    continue
                self._transmit(request, server)
                progress = True

    def _transmit(self, request: _Request, server: _Server) -> None:
        request.query_id = self.next_id
        self.next_id = (self.next_id + 1) & 0xFFFF
        server.on_wire += 1
        request.deadline = self.now + self.row[request.tries] / 1000
        self.earliest = min(self.earliest, request.deadline)
        request.tries += 1
        self.stats.sent += 1
        if server.sock is not None:
            self._send(server.sock, build_query(request.query_id, ptr_name(request.address)))
        server.in_process.appendleft(request)
        self.records[request.query_id] = request

    def _send(self, sock: DatagramSocket, packet: bytes) -> None:
        for _ in range(2):
            try:
                sock.send(packet)
                return
            except OSError as exc:
                # An ICMP error left by an earlier query surfaces here: nsock's
                # read, always pending, takes it first and the query still goes
                # out.  Anything else loses the query, quietly, as in nmap.
                if exc.errno not in _ICMP_ERRORS:
                    return
                self._read_error()

    def _read_error(self) -> None:
        if self.debug is not None:
            self.debug("mass_dns: warning: got a READ:ERROR in read_evt_handler()")

    def _expire(self) -> int:
        """Retry or move on whatever is overdue; returns ms until the next deadline (<= 500)."""
        # `earliest` never exceeds the true first deadline, so nothing can be
        # overdue before it: skip the scan (it runs once per datagram read)
        ahead = self.earliest - self.now
        if ahead * 1000 >= MAX_WAIT_MS:
            return MAX_WAIT_MS
        if int(ahead * 1000) > 0:
            return int(ahead * 1000)
        self.earliest = float("inf")
        soonest = MAX_WAIT_MS
        for index, server in enumerate(self.servers):
            for request in list(server.in_process):
                left = int((request.deadline - self.now) * 1000)
                if left > 0:
                    soonest = min(soonest, left)
                    self.earliest = min(self.earliest, request.deadline)
                    continue
                server.scale(CAPACITY_MINOR_DOWN)
                server.in_process.remove(request)
                if self.records.get(request.query_id) is request:
                    del self.records[request.query_id]
                server.on_wire -= 1
                if request.tries < len(self.row):
                    server.queue.append(request)
                    continue
                server.scale(CAPACITY_MAJOR_DOWN)
                following = self.servers[(index + 1) % len(self.servers)]
                request.server = following
                request.tries = 0
                request.servers_tried += 1
                if following is request.first or request.servers_tried == SERVERS_TO_TRY:
                    self._progress()
                    self.stats.dropped += 1
                    self.total -= 1
                else:
                    following.queue.append(request)
        return soonest

    def _read(self, server: _Server) -> None:
        """One datagram per round, as nsock reads: writes get their turn in between."""
        assert server.sock is not None
        try:
            data = server.sock.recv(8192)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:  # an ICMP error from the server's host, e.g. port unreachable
            self._read_error()
            return
        if not data:
            if self.debug is not None:
                self.debug("mass_dns: warning: got a READ:EOF in read_evt_handler()")
            return
        self._answer(data)

    def _settle(self, key: tuple[int, bytes] | None, name: str, action: int,
                query_id: int) -> bool:
        """nmap's process_result(): False when the answer is not for a query in flight."""
        request = self.records.get(query_id)
        if request is None:
            return False
        if name and key != request.key:
            return False
        server = request.server
        assert server is not None
        if action == _TIMEOUT:
            request.deadline = self.earliest = self.now
            self._expire()
        else:
            server.grow()
            if name:
                self.name_found(request, name)
            del self.records[query_id]
            with contextlib.suppress(ValueError):
                server.in_process.remove(request)
            server.on_wire -= 1
            self.total -= 1
            if action == _SYSTEM:
                self.deferred.append(request)
        self._write(rounds=1)
        return True

    def _answer(self, data: bytes) -> None:
        response = parse_response(data)
        if response is None or not response.questions:
            return
        flags, rcode = response.flags, response.rcode
        if (not flags & FLAG_RESPONSE or flags & FLAGS_ZERO
                or rcode in (RCODE_FORMERR, RCODE_NOTIMP, RCODE_REFUSED)):
            return
        if rcode == RCODE_NXDOMAIN:
            if self._settle(None, "", _FINISHED, response.query_id):
                self._progress()
                self.stats.nx += 1
            return
        if rcode == RCODE_SERVFAIL:
            if self._settle(None, "", _TIMEOUT, response.query_id):
                self.stats.servfail += 1
            return
        done = False
        owner: tuple[int, bytes] = _NO_ADDRESS
        alias = ""
        for record in response.answers:
            if done:
                break
            if record.rclass != CLASS_IN:
                continue
            if record.rtype == TYPE_PTR:
                matches = owner[0] != 0 and record.name == alias
                if not matches:
                    matches, owner = ptr_owner_address(record.name)
                if matches:
                    done = self._settle(owner, record.value, _FINISHED, response.query_id)
                    if done:
                        self._progress()
                        self.stats.ok += 1
            elif record.rtype == TYPE_CNAME:
                valid, owner = ptr_owner_address(record.name)
                if valid:
                    alias = record.value
        # nmap leaves the rest to the C library; an answer with nothing usable is
        # ignored, and the query is sent again when it times out
        if not done and (flags & FLAG_TRUNCATED or alias):
            self._settle(owner, "", _SYSTEM, response.query_id)


# -- the C library --------------------------------------------------------------------------------
def system_name(address: str) -> str | None:
    """getnameinfo(NI_NAMEREQD): the name the C library finds (/etc/hosts, then DNS)."""
    family, _ = address_key(address)
    sockaddr = (address, 0) if family == socket.AF_INET else (address, 0, 0, 0)
    try:
        host, _ = socket.getnameinfo(sockaddr, socket.NI_NAMEREQD)
    except (OSError, UnicodeError):
        return None
    raw = host.encode("utf-8", "surrogateescape").decode("latin-1")
    if not raw or len(raw) > FQDN_LEN:
        return None
    return raw


# -- the resolver of a run ------------------------------------------------------------------------
class Lookup(PlainData):
    """One batch's result: the names found, and nmap's counters."""

    __match_args__ = ("names", "stats", "system", "sent")
    __slots__ = __match_args__

    def __init__(self, names: dict[str, str], stats: Stats, system: bool, sent: bool) -> None:
        self.names = names
        self.stats = stats
        self.system = system
        self.sent = sent  # a DNS task ran (its Initiating/Completed lines were due)


class Reporter(Protocol):
    """What the resolver prints through: nmap's task lines and its stdout-only lines."""

    def task_begin(self, task: str, when: float) -> None: ...
    def task_end(self, task: str, when: float, extrainfo: str | None = None) -> None: ...
    def interactive(self, text: str, *, flush: bool = True) -> None: ...


def task_name(count: int, *, system: bool) -> str:
    """The DNS task as nmap names it; note the period inside, and "hosts" for 0."""
    kind = "System" if system else "Parallel"
    return f"{kind} DNS resolution of {count} host{'' if count == 1 else 's'}."


def summary_line(stats: Stats, *, system: bool) -> str:
    """The -v3/-d line after a batch's reverse DNS (only when stats.actual > 0)."""
    if system:
        return (f"DNS resolution of {stats.actual} IPs took {stats.seconds:.2f}s. Mode: System "
                f"[OK: {stats.ok}, ??: {stats.actual - stats.ok}]")
    return (f"DNS resolution of {stats.actual} IPs took {stats.seconds:.2f}s. Mode: Async "
            f"[#: {stats.servers}, OK: {stats.ok}, NX: {stats.nx}, DR: {stats.dropped}, "
            f"SF: {stats.servfail}, TR: {stats.sent}, CN: {stats.cname}]")


Starting = Callable[[int, bool], None]


class ReverseResolver:
    """Reverse DNS for a whole run: one `lookup` per host batch.

    With a `reporter` the resolver prints everything nmap prints for the DNS
    phase: the tasks (Initiating/Completed, and the System task of deferred
    addresses), the "Illegal character(s)" notes, and with -d (`debugging`)
    or -v3 (`verbosity`) the server list, progress and summary lines.
    Without one (the older interface) only `debug` gets the -d lines and
    `starting(count, system)` announces the first task; the caller prints the
    rest.
    """

    def __init__(self, *, system: bool = False, dns_servers: str | None = None,
                 warn: Callable[[str], None] | None = None,
                 debug: Callable[[str], None] | None = None,
                 reporter: Reporter | None = None, verbosity: int = 0, debugging: int = 0,
                 source: str | None = None, device: str | None = None,
                 hosts_file: str = HOSTS_FILE, resolv_conf: str = RESOLV_CONF,
                 network: Network | None = None,
                 system_lookup: Callable[[str], str | None] = system_name,
                 clock: Callable[[], float] | None = None) -> None:
        self.system = system
        self.dns_servers = dns_servers
        self.warn = warn or (lambda _line: None)
        self.reporter = reporter
        self.verbosity = verbosity
        self.debugging = debugging
        if debug is None and reporter is not None and debugging:
            debug = reporter.interactive
        self.debug = debug
        self.source = source
        self.hosts_file = hosts_file
        self.resolv_conf = resolv_conf
        self.network: Network = network or UdpNetwork(source, device)
        self.system_lookup = system_lookup
        self.clock = clock or self.network.now
        self.servers: list[_Server] | None = None  # chosen on the first lookup
        self.cache: HostCache | None = None  # filled from hosts_file on the first lookup
        self.first_run = True
        self.next_id = random.getrandbits(16)

    # -- what nmap prints ------------------------------------------------------------------------
    def _note(self, line: str) -> None:
        if self.reporter is not None:
            self.reporter.interactive(line)

    def _named(self, name: str) -> str:
        clean, replaced = sanitize_hostname(name)
        for _ in range(replaced):
            self._note(ILLEGAL_NOTE)
        return clean

    def _begin(self, task: str, count: int, system: bool, starting: Starting | None,
               first: bool) -> None:
        if self.reporter is not None:
            self.reporter.task_begin(task, time.time())
        elif starting is not None and first:
            starting(count, system)

    def _end(self, task: str) -> None:
        if self.reporter is not None:
            self.reporter.task_end(task, time.time(), None)

    # -- servers and files ---------------------------------------------------------------------------
    def _choose_servers(self) -> list[_Server]:
        words: list[str] = []
        if self.dns_servers is not None:
            words = split_servers(self.dns_servers)
        else:
            try:
                for word in resolv_conf_words(self.resolv_conf):
                    words.extend(split_servers(word))
            except OSError as exc:
                self.warn("mass_dns: warning: Unable to open /etc/resolv.conf. Try using "
                          "--system-dns or specify valid servers with --dns-servers: "
                          f"{os.strerror(exc.errno or 2)}")
        family = socket.AF_UNSPEC
        if self.source:  # with -S nmap looks servers up in the scan's address family
            family = socket.AF_INET6 if ":" in self.source else socket.AF_INET
        chosen: list[_Server] = []
        for word in words:
            try:
                infos = socket.getaddrinfo(word, None, family, socket.SOCK_DGRAM)
            except (OSError, UnicodeError, ValueError):
                continue
            if not infos:
                continue
            found_family, _, _, _, sockaddr = infos[0]
            if any(s.family == found_family and s.sockaddr == sockaddr for s in chosen):
                continue
            chosen.append(_Server(word, found_family, sockaddr))
            if self.debug is not None:
                self.debug(f"mass_rdns: Using DNS server {word}")
        # nmap puts each new server at the front: the last one listed is asked first
        return list(reversed(chosen))

    def _load_cache(self) -> HostCache:
        cache = HostCache()
        for address, name in hosts_file_entries(self.hosts_file):
            cache.add(address_key(address), name)
        return cache

    # -- lookups -----------------------------------------------------------------------------------
    def lookup(self, addresses: Iterable[str], starting: Starting | None = None) -> Lookup:
        """Names for the `addresses` of one host batch (those up, or all with -R).

        An address listed twice is looked up twice, as nmap does."""
        started = self.clock()
        wanted = list(addresses)
        try:
            if self.system:
                result = self._lookup_system(wanted, starting)
            else:
                result = self._lookup_mass(wanted, starting, started)
        finally:
            self.first_run = False
        result.stats.millis = int((self.clock() - started) * 1000)
        if result.stats.actual and self.reporter is not None and (
                self.debugging or self.verbosity >= 3):
            self.reporter.interactive(summary_line(result.stats, system=result.system),
                                     flush=False)
        return result

    def _lookup_system(self, wanted: list[str], starting: Starting | None) -> Lookup:
        stats = Stats(actual=len(wanted))
        task = task_name(len(wanted), system=True)
        self._begin(task, len(wanted), True, starting, True)
        names: dict[str, str] = {}
        for address, name in zip(wanted, self._ask_system(wanted), strict=True):
            if name is not None:
                stats.ok += 1
                names[address] = self._named(name)
        self._end(task)
        return Lookup(names, stats, True, True)

    def _ask_system(self, wanted: list[str]) -> list[str | None]:
        # nmap asks one address after another; the answers are the same in parallel
        if len(wanted) <= 1:
            return [self.system_lookup(a) for a in wanted]
        from concurrent.futures import ThreadPoolExecutor  # threads only for --system-dns

        with ThreadPoolExecutor(max_workers=min(SYSTEM_THREADS, len(wanted))) as pool:
            return list(pool.map(self.system_lookup, wanted))

    def _lookup_mass(self, wanted: list[str], starting: Starting | None,
                     started: float) -> Lookup:
        if self.servers is None:
            self.servers = self._choose_servers()
        if not self.servers and self.first_run:
            self.warn("mass_dns: warning: Unable to determine any DNS servers. Reverse DNS is "
                      "disabled. Try using --system-dns or specify valid servers with "
                      "--dns-servers")
        if self.cache is None:
            self.cache = self._load_cache()
        cache = self.cache
        stats = Stats(servers=len(self.servers))
        names: dict[str, str] = {}
        requests: list[_Request] = []
        for address in wanted:
            key = address_key(address)
            cached = cache.lookup(key)
            if cached is not None:
                names[address] = self._named(cached)
                continue
            requests.append(_Request(address, key))
        stats.actual = len(requests)
        if not requests or not self.servers:
            return Lookup(names, stats, False, False)

        def name_found(request: _Request, name: str) -> None:
            request.name = self._named(name)
            cache.add(request.key, name)

        task = task_name(len(requests), system=False)
        self._begin(task, len(requests), False, starting, True)
        resolver = MassResolver(self.servers, self.network, stats, name_found, self.debug,
                                started, self.next_id)
        deferred = resolver.run(requests)
        self.next_id = resolver.next_id
        self._end(task)
        if deferred:
            if self.debug is not None:
                self.debug(f"Performing system-dns for {len(deferred)} domain names that "
                           "were deferred")
            task = task_name(len(deferred), system=True)
            self._begin(task, len(deferred), True, starting, False)
            for request in deferred:
                name = self.system_lookup(request.address)
                if name is not None:
                    stats.ok += 1
                    stats.cname += 1
                    request.name = self._named(name)
            self._end(task)
        for request in requests:
            if request.name is not None:
                names[request.address] = request.name
        return Lookup(names, stats, False, True)
