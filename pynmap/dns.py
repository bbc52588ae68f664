"""Reverse DNS of the hosts in a host batch, the way nmap does it.

An address is looked up in /etc/hosts first (the first name of the first
line that lists it); earlier answers are remembered for the whole run.
The rest go out at once as PTR queries over UDP to the nameservers of
/etc/resolv.conf, or of --dns-servers: each server takes a growing number
of queries in flight (10 to 200), each query is retried on a fixed
schedule of timeouts (4, 4 and 5 s with one server; shorter with more)
and then moves to the next server, at most three servers per address.
--system-dns asks the C library instead (getnameinfo), one address at a
time, /etc/hosts included.
"""

from __future__ import annotations

import contextlib
import os
import random
import selectors
import socket
import struct
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

HOSTS_FILE = "/etc/hosts"
RESOLV_CONF = "/etc/resolv.conf"

# Retransmission timeouts (ms) per try on one server, by number of servers (1, 2, 3+).
READ_TIMEOUTS = ((4000, 4000, 5000), (2500, 4000), (2500, 3000))
CAPACITY_MIN, CAPACITY_MAX, CAPACITY_UP = 10, 200, 2
CAPACITY_MINOR_DOWN, CAPACITY_MAJOR_DOWN = 0.9, 0.7
SERVERS_TO_TRY = 3
_PTR, _CNAME, _CLASS_IN = 12, 5, 1
_RCODE_SERVFAIL, _RCODE_NXDOMAIN = 2, 3


# -- files ------------------------------------------------------------------------------------
def read_hosts_file(path: str = HOSTS_FILE) -> dict[str, str]:
    """address -> first name, from the first line naming the address."""
    names: dict[str, str] = {}
    try:
        with open(path, encoding="latin-1") as stream:
            for line in stream:
                words = line.split("#", 1)[0].split()
                if len(words) < 2:
                    continue
                address = canonical(words[0])
                if address is not None:
                    names.setdefault(address, words[1])
    except OSError:
        pass
    return names


def canonical(text: str) -> str | None:
    family = socket.AF_INET6 if ":" in text else socket.AF_INET
    try:
        return socket.inet_ntop(family, socket.inet_pton(family, text))
    except (OSError, ValueError):
        return None


def resolv_conf_servers(path: str = RESOLV_CONF) -> list[str]:
    """The `nameserver` words of resolv.conf in order (OSError if it cannot be read)."""
    with open(path, encoding="latin-1") as stream:
        lines = stream.readlines()
    servers = []
    for line in lines:
        line = line.split("#", 1)[0].split("\r", 1)[0].strip(" \t\n")
        words = line.split()
        if len(words) >= 2 and words[0] == "nameserver":
            servers.append(words[1][:46])
    return servers


# -- the wire format ----------------------------------------------------------------------------
def ptr_name(address: str) -> str:
    """in-addr.arpa / ip6.arpa name of an address."""
    if ":" in address:
        digits = socket.inet_pton(socket.AF_INET6, address).hex()
        return ".".join(reversed(digits)) + ".ip6.arpa"
    return ".".join(reversed(address.split("."))) + ".in-addr.arpa"


def build_query(query_id: int, name: str) -> bytes:
    """A recursive PTR query for `name`."""
    header = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    labels = b"".join(bytes([len(p)]) + p.encode("ascii") for p in name.split(".") if p)
    return header + labels + b"\0" + struct.pack("!HH", _PTR, _CLASS_IN)


class MalformedAnswer(ValueError):
    pass


def _read_name(data: bytes, offset: int) -> tuple[str, int]:
    """A possibly compressed domain name at `offset`; returns it and the offset after it."""
    labels: list[str] = []
    end = None
    jumps = 0
    while True:
        if offset >= len(data):
            raise MalformedAnswer("name runs past the packet")
        length = data[offset]
        if length & 0xC0 == 0xC0:
            if offset + 1 >= len(data) or jumps > 32:
                raise MalformedAnswer("bad compression pointer")
            if end is None:
                end = offset + 2
            offset = ((length & 0x3F) << 8) | data[offset + 1]
            jumps += 1
            continue
        if length & 0xC0:
            raise MalformedAnswer("unknown label type")
        offset += 1
        if length == 0:
            break
        labels.append(data[offset : offset + length].decode("latin-1"))
        offset += length
    return ".".join(labels), end if end is not None else offset


@dataclass(frozen=True)
class Answer:
    query_id: int
    rcode: int
    name: str | None  # the PTR target, if the answer holds one
    cnames: int


def parse_answer(data: bytes) -> Answer:
    if len(data) < 12:
        raise MalformedAnswer("short header")
    query_id, flags, qdcount, ancount = struct.unpack("!HHHH", data[:8])
    if not flags & 0x8000:
        raise MalformedAnswer("not a response")
    offset = 12
    for _ in range(qdcount):
        _, offset = _read_name(data, offset)
        offset += 4
    name = None
    cnames = 0
    for _ in range(ancount):
        _, offset = _read_name(data, offset)
        if offset + 10 > len(data):
            raise MalformedAnswer("short record")
        rtype, _rclass, _ttl, rdlength = struct.unpack("!HHIH", data[offset : offset + 10])
        offset += 10
        if rtype == _PTR and name is None:
            name, _ = _read_name(data, offset)
        elif rtype == _CNAME:
            cnames += 1
        offset += rdlength
    return Answer(query_id, flags & 0xF, name, cnames)


# -- the resolver -------------------------------------------------------------------------------
@dataclass
class Stats:
    """nmap's counters for one batch: what its -v3/-d summary line shows."""

    actual: int = 0  # addresses that needed DNS
    ok: int = 0
    nx: int = 0
    dropped: int = 0
    servfail: int = 0
    sent: int = 0
    cname: int = 0
    servers: int = 0
    seconds: float = 0.0


@dataclass
class _Server:
    address: str
    sock: socket.socket
    capacity: int = CAPACITY_MIN
    in_flight: int = 0
    queue: deque[_Request] = field(default_factory=deque)


@dataclass
class _Request:
    address: str
    server: int
    first_server: int
    tries: int = 0
    servers_tried: int = 0
    query_id: int = 0
    deadline: float = 0.0


class MassResolver:
    """PTR lookups for many addresses at once over UDP (nmap's mass_rdns)."""

    def __init__(self, servers: list[str], *, clock: Callable[[], float] = time.monotonic,
                 rng: random.Random | None = None,
                 debug: Callable[[str], None] | None = None,
                 port: int = 53,
                 timeouts: tuple[tuple[int, ...], ...] = READ_TIMEOUTS) -> None:
        self.server_names = servers
        self.debug = debug
        self.port = port
        self.timeouts = timeouts
        self.clock = clock
        self.rng = rng or random.Random()

    def resolve(self, addresses: list[str], stats: Stats) -> dict[str, str]:
        found: dict[str, str] = {}
        servers = self._open()
        stats.servers = len(servers)
        if not servers or not addresses:
            for server in servers:
                server.sock.close()
            return found
        row = self.timeouts[min(len(self.timeouts), len(servers)) - 1]
        pending: dict[tuple[int, int], _Request] = {}  # (server, query id) -> request
        for address in addresses:
            servers[0].queue.append(_Request(address, 0, 0))
        remaining = len(addresses)
        selector = selectors.DefaultSelector()
        for index, server in enumerate(servers):
            selector.register(server.sock, selectors.EVENT_READ, index)
        begun = self.clock()
        try:
            while remaining:
                now = self.clock()
                self._send(servers, pending, row, now, stats)
                if self.debug is not None and begun == now:
                    # nmap's -d progress snapshot; its counts depend on timing
                    self.debug(f"mass_rdns: {now - begun:.2f}s 0/{len(addresses)} "
                               f"[#: {len(servers)}, OK: 0, NX: 0, DR: 0, SF: 0, "
                               f"TR: {stats.sent}]")
                remaining -= self._expire(servers, pending, row, now, stats)
                if not remaining:
                    break
                deadlines = [r.deadline for r in pending.values()]
                wait = max(0.0, min(deadlines) - self.clock()) if deadlines else 0.05
                for key, _ in selector.select(min(wait, 0.5)):
                    remaining -= self._receive(servers, key.data, pending, found, stats)
        finally:
            selector.close()
            for server in servers:
                server.sock.close()
        return found

    def _open(self) -> list[_Server]:
        servers: list[_Server] = []
        for name in self.server_names:
            try:
                infos = socket.getaddrinfo(name, self.port, 0, socket.SOCK_DGRAM, 0,
                                           socket.AI_NUMERICHOST)
                family, _, _, _, sockaddr = infos[0]
                sock = socket.socket(family, socket.SOCK_DGRAM)
            except (OSError, IndexError, UnicodeError):
                continue
            try:
                sock.setblocking(False)
                sock.connect(sockaddr)
            except OSError:
                sock.close()
                continue
            servers.append(_Server(name, sock))
        return servers

    def _send(self, servers: list[_Server], pending: dict[tuple[int, int], _Request],
              row: tuple[int, ...], now: float, stats: Stats) -> None:
        for index, server in enumerate(servers):
            while server.queue and server.in_flight < server.capacity:
                request = server.queue.popleft()
                request.query_id = self.rng.getrandbits(16)
                while (index, request.query_id) in pending:
                    request.query_id = self.rng.getrandbits(16)
                with contextlib.suppress(OSError):  # a refused send is a lost query
                    server.sock.send(build_query(request.query_id, ptr_name(request.address)))
                stats.sent += 1
                request.deadline = now + row[request.tries] / 1000
                pending[(index, request.query_id)] = request
                server.in_flight += 1

    def _expire(self, servers: list[_Server], pending: dict[tuple[int, int], _Request],
                row: tuple[int, ...], now: float, stats: Stats) -> int:
        """Time out what is overdue; returns how many addresses were given up."""
        dropped = 0
        for key in [k for k, r in pending.items() if r.deadline <= now]:
            request = pending.pop(key)
            server = servers[request.server]
            server.in_flight -= 1
            server.capacity = max(CAPACITY_MIN, int(server.capacity * CAPACITY_MINOR_DOWN))
            request.tries += 1
            if request.tries < len(row):
                server.queue.append(request)
                continue
            server.capacity = max(CAPACITY_MIN, int(server.capacity * CAPACITY_MAJOR_DOWN))
            request.server = (request.server + 1) % len(servers)
            request.tries = 0
            request.servers_tried += 1
            if request.server == request.first_server or request.servers_tried == SERVERS_TO_TRY:
                stats.dropped += 1
                dropped += 1
            else:
                servers[request.server].queue.append(request)
        return dropped

    def _receive(self, servers: list[_Server], index: int,
                 pending: dict[tuple[int, int], _Request], found: dict[str, str],
                 stats: Stats) -> int:
        """Read what the server sent; returns how many addresses got their final answer."""
        server = servers[index]
        settled = 0
        while True:
            try:
                data = server.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return settled
            except OSError:  # ICMP port unreachable from a dead server: the query times out
                return settled
            try:
                answer = parse_answer(data)
            except (MalformedAnswer, UnicodeError, struct.error):
                continue
            request = pending.pop((index, answer.query_id), None)
            if request is None:
                continue
            server.in_flight -= 1
            server.capacity = min(CAPACITY_MAX, server.capacity + CAPACITY_UP)
            stats.cname += answer.cnames
            if answer.rcode == 0 and answer.name:
                found[request.address] = answer.name
                stats.ok += 1
            elif answer.rcode == _RCODE_SERVFAIL:
                stats.servfail += 1
            else:
                stats.nx += 1
            settled += 1


@dataclass
class Lookup:
    """One batch's result: names found, and what the progress lines need."""

    names: dict[str, str]
    stats: Stats
    system: bool
    sent: bool  # something went to DNS (Initiating/Completed lines)


class ReverseResolver:
    """Reverse DNS for a whole run: /etc/hosts, a cache of answers, then DNS."""

    def __init__(self, *, system: bool = False, dns_servers: str | None = None,
                 warn: Callable[[str], None] | None = None,
                 debug: Callable[[str], None] | None = None,
                 hosts: dict[str, str] | None = None,
                 resolv_conf: str = RESOLV_CONF) -> None:
        self.system = system
        self.dns_servers = dns_servers
        self.warn = warn or (lambda _line: None)
        self.debug = debug
        self.hosts = read_hosts_file() if hosts is None else hosts
        self.resolv_conf = resolv_conf
        self.cache: dict[str, str] = dict(self.hosts)
        self.servers: list[str] | None = None  # chosen on the first lookup

    def _choose_servers(self) -> list[str]:
        words: list[str] = []
        if self.dns_servers is not None:
            words = [w for w in self.dns_servers.replace(",", " ").split() if w]
        else:
            try:
                words = resolv_conf_servers(self.resolv_conf)
            except OSError as exc:
                self.warn("mass_dns: warning: Unable to open /etc/resolv.conf. Try using "
                          "--system-dns or specify valid servers with --dns-servers: "
                          f"{os.strerror(exc.errno or 2)}")
        chosen: list[str] = []
        for word in words:
            address = canonical(word)
            if address is None or address in chosen:
                continue
            chosen.append(address)
            if self.debug is not None:
                self.debug(f"mass_rdns: Using DNS server {word}")
        if not chosen:
            self.warn("mass_dns: warning: Unable to determine any DNS servers. Reverse DNS is "
                      "disabled. Try using --system-dns or specify valid servers with "
                      "--dns-servers")
        # nmap adds each server at the front of its list: the last one listed is asked first
        return list(reversed(chosen))

    def lookup(self, addresses: Iterable[str],
               starting: Callable[[int, bool], None] | None = None) -> Lookup:
        """Names for `addresses`.  `starting(count, system)` is called just before
        anything is sent to DNS (the "Initiating ..." line)."""
        started = time.monotonic()
        stats = Stats()
        wanted = list(dict.fromkeys(addresses))
        if self.system:
            names = {}
            if wanted and starting is not None:
                starting(len(wanted), True)
            for address in wanted:
                stats.actual += 1
                name = _system_name(address)
                if name is not None:
                    names[address] = name
                    stats.ok += 1
            stats.seconds = time.monotonic() - started
            return Lookup(names, stats, True, bool(wanted))
        if self.servers is None:
            self.servers = self._choose_servers()
        names = {a: self.cache[a] for a in wanted if a in self.cache}
        ask = [a for a in wanted if a not in self.cache]
        stats.actual = len(ask)
        stats.servers = len(self.servers)
        sent = bool(ask) and bool(self.servers)
        if sent:
            if starting is not None:
                starting(len(ask), False)
            answers = MassResolver(self.servers, debug=self.debug).resolve(ask, stats)
            self.cache.update(answers)
            names.update(answers)
        stats.seconds = time.monotonic() - started
        return Lookup(names, stats, False, sent)


def _system_name(address: str) -> str | None:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        host, _ = socket.getnameinfo((address, 0) if family == socket.AF_INET
                                     else (address, 0, 0, 0), socket.NI_NAMEREQD)
    except (OSError, UnicodeError):
        return None
    return host or None


def summary_line(stats: Stats, *, system: bool) -> str:
    """The -v3/-d line after a batch's reverse DNS."""
    if system:
        return (f"DNS resolution of {stats.actual} IPs took {stats.seconds:.2f}s. Mode: System "
                f"[OK: {stats.ok}, ??: {stats.actual - stats.ok}]")
    return (f"DNS resolution of {stats.actual} IPs took {stats.seconds:.2f}s. Mode: Async "
            f"[#: {stats.servers}, OK: {stats.ok}, NX: {stats.nx}, DR: {stats.dropped}, "
            f"SF: {stats.servfail}, TR: {stats.sent}, CN: {stats.cname}]")
