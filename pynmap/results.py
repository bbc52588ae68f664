"""Plain data that a scan produces and renderers consume.

Nothing here knows how it was measured or how it will be printed.  Times are
seconds since the epoch (float); RTT figures are microseconds, as nmap keeps them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pynmap.plain import PlainData

if TYPE_CHECKING:  # report.py is the API's module; -sT runs never need to import it
    from pynmap.report import Service


class PortResult(PlainData):
    __match_args__ = ("port", "state", "reason", "protocol", "service")
    __slots__ = __match_args__

    def __init__(self, port: int, state: str, reason: str, protocol: str = "tcp",
                 service: Service | None = None) -> None:
        self.port = port
        self.state = state  # "open", "closed", "filtered"
        self.reason = reason  # "syn-ack", "conn-refused", "no-response", "host-unreach", ...
        self.protocol = protocol
        # What the service scan (-sV) found on the port; None without -sV or when
        # the port was not probed (renderers then name it from nmap-services).
        self.service = service


class Times(PlainData):
    """nmap's per-host timing estimators, in microseconds (-1 = no sample)."""

    __match_args__ = ("srtt", "rttvar", "timeout")
    __slots__ = __match_args__

    def __init__(self, srtt: int = -1, rttvar: int = -1, timeout: int = 1_000_000) -> None:
        self.srtt = srtt
        self.rttvar = rttvar
        self.timeout = timeout


class HostResult(PlainData):
    __match_args__ = ("address", "family", "status", "reason", "user_name", "ptr_name",
                      "other_addresses", "times", "ports", "scanned_ports", "start_time",
                      "end_time", "timed_out", "ping_port", "hint_reason", "scope_id", "mac",
                      "mac_vendor", "reason_ttl")
    __slots__ = __match_args__

    def __init__(self, address: str, family: int, status: str = "unknown",
                 reason: str = "user-set", user_name: str | None = None,
                 ptr_name: str | None = None, other_addresses: tuple[str, ...] = (),
                 times: Times | None = None, ports: list[PortResult] | None = None,
                 scanned_ports: int = 0, start_time: float | None = None,
                 end_time: float | None = None, timed_out: bool = False,
                 ping_port: int | None = None, hint_reason: str = "unknown-response",
                 scope_id: int = 0, mac: str | None = None,
                 mac_vendor: str | None = None, reason_ttl: int = 0) -> None:
        self.address = address
        self.family = family  # socket.AF_INET or socket.AF_INET6
        self.status = status  # "up", "down", "unknown" (list scan)
        self.reason = reason
        self.user_name = user_name  # the name as the user typed it, if a name was typed
        self.ptr_name = ptr_name  # the reverse DNS name, if any
        self.other_addresses = other_addresses  # further addresses of user_name, not scanned
        self.times = Times() if times is None else times
        self.ports: list[PortResult] = [] if ports is None else ports
        self.scanned_ports = scanned_ports  # how many ports were scanned (the table may show fewer)
        self.start_time = start_time
        self.end_time = end_time
        self.timed_out = timed_out
        # The port whose answer proved the host up in discovery; the connect scan
        # re-probes it as its timing ping (nmap's pingprobe).  Engine bookkeeping.
        self.ping_port = ping_port
        self.hint_reason = hint_reason  # the reason <hosthint> shows
        # The interface of a link-local IPv6 target (fe80::1%eth0): connect()
        # needs it, the reports never show it (nmap prints the bare address).
        self.scope_id = scope_id
        # --privileged: the Ethernet address of a host found up on a directly
        # connected link ("00:30:48:11:AB:5A"), and its registered vendor (pynmap.lan)
        self.mac = mac
        self.mac_vendor = mac_vendor
        # the TTL of the answer that gave the host its reason, where one is known
        # (--privileged's echo reply): nmap's "received echo-reply ttl 63"
        self.reason_ttl = reason_ttl

    @property
    def addrtype(self) -> str:
        return "ipv6" if ":" in self.address else "ipv4"


class RunStats(PlainData):
    __match_args__ = ("total", "up", "down")
    __slots__ = __match_args__

    def __init__(self, total: int = 0, up: int = 0, down: int = 0) -> None:
        self.total = total  # addresses processed
        self.up = up
        self.down = down
