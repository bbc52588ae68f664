"""Declarative lab scenarios: which target hosts exist and how each of their ports behaves.

A host is 198.18.0.N and fd00:18::N (N written in hex) on the targets'
segment behind the lab's router.  Every port of a live host is closed (its
kernel answers RST) unless the host lists it as open (a listener), filtered
(connection attempts dropped) or rejected (answered with an ICMP error).  A
down host's address is routed to the segment but nobody answers ARP or
neighbour solicitations for it.  `scanner_open` puts listeners on the
scanner namespace's own loopback, for scans of 127.0.0.1.

An AnyIP host also answers for a whole IPv4 range inside 198.19.0.0/16
(`anyip`): its namespace holds the range as one local route, the router
sends the range to the host as next hop, and its ports behave alike on
every address of the range and on its own.

A `lan` scenario also puts the scanner on the targets' segment (LAN4, LAN6):
the hosts' own addresses are then directly connected, each with its
declared Ethernet address (`mac`), while AnyIP ranges are still reached
through the router, as next hop.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

NET4 = "198.18.0"
NET6 = "fd00:18:"
ROUTER4 = f"{NET4}.1"
ROUTER6 = f"{NET6}:1"
# The scanner's own address on the targets' segment in a `lan` scenario
LAN4 = f"{NET4}.254"
LAN6 = f"{NET6}:fe"
# Where AnyIP ranges live: off the targets' segment and off the scanner's uplink
ANYIP_SPACE = ipaddress.IPv4Network("198.19.0.0/16")

State = tuple[str, str]  # (state, reason) as nmap's connect scan reports a port
# an unprivileged nmap's host discovery: connect() to these, up on any open or closed
PING_PORTS = (80, 443)


@dataclass(frozen=True)
class Reject:
    """One kind of ICMP answer to a connection attempt, for both address families."""

    ip4: str  # iptables --reject-with
    ip6: str  # ip6tables --reject-with
    # What Linux turns the ICMP error into (the errno of connect()), as nmap reports it
    truth4: State
    truth6: State


# Keys are iptables' own names.  Linux maps admin-prohibited to EHOSTUNREACH for
# IPv4 but EACCES for IPv6, and port-unreachable to ECONNREFUSED for both: a
# connect scan cannot tell that answer from a RST.
REJECTS: Mapping[str, Reject] = MappingProxyType({
    "icmp-host-unreachable": Reject("icmp-host-unreachable", "icmp6-addr-unreachable",
                                    ("filtered", "host-unreach"), ("filtered", "host-unreach")),
    "icmp-net-unreachable": Reject("icmp-net-unreachable", "icmp6-no-route",
                                   ("filtered", "net-unreach"), ("filtered", "net-unreach")),
    "icmp-admin-prohibited": Reject("icmp-admin-prohibited", "icmp6-adm-prohibited",
                                    ("filtered", "host-unreach"),
                                    ("filtered", "admin-prohibited")),
    "icmp-port-unreachable": Reject("icmp-port-unreachable", "icmp6-port-unreachable",
                                    ("closed", "conn-refused"), ("closed", "conn-refused")),
})


@dataclass(frozen=True)
class Host:
    """One target: its address number and the behaviour of its ports."""

    number: int  # last part of the address, 2..254 (1 is the router)
    open: tuple[int, ...] = ()
    filtered: tuple[int, ...] = ()
    rejected: Mapping[int, str] = field(default_factory=dict)  # port -> REJECTS key
    rst_per_second: int | None = None  # closed ports answer at most this many RSTs a second
    down: bool = False
    anyip: str | None = None  # an IPv4 range (CIDR) in ANYIP_SPACE it answers for as well
    mac: str | None = None  # its Ethernet address ("00:30:48:5a:00:0a"); None: the kernel's

    def __post_init__(self) -> None:
        if not 2 <= self.number <= 254:
            raise ValueError(f"host number {self.number} is not in 2..254")
        if self.anyip is not None:
            try:
                network = ipaddress.IPv4Network(self.anyip)
            except ValueError as exc:
                raise ValueError(f"host {self.number}: anyip {self.anyip!r}: {exc}") from None
            if not network.subnet_of(ANYIP_SPACE):
                raise ValueError(f"host {self.number}: anyip {self.anyip} is not inside "
                                 f"{ANYIP_SPACE}")
        if self.rst_per_second is not None and self.rst_per_second < 1:
            raise ValueError(f"host {self.number}: rst_per_second must be at least 1")
        unknown = sorted(set(self.rejected.values()) - set(REJECTS))
        if unknown:
            raise ValueError(f"host {self.number}: unknown ICMP types {unknown}")
        groups = [set(self.open), set(self.filtered), set(self.rejected)]
        for i, group in enumerate(groups):
            for other in groups[i + 1:]:
                if group & other:
                    raise ValueError(f"host {self.number}: ports {sorted(group & other)} "
                                     "have two behaviours")
            if any(not 1 <= p <= 65535 for p in group):
                raise ValueError(f"host {self.number}: port out of range in {sorted(group)}")

    @property
    def address(self) -> str:
        return f"{NET4}.{self.number}"

    @property
    def address6(self) -> str:
        return f"{NET6}:{self.number:x}"

    @property
    def link_local(self) -> str | None:
        """Its IPv6 link-local address, made from its declared MAC (EUI-64), if any."""
        if self.mac is None:
            return None
        octets = bytes.fromhex(self.mac.replace(":", ""))
        eui = bytes([octets[0] ^ 2, *octets[1:3], 0xFF, 0xFE, *octets[3:]])
        return str(ipaddress.IPv6Address(b"\xfe\x80" + bytes(6) + eui))

    def addr(self, *, ipv6: bool = False) -> str:
        return self.address6 if ipv6 else self.address

    @property
    def anyip_network(self) -> ipaddress.IPv4Network | None:
        return ipaddress.IPv4Network(self.anyip) if self.anyip is not None else None

    def answered(self, *, ipv6: bool = False) -> Iterator[str]:
        """Every address this host answers for: its own, then its AnyIP range (IPv4 only)."""
        yield self.addr(ipv6=ipv6)
        network = self.anyip_network
        if network is not None and not ipv6:
            yield from map(str, network)

    def answers_ping(self, ports: Iterable[int] = PING_PORTS, *, ipv6: bool = False) -> bool:
        """Whether a connect-based host discovery to `ports` finds this host up."""
        return not self.down and any(
            self.truth(p, ipv6=ipv6)[0] in ("open", "closed") for p in ports)

    def truth(self, port: int, *, ipv6: bool = False) -> State:
        """(state, reason) nmap's connect scan must report for `port` of this live host."""
        if port in self.open:
            return ("open", "syn-ack")
        if port in self.filtered:
            return ("filtered", "no-response")
        if port in self.rejected:
            kind = REJECTS[self.rejected[port]]
            return kind.truth6 if ipv6 else kind.truth4
        return ("closed", "conn-refused")


@dataclass(frozen=True)
class Scenario:
    """A lab: its hosts, the link's one-way delay and loss, and the scanner's listeners."""

    name: str
    hosts: tuple[Host, ...] = ()
    delay_ms: float = 0.0  # one way: the round trip is twice this
    loss: float = 0.0  # share of frames lost, each way, each frame drawn on its own
    seed: int = 0
    scanner_open: tuple[int, ...] = ()  # listeners on the scanner namespace's 127.0.0.1
    lan: bool = False  # the scanner is on the targets' segment too (directly connected)
    about: str = ""

    def __post_init__(self) -> None:
        numbers = [h.number for h in self.hosts]
        if len(numbers) != len(set(numbers)):
            raise ValueError(f"scenario {self.name}: a host number appears twice")
        ranges = [n for n in (h.anyip_network for h in self.hosts) if n is not None]
        for i, network in enumerate(ranges):
            if any(network.overlaps(other) for other in ranges[i + 1:]):
                raise ValueError(f"scenario {self.name}: AnyIP range {network} overlaps another")
        if not 0 <= self.loss < 1 or self.delay_ms < 0:
            raise ValueError(f"scenario {self.name}: loss must be in [0, 1), delay >= 0")

    @property
    def live(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if not h.down)

    def targets(self, *, ipv6: bool = False) -> list[str]:
        """Every declared host's address, the down ones included, in host order."""
        return [h.addr(ipv6=ipv6) for h in self.hosts]

    def ranges(self) -> list[str]:
        """The AnyIP ranges (CIDR) of the declared hosts, the down ones included."""
        return [h.anyip for h in self.hosts if h.anyip is not None]

    def seen_up(self, *, ipv6: bool = False, ping: bool = True) -> tuple[Host, ...]:
        """The hosts a scan reports up: with discovery (`ping`), those that answer it."""
        return tuple(h for h in self.live if not ping or h.answers_ping(ipv6=ipv6))

    def truth(self, ports: Iterable[int], *, ipv6: bool = False,
              ping: bool = True) -> dict[str, dict[int, State]]:
        """address -> port -> (state, reason) for the addresses found up: what nmap must report.

        An AnyIP host contributes every address of its range besides its own.
        """
        wanted = sorted(set(ports))
        found: dict[str, dict[int, State]] = {}
        for host in self.seen_up(ipv6=ipv6, ping=ping):
            states = {p: host.truth(p, ipv6=ipv6) for p in wanted}
            found.update((address, states) for address in host.answered(ipv6=ipv6))
        return found

    def mac(self, address: str) -> str | None:
        """The Ethernet address nmap as root reports for a target found up: the
        declared one of a live host's own address when the scanner is on its
        segment, none through the router (an AnyIP range) or for a down host."""
        if not self.lan:
            return None
        for host in self.live:
            if address in (host.address, host.address6, host.link_local):
                return host.mac.upper() if host.mac is not None else None
        return None

    def with_seed(self, seed: int) -> Scenario:
        return replace(self, seed=seed)


def _mixed_hosts() -> tuple[Host, ...]:
    return (
        Host(10, open=(22, 80, 8080)),
        Host(11, open=(443,), filtered=(22, 3306)),
        Host(12, open=(25,), filtered=(2000,),
             rejected={2001: "icmp-host-unreachable", 2002: "icmp-net-unreachable",
                       2003: "icmp-admin-prohibited", 2004: "icmp-port-unreachable"}),
        Host(13, rejected={80: "icmp-host-unreachable", 3306: "icmp-admin-prohibited"}),
    )


def _fleet() -> tuple[Host, ...]:
    # 198.18.0.64/26: the first 60 addresses, every third one down, make 20 down hosts
    return tuple(Host(n, open=(22,) if n % 2 else (80,), down=(n - 64) % 3 == 0 and n < 124)
                 for n in range(64, 128))


def _lan_hosts() -> tuple[Host, ...]:
    return (
        Host(2, open=(22,), anyip="198.19.0.0/24", mac="00:30:48:5a:00:02"),
        Host(10, open=(22,), mac="00:30:48:5a:00:0a"),  # Super Micro Computer
        Host(11, mac="00:00:21:5a:00:0b"),  # Sureman COMP. & Commun.
        Host(12, open=(22,), mac="02:00:5e:5a:00:0c"),  # no registered vendor
        Host(13, down=True),
    )


SCENARIOS: Mapping[str, Scenario] = MappingProxyType({s.name: s for s in (
    Scenario("loopback", scanner_open=(22, 80, 3306, 8080, 9929, 22222, 33306),
             about="no targets; listeners on the scanner's own 127.0.0.1"),
    Scenario("mixed", _mixed_hosts(),
             about="4 hosts at 0 ms: open, closed, filtered and ICMP-rejected ports"),
    Scenario("rtt50", (Host(10, open=(22, 80, 443, 8080), filtered=tuple(range(3000, 3300))),),
             delay_ms=25, about="1 host at 50 ms RTT with 300 filtered ports"),
    Scenario("lossy", (Host(10, open=(22, 80, 443, 3306, 8080, 9929)),),
             delay_ms=10, loss=0.02, seed=1, about="1 host at 20 ms RTT, 2% loss each way"),
    Scenario("fleet", _fleet(), about="198.18.0.64/26: 44 hosts up, 20 down"),
    Scenario("anyip22", (Host(2, open=(80,), anyip="198.19.0.0/22"),),
             about="198.19.0.0/22 (1024 addresses) answered by one namespace: 80 open"),
    Scenario("anyip16", (Host(2, open=(80,), anyip="198.19.0.0/16"),),
             about="198.19.0.0/16 (65536 addresses) answered by one namespace: 80 open"),
    Scenario("rst_limit", (Host(10, open=(22, 80), rst_per_second=100),),
             about="1 host whose firewall lets out at most 100 RSTs a second"),
    Scenario("lan", _lan_hosts(), lan=True,
             about="the scanner on the hosts' segment: 3 hosts with fixed Ethernet addresses "
                   "(vendors Supermicro, one with '&' in its name, none), one down; "
                   "198.19.0.0/24 through the router"),
)})
