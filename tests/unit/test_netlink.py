"""pynmap.netlink on the kernel's own answers (fixtures/netlink, recorded in the `lan` lab
by fixtures/netlink/capture.py): routes, neighbour entries in each state, a table
dump, errors; and the socket's exchange replayed from them."""

from __future__ import annotations

import errno
import socket
import struct
from pathlib import Path

import pytest

from pynmap import netlink
from pynmap.netlink import Neighbour, Route, RtNetlink

FIXTURES = Path(__file__).parent / "fixtures" / "netlink"
V4, V6 = socket.AF_INET, socket.AF_INET6


def recorded(name: str) -> bytes:
    return bytes.fromhex((FIXTURES / f"{name}.hex").read_text())


def only(name: str, kind: int) -> bytes:
    """The payload of the one message of type `kind` in a recorded answer."""
    found = [payload for got, _seq, payload in netlink.messages(recorded(name)) if got == kind]
    assert len(found) == 1, name
    return found[0]


# -- parsing ----------------------------------------------------------------------------------

def test_a_directly_connected_address() -> None:
    for name in ("route_direct4", "route_direct6"):
        route = netlink.parse_route(only(name, netlink.RTM_NEWROUTE))
        assert route is not None and route.kind == netlink.RTN_UNICAST and route.oif > 0
        assert not route.gateway and route.direct, name


def test_an_address_through_a_router_is_not_direct() -> None:
    route = netlink.parse_route(only("route_gateway4", netlink.RTM_NEWROUTE))
    assert route is not None and route.gateway and route.kind == netlink.RTN_UNICAST
    assert not route.direct


def test_our_own_address_is_local_not_direct() -> None:
    route = netlink.parse_route(only("route_local4", netlink.RTM_NEWROUTE))
    assert route is not None and route.kind == netlink.RTN_LOCAL and not route.direct


@pytest.mark.parametrize("name,code", [("route_none4", errno.ENETUNREACH),
                                       ("neigh_missing4", errno.ENOENT)])
def test_a_refusal_is_the_kernels_errno(name: str, code: int) -> None:
    assert netlink.error_code(only(name, netlink.NLMSG_ERROR)) == code


@pytest.mark.parametrize("name,address,mac", [
    ("neigh_reachable4", "198.18.0.10", "00:30:48:5a:00:0a"),
    ("neigh_reachable6", "fd00:18::a", "00:30:48:5a:00:0a"),
    ("neigh_permanent4", "198.19.0.5", "00:30:48:5a:00:99"),
])
def test_a_resolved_entry_has_its_mac(name: str, address: str, mac: str) -> None:
    entry = netlink.parse_neighbour(only(name, netlink.RTM_NEWNEIGH))
    assert entry is not None and entry.address == address and entry.ifindex > 0
    assert entry.mac == bytes.fromhex(mac.replace(":", ""))


def test_a_failed_resolution_has_no_mac() -> None:
    entry = netlink.parse_neighbour(only("neigh_failed4", netlink.RTM_NEWNEIGH))
    assert entry is not None and entry.address == "198.18.0.13"
    assert entry.state == 0x20  # NUD_FAILED
    assert entry.mac is None


def test_a_dump_lists_the_table_and_ends() -> None:
    kinds = [kind for kind, _seq, _payload in netlink.messages(recorded("neigh_dump4"))]
    assert kinds[-1] == netlink.NLMSG_DONE
    entries = [netlink.parse_neighbour(p) for k, _s, p in netlink.messages(recorded("neigh_dump4"))
               if k == netlink.RTM_NEWNEIGH]
    by_address = {e.address: e for e in entries if e is not None}
    assert {"198.18.0.10", "198.18.0.13", "198.19.0.5"} <= set(by_address)
    assert by_address["198.18.0.10"].mac is not None and by_address["198.18.0.13"].mac is None


@pytest.mark.parametrize("state,lladdr,usable", [
    (0x02, b"\x00\x30\x48\x5a\x00\x0a", True),  # REACHABLE
    (0x04, b"\x00\x30\x48\x5a\x00\x0a", True),  # STALE: still the host's address
    (0x80, b"\x00\x30\x48\x5a\x00\x0a", True),  # PERMANENT
    (0x01, b"\x00\x30\x48\x5a\x00\x0a", False),  # INCOMPLETE
    (0x20, b"\x00\x30\x48\x5a\x00\x0a", False),  # FAILED
    (0x40, b"\x00\x00\x00\x00\x00\x00", False),  # NOARP (loopback's)
    (0x02, b"\x00\x00\x00\x00\x00\x00", False),  # all zeros
    (0x02, b"\x0a\x00\x00\x01", False),  # not Ethernet (an IPv4 tunnel's)
    (0x02, None, False),
])
def test_which_entries_give_a_mac(state: int, lladdr: bytes | None, usable: bool) -> None:
    assert (Neighbour("192.0.2.1", 2, state, lladdr).mac is not None) is usable


def test_truncated_or_odd_input_parses_to_nothing() -> None:
    data = recorded("neigh_dump4")
    assert list(netlink.messages(data[:10])) == []
    whole = list(netlink.messages(data))
    done = (len(whole[-1][2]) + 16 + 3) & ~3  # the closing NLMSG_DONE, aligned
    # the last entry cut short: dropped, not read as a shorter one
    assert list(netlink.messages(data[:-done - 5])) == whole[:-2]
    assert netlink.parse_route(b"\x02") is None
    assert netlink.parse_neighbour(b"\x02") is None
    assert netlink.attributes(b"\x03\x00\x01\x00") == {}  # an attribute shorter than its header
    bad_family = struct.pack("=BBHiHBB", 99, 0, 0, 2, 2, 0, 0)
    assert netlink.parse_neighbour(bad_family) is None


# -- the socket, replayed ---------------------------------------------------------------------

def with_seq(data: bytes, seq: int) -> bytes:
    """A recorded answer as the answer to question number `seq`."""
    out = bytearray(data)
    offset = 0
    while offset + 16 <= len(out):
        length = struct.unpack_from("=I", out, offset)[0]
        struct.pack_into("=I", out, offset + 8, seq)
        offset += (length + 3) & ~3
    return bytes(out)


class Replay:
    """A netlink socket that answers each request with the next recorded answer."""

    def __init__(self, *answers: bytes) -> None:
        self.answers = list(answers)
        self.sent: list[bytes] = []

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        return len(data)

    def recv(self, size: int) -> bytes:
        return self.answers.pop(0)

    def close(self) -> None:
        pass


def replayed(*names: str | bytes) -> tuple[RtNetlink, Replay]:
    """A socket whose i-th answer is the fixture named (as the answer to question i),
    or the bytes given as they are."""
    link = RtNetlink()
    sock = Replay(*(with_seq(recorded(n), i) if isinstance(n, str) else n
                    for i, n in enumerate(names, start=1)))
    link._sock = sock  # type: ignore[assignment]
    return link, sock


def test_route_questions() -> None:
    link, sock = replayed("route_direct4", "route_gateway4", "route_none4")
    assert link.route(V4, "198.18.0.10") == Route(netlink.RTN_UNICAST, link_oif(), False)
    assert link.route(V4, "198.19.0.5") is not None
    assert link.route(V4, "10.0.0.1") is None  # no route: the kernel's ENETUNREACH
    # the first request asked about 198.18.0.10 (RTA_DST), sequence number 1
    length, kind, _flags, seq, _pid = struct.unpack_from("=IHHII", sock.sent[0])
    assert (length, kind, seq) == (len(sock.sent[0]), netlink.RTM_GETROUTE, 1)
    assert socket.inet_aton("198.18.0.10") in sock.sent[0]


def test_a_link_local_address_is_asked_about_on_its_interface() -> None:
    """fe80::/64 is on every interface: the zone's interface goes with the question
    (RTA_OIF), or the kernel answers for whichever interface comes first."""
    link, sock = replayed("route_direct6")
    link.route(V6, "fe80::230:48ff:fe5a:a", scope=7)
    request = sock.sent[0][16 + 12:]  # past nlmsghdr and rtmsg: the attributes
    assert netlink.attributes(request)[netlink.RTA_OIF] == struct.pack("=I", 7)
    link, sock = replayed("route_direct6")
    link.route(V6, "fd00:18::a")
    assert netlink.RTA_OIF not in netlink.attributes(sock.sent[0][16 + 12:])


def link_oif() -> int:
    route = netlink.parse_route(only("route_direct4", netlink.RTM_NEWROUTE))
    assert route is not None
    return route.oif


def test_neighbour_questions() -> None:
    oif = link_oif()
    link, _ = replayed("neigh_reachable4", "neigh_missing4")
    entry = link.neighbour(V4, oif, "198.18.0.10")
    assert entry is not None and entry.mac == bytes.fromhex("0030485a000a")
    assert link.neighbour(V4, oif, "198.18.0.50") is None


def _error(code: int, seq: int) -> bytes:
    body = struct.pack("=i", -code) + bytes(16)
    return struct.pack("=IHHII", 16 + len(body), netlink.NLMSG_ERROR, 0, seq, 0) + body


def test_a_kernel_without_single_neighbour_questions_is_asked_for_the_table() -> None:
    """Before Linux 5.0 RTM_GETNEIGH for one address is EOPNOTSUPP: the table is
    dumped and searched, then and for every later question."""
    oif = link_oif()
    dump = recorded("neigh_dump4")
    link, sock = replayed(_error(errno.EOPNOTSUPP, 1), with_seq(dump, 2), with_seq(dump, 3))
    entry = link.neighbour(V4, oif, "198.18.0.10")
    assert entry is not None and entry.mac == bytes.fromhex("0030485a000a")
    failed = link.neighbour(V4, oif, "198.18.0.13")
    assert failed is not None and failed.mac is None
    flags = [struct.unpack_from("=IHHII", m)[2] for m in sock.sent]
    assert flags == [netlink.NLM_F_REQUEST, *[netlink.NLM_F_REQUEST | netlink.NLM_F_DUMP] * 2]


def test_answers_to_an_earlier_question_are_skipped() -> None:
    """A late answer (its question timed out) carries an older sequence number."""
    oif = link_oif()
    stale = recorded("neigh_missing4")  # sequence 1
    link, _ = replayed(stale, stale, with_seq(recorded("neigh_reachable4"), 2))
    assert link.neighbour(V4, oif, "198.18.0.50") is None  # question 1: ENOENT
    assert link.neighbour(V4, oif, "198.18.0.10") is not None  # question 2 skips a stale 1


def test_no_netlink_at_all_means_not_known(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> socket.socket:
        raise PermissionError(errno.EACCES, "sandboxed")

    monkeypatch.setattr(netlink.socket, "socket", refuse)
    link = RtNetlink()
    assert link.route(V4, "198.18.0.10") is None
    assert link.neighbour(V4, 2, "198.18.0.10") is None
    link.close()
