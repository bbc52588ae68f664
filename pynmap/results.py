"""Plain data that a scan produces and renderers consume.

Nothing here knows how it was measured or how it will be printed.  Times are
seconds since the epoch (float); RTT figures are microseconds, as nmap keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class PortResult:
    port: int
    state: str  # "open", "closed", "filtered"
    reason: str  # "syn-ack", "conn-refused", "no-response", "host-unreach", ...
    protocol: str = "tcp"


@dataclass(slots=True)
class Times:
    """nmap's per-host timing estimators, in microseconds (-1 = no sample)."""

    srtt: int = -1
    rttvar: int = -1
    timeout: int = 1_000_000


@dataclass(slots=True)
class HostResult:
    address: str
    family: int  # socket.AF_INET or socket.AF_INET6
    status: str = "unknown"  # "up", "down", "unknown" (list scan)
    reason: str = "user-set"
    user_name: str | None = None  # the name as the user typed it, if a name was typed
    ptr_name: str | None = None  # the reverse DNS name, if any
    other_addresses: tuple[str, ...] = ()  # further addresses of user_name, not scanned
    times: Times = field(default_factory=Times)
    ports: list[PortResult] = field(default_factory=list)
    scanned_ports: int = 0  # how many ports were scanned (the table may show fewer)
    start_time: float | None = None
    end_time: float | None = None
    timed_out: bool = False
    # The port whose answer proved the host up in discovery; the connect scan
    # re-probes it as its timing ping (nmap's pingprobe).  Engine bookkeeping.
    ping_port: int | None = None
    hint_reason: str = "unknown-response"  # the reason <hosthint> shows

    @property
    def addrtype(self) -> str:
        return "ipv6" if ":" in self.address else "ipv4"


@dataclass(slots=True)
class RunStats:
    total: int = 0  # addresses processed
    up: int = 0
    down: int = 0
