"""--proxies without sockets: the chain's parsing, the handshakes byte by byte, and
scans through a scripted SOCKS5 proxy on engine/fake.py's FakeStreams and a FakeClock.

What must hold (engine/proxy.py's rules): only the last proxy's answer about
the target is a port state, with the README's mapping; a chain that cannot
work ends the run with a message naming the proxy; a chain that stays
silent or keeps dropping connections ends it too, and neither ever turns a
port closed.  The lab test (tests/lab/test_proxies.py) runs the same code
against danted and tinyproxy.
"""

from __future__ import annotations

import errno
import re
import socket
import struct
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pytest

from pynmap.engine import wording
from pynmap.engine.clock import FakeClock
from pynmap.engine.fake import FakeStreams, Peer, Scripted, Step
from pynmap.engine.probe import PROXY_FORBIDDEN, PROXY_REJECTED, PROXY_TTL, classify
from pynmap.engine.proxy import (
    Handshake,
    ProxyBackend,
    ProxyFatal,
    ProxyStreams,
    _Lost,
    check_chain,
)
from pynmap.engine.scan import assume_up, connect_scan, discover
from pynmap.engine.service import ServiceScan
from pynmap.engine.serviceloop import ServiceLoop
from pynmap.errors import Fatal
from pynmap.pacing import NMAP
from pynmap.probes import parse_probes
from pynmap.rawopts import ProxyNode, parse_proxy_chain
from pynmap.results import HostResult
from pynmap.timing import Timing

PROXY, PROXY2, TARGET = "192.0.2.100", "192.0.2.101", "192.0.2.1"
TIMING = Timing(pacing=NMAP, max_parallelism=32)


def node(scheme: str, address: str = PROXY, port: int = 1080, user: bytes | None = None,
         password: bytes | None = None) -> ProxyNode:
    return ProxyNode(scheme, address, socket.AF_INET, address, port, user, password)


# -- the option ------------------------------------------------------------------------------


def test_the_chain_is_read_in_order_with_default_ports_and_credentials() -> None:
    chain = parse_proxy_chain("socks5://alice:s%3Acret@192.0.2.100,http://192.0.2.101,"
                              "socks4://192.0.2.102:9050,,socks4a://bob@192.0.2.103")
    assert [(n.scheme, n.address, n.port, n.user, n.password) for n in chain] == [
        ("socks5", "192.0.2.100", 1080, b"alice", b"s:cret"),
        ("http", "192.0.2.101", 8080, None, None),
        ("socks4", "192.0.2.102", 9050, None, None),
        ("socks4a", "192.0.2.103", 1080, b"bob", None),
    ]
    assert chain[0].label == "socks5://192.0.2.100:1080"  # never the password


@pytest.mark.parametrize(("value", "message"), [
    ("ftp://192.0.2.1", "Invalid protocol in proxy specification string: ftp://192.0.2.1"),
    ("socks4://[::1]", "Cannot initialize proxy node socks4://[::1]"),  # nsock: IPv4 only
    ("socks4://u:p@192.0.2.1", "A socks4 proxy takes a user id, not a password: "
                               "socks4://u:p@192.0.2.1"),
    ("socks5://:p@192.0.2.1", "A socks5 user name must be 1 to 255 bytes long, and its "
                              "password at most 255: socks5://:p@192.0.2.1"),
    ("socks5://%zz@192.0.2.1", "Invalid protocol in proxy specification string: "
                               "socks5://%zz@192.0.2.1"),
])
def test_bad_proxies_are_refused_with_a_message(value: str, message: str) -> None:
    with pytest.raises(Fatal) as caught:
        parse_proxy_chain(value)
    assert caught.value.message == message


def test_socks4_cannot_carry_ipv6_targets() -> None:
    with pytest.raises(ProxyFatal, match="SOCKS4, which cannot reach IPv6"):
        check_chain([node("socks4")], socket.AF_INET6)
    check_chain([node("socks4a"), node("socks5")], socket.AF_INET6)


def test_packet_trace_words_for_proxy_answers() -> None:
    for number in (PROXY_REJECTED, PROXY_FORBIDDEN, PROXY_TTL):
        assert not wording.conn_text(number).startswith("Unknown error")


# -- the handshakes --------------------------------------------------------------------------


def shake(chain: Sequence[ProxyNode], *replies: bytes, target: tuple[str, int] = (TARGET, 22)
          ) -> tuple[Handshake, list[bytes]]:
    """Run a handshake: what it sent before each reply, then after the last."""
    machine = Handshake(chain, *target)
    machine.start()
    sent = [machine.take()]
    for reply in replies:
        machine.feed(reply)
        sent.append(machine.take())
    return machine, sent


def socks5_reply(code: int) -> bytes:
    return bytes([5, code, 0, 1]) + socket.inet_aton("198.18.0.1") + b"\x12\x34"


def test_socks5_with_a_password_byte_by_byte() -> None:
    machine, sent = shake([node("socks5", user=b"alice", password=b"pw")],
                          b"\x05\x02", b"\x01\x00", socks5_reply(0))
    assert sent == [b"\x05\x02\x00\x02", b"\x01\x05alice\x02pw",
                    b"\x05\x01\x00\x01" + socket.inet_aton(TARGET) + b"\x00\x16", b""]
    assert machine.answer == 0


def test_a_reply_in_pieces_then_the_services_first_bytes() -> None:
    machine = Handshake([node("socks5")], "2001:db8::1", 22)
    machine.start()
    assert machine.take() == b"\x05\x01\x00"
    machine.feed(b"\x05")
    machine.feed(b"\x00")
    assert machine.take() == (b"\x05\x01\x00\x04" + socket.inet_pton(socket.AF_INET6,
                                                                      "2001:db8::1") + b"\x00\x16")
    assert machine.asked
    reply = bytes([5, 0, 0, 3, 5]) + b"proxy" + b"\x00\x50"  # a bound address given by name
    machine.feed(reply[:6])
    assert machine.answer is None
    machine.feed(reply[6:] + b"SSH-2.0-x\r\n")
    assert (machine.answer, machine.rest) == (0, b"SSH-2.0-x\r\n")


@pytest.mark.parametrize(("code", "answer"), [
    (0, 0), (2, PROXY_FORBIDDEN), (3, errno.ENETUNREACH), (4, errno.EHOSTUNREACH),
    (5, errno.ECONNREFUSED), (6, PROXY_TTL)])
def test_socks5_answers_about_the_target(code: int, answer: int) -> None:
    machine, _ = shake([node("socks5")], b"\x05\x00", socks5_reply(code))
    assert machine.answer == answer


def test_the_port_states_of_proxy_answers() -> None:
    assert [(o.state, o.reason) for o in map(classify, (PROXY_REJECTED, PROXY_FORBIDDEN,
                                                        PROXY_TTL))] == [
        ("closed|filtered", "unknown-response"), ("filtered", "admin-prohibited"),
        ("filtered", "time-exceeded")]


@pytest.mark.parametrize(("replies", "message"), [
    ((b"\x05\xff",), "wants a user name and password"),
    ((b"\x04\x00",), "does not answer as a SOCKS5 proxy"),
    ((b"\x05\x00", socks5_reply(7)), "command not supported"),
    ((b"\x05\x00", socks5_reply(8)), "address type not supported"),
])
def test_socks5_chain_failures_are_fatal(replies: tuple[bytes, ...], message: str) -> None:
    with pytest.raises(ProxyFatal, match=message):
        shake([node("socks5")], *replies)


def test_refused_credentials_are_fatal() -> None:
    with pytest.raises(ProxyFatal, match="refused the user name and password"):
        shake([node("socks5", user=b"a", password=b"b")], b"\x05\x02", b"\x01\x01")


def test_a_socks5_general_failure_loses_the_connection_only() -> None:
    with pytest.raises(_Lost):
        shake([node("socks5")], b"\x05\x00", socks5_reply(1))


def test_socks4_and_4a() -> None:
    machine, sent = shake([node("socks4", user=b"me")], b"\x00\x5a" + bytes(6))
    assert sent[0] == b"\x04\x01\x00\x16" + socket.inet_aton(TARGET) + b"me\x00"
    assert machine.answer == 0
    machine, _ = shake([node("socks4")], b"\x00\x5b" + bytes(6))
    assert machine.answer == PROXY_REJECTED
    # 4a carries an IPv6 address as a name
    machine, sent = shake([node("socks4a")], b"\x00\x5a" + bytes(6), target=("2001:db8::1", 80))
    assert sent[0] == b"\x04\x01\x00\x50\x00\x00\x00\x01\x00" + b"2001:db8::1\x00"
    with pytest.raises(ProxyFatal, match="identd"):
        shake([node("socks4")], b"\x00\x5c" + bytes(6))


@pytest.mark.parametrize(("status", "answer"), [
    (b"HTTP/1.0 200 Connection established", 0), (b"HTTP/1.1 200 OK", 0),
    (b"HTTP/1.1 403 Forbidden", PROXY_FORBIDDEN), (b"HTTP/1.1 500 Unable to connect",
                                                   PROXY_REJECTED),
    (b"HTTP/1.1 502 Bad Gateway", PROXY_REJECTED), (b"HTTP/1.1 504 Gateway Timeout",
                                                    errno.ETIMEDOUT)])
def test_http_connect_answers(status: bytes, answer: int) -> None:
    machine, sent = shake([node("http", port=8080, user=b"u", password=b"p")],
                          status + b"\r\nProxy-agent: x\r\n\r\nbanner")
    assert sent[0] == (b"CONNECT 192.0.2.1:22 HTTP/1.1\r\nHost: 192.0.2.1:22\r\n"
                       b"Proxy-Authorization: Basic dTpw\r\n\r\n")
    assert machine.answer == answer
    assert machine.rest == b"banner"


@pytest.mark.parametrize(("status", "message"), [
    (b"HTTP/1.1 407 Proxy Authentication Required", "wants authentication"),
    (b"HTTP/1.1 405 Method Not Allowed", "refused the CONNECT request: 405"),
    (b"SSH-2.0-OpenSSH", "does not answer as a HTTP proxy")])
def test_http_failures_about_the_proxy_are_fatal(status: bytes, message: str) -> None:
    with pytest.raises(ProxyFatal, match=message):
        shake([node("http")], status + b"\r\n\r\n")


def test_a_chain_of_two_asks_the_first_for_the_second() -> None:
    chain = [node("socks5"), node("http", PROXY2, 3128)]
    machine, sent = shake(chain, b"\x05\x00", socks5_reply(0),
                          b"HTTP/1.1 200 OK\r\n\r\n")
    assert sent[1] == b"\x05\x01\x00\x01" + socket.inet_aton(PROXY2) + b"\x0c\x38"
    assert sent[2].startswith(b"CONNECT 192.0.2.1:22 HTTP/1.1\r\n")
    assert machine.answer == 0
    # the first proxy cannot reach the second: about the chain, so fatal, never closed
    with pytest.raises(ProxyFatal, match=re.escape("cannot connect to the next proxy of the "
                                                   "chain, http://192.0.2.101:3128: "
                                                   "connection refused")):
        shake(chain, b"\x05\x00", socks5_reply(5))


# -- scans through a scripted SOCKS5 proxy ---------------------------------------------------


@dataclass
class Socks5Proxy:
    """One connection to a scripted SOCKS5 proxy: it answers `codes[(host, port)]`
    (default: refused) after `delay`, and once a tunnel is up plays `services`'
    peer for that endpoint.  `mute`: it accepts and never says anything;
    `hangup`: it closes the connection at once."""

    codes: Mapping[tuple[str, int], int] = field(default_factory=dict)
    services: Mapping[tuple[str, int], Callable[[], Peer]] = field(default_factory=dict)
    delay: float = 0.001
    mute: bool = False
    hangup: bool = False
    _state: str = "greeting"
    _inner: Peer | None = None

    def opened(self) -> Sequence[Step]:
        return [(0.0, None)] if self.hangup else ()

    def received(self, data: bytes) -> Sequence[Step]:
        if self._inner is not None:
            return self._inner.received(data)
        if self.mute:
            return ()
        if self._state == "greeting":
            self._state = "request"
            return [(self.delay, b"\x05\x00")]
        host = socket.inet_ntoa(data[4:8])
        port = struct.unpack(">H", data[8:10])[0]
        code = self.codes.get((host, port), 5)
        steps: list[Step] = [(self.delay, socks5_reply(code))]
        factory = self.services.get((host, port))
        if code == 0 and factory is not None:
            self._inner = factory()
            steps += [(self.delay + d, what) for d, what in self._inner.opened()]
        return steps


def proxied_scan(proxy: Callable[[], Peer] | None, ports: Sequence[int], *,
                 ping: bool = False) -> tuple[HostResult, FakeStreams]:
    clock = FakeClock()
    streams = FakeStreams(clock, {(PROXY, 1080): proxy} if proxy is not None else {})
    backend = ProxyBackend(ProxyStreams(streams, [node("socks5")], clock))
    host = HostResult(TARGET, socket.AF_INET)
    if ping:
        discover([host], [80, 443], TIMING, clock=clock, backend=backend, t0=clock.wall())
        return host, streams
    assume_up([host], TIMING)
    connect_scan([host], ports, TIMING, clock=clock, backend=backend, t0=clock.wall())
    assert streams.open_now == 0 and streams.released
    return host, streams


def test_a_scan_through_a_proxy_has_the_proxys_answers_as_port_states() -> None:
    codes = {(TARGET, 22): 0, (TARGET, 25): 2, (TARGET, 26): 4, (TARGET, 27): 6}
    host, streams = proxied_scan(lambda: Socks5Proxy(codes), [22, 23, 25, 26, 27])
    assert {p.port: (p.state, p.reason) for p in host.ports} == {
        22: ("open", "syn-ack"), 23: ("closed", "conn-refused"),
        25: ("filtered", "admin-prohibited"), 26: ("filtered", "host-unreach"),
        27: ("filtered", "time-exceeded")}
    # every connection went to the proxy, and was closed with a reset
    assert {c[:2] for c in streams.connects} == {(PROXY, 1080)}
    assert streams.resets == streams.closes == 5


def test_a_proxy_that_never_answers_about_a_port_makes_it_filtered() -> None:
    # the last question is out, no answer: a dropped SYN, tried again, then filtered
    class Stalling(Socks5Proxy):
        def received(self, data: bytes) -> Sequence[Step]:
            if self._state == "request":
                return ()  # asked about the target: silence
            return super().received(data)

    host, streams = proxied_scan(Stalling, [22, 23])
    assert {(p.state, p.reason) for p in host.ports} == {("filtered", "no-response")}
    assert len(streams.connects) > 2  # retried


def test_discovery_through_a_proxy() -> None:
    # the proxy's rules say nothing about the host: 443's answer decides
    host, _ = proxied_scan(lambda: Socks5Proxy({(TARGET, 80): 2, (TARGET, 443): 0}), [],
                           ping=True)
    assert (host.status, host.reason) == ("up", "syn-ack")
    host, _ = proxied_scan(lambda: Socks5Proxy({(TARGET, 80): 2, (TARGET, 443): 2}), [],
                           ping=True)
    assert (host.status, host.reason) == ("down", "no-response")


def test_a_dead_proxy_is_a_clear_error_not_closed_ports() -> None:
    with pytest.raises(ProxyFatal, match=re.escape("Cannot connect to proxy "
                                                   "socks5://192.0.2.100:1080: "
                                                   "Connection refused")):
        proxied_scan(None, [22, 23])


@pytest.mark.parametrize("kind", ["mute", "hangup"])
def test_a_proxy_that_never_answers_ends_the_run(kind: str) -> None:
    # rule 4: without it the scan would end with every port filtered
    with pytest.raises(ProxyFatal, match=r"The proxy chain answers nothing: \d+ connections in a row"):
        proxied_scan(lambda: Socks5Proxy(**{kind: True}), range(1, 200))


def test_connections_lost_now_and_then_are_retried_not_fatal() -> None:
    drops = iter(range(10 ** 6))

    def flaky() -> Peer:
        # every third connection is hung up on before the proxy answers
        return Socks5Proxy({(TARGET, p): 0 for p in range(1, 300, 3)},
                           hangup=next(drops) % 3 == 0)

    host, _ = proxied_scan(flaky, range(1, 300))
    # a connection lost before the proxy was asked used up no try: every port
    # is asked in the end, none is left filtered for the chain's losses
    states = {p.port: p.state for p in host.ports}
    assert {states[p] for p in range(1, 300, 3)} == {"open"}
    assert {s for p, s in states.items() if p % 3 != 1} == {"closed"}


def test_a_small_scan_through_a_refusing_proxy_is_an_error_not_filtered_ports() -> None:
    # two ports: their tries run out long before 64 losses, unless a lost
    # connection counts as a probe never sent
    with pytest.raises(ProxyFatal, match="answers nothing"):
        proxied_scan(lambda: Socks5Proxy(hangup=True), [22, 23])


SSH_PROBES = rb"""
Probe TCP NULL q||
totalwaitms 6000
tcpwrappedms 3000
match ssh m|^SSH-([\d.]+)-OpenSSH_([\w._-]+)\r?\n| p/OpenSSH/ v/$2/ i/protocol $1/
"""


def test_version_detection_reads_a_banner_that_came_with_the_proxys_answer() -> None:
    # the reply and the banner arrive in one read: the banner must reach the service scan
    clock = FakeClock(1000.0)
    banner = Scripted(banner=[(0.0, b"SSH-2.0-OpenSSH_9.2p1\r\n")])
    streams = FakeStreams(clock, {(PROXY, 1080): lambda: Socks5Proxy(
        {(TARGET, 22): 0}, services={(TARGET, 22): lambda: banner})})
    scan = ServiceScan(parse_probes(SSH_PROBES), [(TARGET, [22])], wall=clock.wall,
                       speculate=False)
    ServiceLoop(scan, [(socket.AF_INET, TARGET, 0)], clock=clock,
                streams=ProxyStreams(streams, [node("socks5")], clock)).run()
    result = scan.result(scan.services[0], "ssh")
    assert (result.name, result.product, result.version) == ("ssh", "OpenSSH", "9.2p1")
    assert clock.now() - 1000.0 < 1  # matched at once, no wait for more
