"""Declarative lab scenarios: which target hosts exist and how each of their ports behaves.

A host is 198.18.0.N (and fd00:18::N in hex) in the target namespace.
Every port of a live host is closed (the kernel answers RST) unless the
host lists it as open (a listener), filtered (connection attempts dropped)
or rejected (answered with the given ICMP type).  A down host has its
address routed on the link but nobody answers ARP for it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

NET4 = "198.18.0"
NET6 = "fd00:18:"

# iptables --reject-with type -> (state, reason) as nmap's connect scan reports it.
# Linux turns admin-prohibited into EHOSTUNREACH, hence host-unreach.
REJECTS = {
    "icmp-host-unreachable": ("filtered", "host-unreach"),
    "icmp-net-unreachable": ("filtered", "net-unreach"),
    "icmp-admin-prohibited": ("filtered", "host-unreach"),
    "icmp-port-unreachable": ("filtered", "port-unreach"),
}


@dataclass(frozen=True)
class Host:
    number: int  # last part of the address, 10..254 (1 and 2 are the namespaces' own)
    open: tuple[int, ...] = ()
    filtered: tuple[int, ...] = ()
    rejected: dict[int, str] = field(default_factory=dict)
    rst_per_second: int | None = None  # closed ports answer at most this many RSTs a second
    down: bool = False

    @property
    def address(self) -> str:
        return f"{NET4}.{self.number}"

    @property
    def address6(self) -> str:
        return f"{NET6}:{self.number:x}"

    def truth(self, port: int) -> tuple[str, str]:
        """(state, reason) nmap's connect scan must report for `port`."""
        if port in self.open:
            return ("open", "syn-ack")
        if port in self.filtered:
            return ("filtered", "no-response")
        if port in self.rejected:
            return REJECTS[self.rejected[port]]
        return ("closed", "conn-refused")


@dataclass(frozen=True)
class Scenario:
    name: str
    hosts: tuple[Host, ...]
    delay_ms: float = 0.0  # one way: the round trip is twice this
    loss: float = 0.0  # share of frames lost, each way
    seed: int = 0

    @property
    def live(self) -> tuple[Host, ...]:
        return tuple(h for h in self.hosts if not h.down)

    def with_seed(self, seed: int) -> Scenario:
        return Scenario(self.name, self.hosts, self.delay_ms, self.loss, seed)


def _mixed_hosts() -> tuple[Host, ...]:
    rejected = {2001: "icmp-host-unreachable", 2002: "icmp-net-unreachable",
                2003: "icmp-admin-prohibited"}
    return (
        Host(10, open=(22, 80, 8080)),
        Host(11, open=(443,), filtered=(22, 3306)),
        Host(12, open=(25,), filtered=(2000,), rejected=rejected),
        Host(13, rejected={80: "icmp-host-unreachable"}),
    )


SCENARIOS: dict[str, Scenario] = {
    "mixed": Scenario("mixed", _mixed_hosts()),
    "rtt50": Scenario("rtt50", (Host(10, open=(22, 80, 443, 8080),
                                     filtered=tuple(range(3000, 3300))),), delay_ms=25),
    "lossy": Scenario("lossy", (Host(10, open=(22, 80, 443, 3306, 8080, 9929)),),
                      delay_ms=10, loss=0.02, seed=1),
    # 198.18.0.64/26: 64 addresses, 20 of them down
    "fleet": Scenario("fleet", tuple(Host(n, open=(22,) if n % 2 else (80,),
                                          down=(n - 64) % 3 == 0 and n - 64 < 60)
                                     for n in range(64, 128))),
    "rst_limit": Scenario("rst_limit", (Host(10, open=(22, 80), rst_per_second=100),)),
}
