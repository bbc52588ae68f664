"""pynmap.lan: which hosts get a MAC address, and its vendor, over a scripted kernel.

The kernel is a fake RtNetlink (route and neighbour answers by address): every
rule that keeps a MAC out must fail a test when it is taken away.  The lab
(tests/lab/test_lan_facts.py) holds the same rules to nmap as root.
"""

from __future__ import annotations

import errno
import socket

import pytest

from pynmap import lan
from pynmap.lan import LanFacts, mac_text, ping_sockets_allowed
from pynmap.netlink import RTN_LOCAL, RTN_UNICAST, Neighbour, Route
from pynmap.results import HostResult

SUPERMICRO = bytes.fromhex("0030485a000a")
VENDORS = {0x003048: b"Super Micro Computer", 0x000021: b"Sureman COMP. & Commun."}
REACHABLE, STALE, FAILED = 0x02, 0x04, 0x20


class Kernel:
    """Routes and neighbour entries by address; records the questions asked."""

    def __init__(self, routes: dict[str, Route], neighbours: dict[str, Neighbour]) -> None:
        self.routes = routes
        self.neighbours = neighbours
        self.asked: list[tuple[str, str]] = []
        self.scopes: list[int] = []
        self.closed = False

    def route(self, family: int, address: str, scope: int = 0) -> Route | None:
        self.asked.append(("route", address))
        self.scopes.append(scope)
        return self.routes.get(address)

    def neighbour(self, family: int, ifindex: int, address: str) -> Neighbour | None:
        self.asked.append(("neighbour", address))
        entry = self.neighbours.get(address)
        return entry if entry is not None and entry.ifindex == ifindex else None

    def close(self) -> None:
        self.closed = True


DIRECT = Route(RTN_UNICAST, 3, False)
ROUTED = Route(RTN_UNICAST, 3, True)
OURS = Route(RTN_LOCAL, 1, False)


def facts(routes: dict[str, Route], neighbours: dict[str, Neighbour],
          loads: list[int] | None = None) -> tuple[LanFacts, Kernel]:
    kernel = Kernel(routes, neighbours)

    def vendors() -> dict[int, bytes]:
        if loads is not None:
            loads.append(1)
        return VENDORS

    return LanFacts(vendors, kernel), kernel  # type: ignore[arg-type]


def entry(address: str, mac: bytes = SUPERMICRO, state: int = REACHABLE) -> Neighbour:
    return Neighbour(address, 3, state, mac)


def test_a_host_on_our_link_gets_its_mac_and_vendor() -> None:
    loads: list[int] = []
    found, kernel = facts({"198.18.0.10": DIRECT}, {"198.18.0.10": entry("198.18.0.10")}, loads)
    host = HostResult("198.18.0.10", socket.AF_INET, status="up")
    found.annotate(host)
    assert (host.mac, host.mac_vendor) == ("00:30:48:5A:00:0A", "Super Micro Computer")
    assert kernel.asked == [("route", "198.18.0.10"), ("neighbour", "198.18.0.10")]
    found.annotate(HostResult("198.18.0.10", socket.AF_INET, status="up"))
    assert loads == [1]  # nmap-mac-prefixes is read once, when first needed
    found.close()
    assert kernel.closed


def test_a_host_through_a_router_gets_none_whatever_the_table_says() -> None:
    """nmap keeps a MAC only for a directly connected target: a neighbour entry for
    an address that is routed (proxy ARP, a route changed since) is not its MAC."""
    found, _ = facts({"198.19.0.5": ROUTED}, {"198.19.0.5": entry("198.19.0.5")})
    assert found.lookup(socket.AF_INET, "198.19.0.5") is None


def test_our_own_address_gets_none() -> None:
    found, _ = facts({"198.18.0.254": OURS}, {"198.18.0.254": entry("198.18.0.254")})
    assert found.lookup(socket.AF_INET, "198.18.0.254") is None


def test_no_route_gets_none() -> None:
    found, _ = facts({}, {"10.0.0.1": entry("10.0.0.1")})
    assert found.lookup(socket.AF_INET, "10.0.0.1") is None


@pytest.mark.parametrize("state,mac", [(FAILED, SUPERMICRO), (REACHABLE, bytes(6))])
def test_an_unresolved_entry_gets_none(state: int, mac: bytes) -> None:
    found, _ = facts({"198.18.0.13": DIRECT}, {"198.18.0.13": entry("198.18.0.13", mac, state)})
    assert found.lookup(socket.AF_INET, "198.18.0.13") is None


def test_a_stale_entry_is_still_the_hosts_mac() -> None:
    found, _ = facts({"fd00:18::a": DIRECT}, {"fd00:18::a": entry("fd00:18::a", state=STALE)})
    assert found.lookup(socket.AF_INET6, "fd00:18::a") == SUPERMICRO


def test_an_unregistered_prefix_has_no_vendor() -> None:
    unknown = bytes.fromhex("02005e5a000c")
    found, _ = facts({"198.18.0.12": DIRECT}, {"198.18.0.12": entry("198.18.0.12", unknown)})
    host = HostResult("198.18.0.12", socket.AF_INET, status="up")
    found.annotate(host)
    assert (host.mac, host.mac_vendor) == ("02:00:5E:5A:00:0C", None)


def test_a_host_without_an_entry_is_left_alone_and_vendors_not_read() -> None:
    loads: list[int] = []
    found, _ = facts({"198.18.0.10": DIRECT}, {}, loads)
    host = HostResult("198.18.0.10", socket.AF_INET, status="up")
    found.annotate(host)
    assert (host.mac, host.mac_vendor, loads) == (None, None, [])


def test_a_link_local_host_is_looked_up_on_its_zones_interface() -> None:
    found, kernel = facts({"fe80::1": DIRECT}, {"fe80::1": entry("fe80::1")})
    host = HostResult("fe80::1", socket.AF_INET6, status="up", scope_id=3)
    found.annotate(host)
    assert (kernel.scopes, host.mac) == ([3], "00:30:48:5A:00:0A")


def test_mac_text() -> None:
    assert mac_text(bytes.fromhex("00000021abcd")) == "00:00:00:21:AB:CD"


def test_ping_sockets_allowed_or_not(monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[tuple[int, int, int]] = []

    class Sock:
        def __init__(self, family: int, kind: int, proto: int) -> None:
            opened.append((family, kind, proto))

        def close(self) -> None:
            pass

    monkeypatch.setattr(lan.socket, "socket", Sock)
    assert ping_sockets_allowed(socket.AF_INET) and ping_sockets_allowed(socket.AF_INET6)
    assert opened == [(socket.AF_INET, socket.SOCK_DGRAM, socket.IPPROTO_ICMP),
                      (socket.AF_INET6, socket.SOCK_DGRAM, socket.IPPROTO_ICMPV6)]

    def refused(family: int, kind: int, proto: int) -> None:
        raise PermissionError(errno.EACCES, "outside net.ipv4.ping_group_range")

    monkeypatch.setattr(lan.socket, "socket", refused)
    assert not ping_sockets_allowed(socket.AF_INET)
