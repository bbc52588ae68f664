"""Speculative probe runs (pynmap.engine.service): the same results as nmap's serial walk.

Each test runs the same scripted services twice on the fake clock, serially
(nmap's schedule, `speculate=False`) and with speculation, and compares the
ports' Service; then it checks what speculation is for (time) or must not do
(connections it has no business opening).
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pynmap.engine.clock import FakeClock
from pynmap.engine.fake import FakeStreams, Peer, Scripted, Step
from pynmap.engine.service import ServiceScan
from pynmap.engine.serviceloop import ServiceLoop
from pynmap.probes import ProbeDB, parse_probes
from pynmap.report import Service
from tests.support.serviceprobes import SMALL
from tests.unit.test_service_engine import START, A, TlsPeer, http, result, run


def both(db: ProbeDB, services: Mapping[int, Callable[[], Peer]],
         **kwargs: object) -> tuple[dict[int, Service], dict[int, Service], float, float, int, int]:
    """(serial results, speculative results, serial time, speculative time,
    serial connects, speculative connects)."""
    serial, s_streams, s_clock = run(db, services, (), False, **kwargs)
    fast, f_streams, f_clock = run(db, services, (), True, **kwargs)
    assert f_streams.open_now == 0
    return ({p: result(serial, p) for p in services}, {p: result(fast, p) for p in services},
            s_clock.now() - START, f_clock.now() - START,
            len(s_streams.connects), len(f_streams.connects))


def test_a_tls_service_takes_one_null_wait_instead_of_two(
        bundled: ProbeDB, server_context: ssl.SSLContext) -> None:
    services = {8443: lambda: TlsPeer(server_context, Scripted((), http))}
    serial, fast, t_serial, t_fast, _n, _m = both(bundled, services)
    assert fast == serial
    assert serial[8443].tunnel == "ssl" and serial[8443].product == "SimpleHTTPServer"
    assert t_serial == pytest.approx(12, abs=0.5)
    # the plain NULL probe's 6 s and the TLS one's overlap: one wait, and a little
    assert t_fast == pytest.approx(6, abs=0.5)


@dataclass
class Lagging:
    """A Peer whose every answer comes `lag` seconds late (a slow path, or a slow server)."""

    inner: Peer
    lag: float

    def opened(self) -> Sequence[Step]:
        return [(delay + self.lag, what) for delay, what in self.inner.opened()]

    def received(self, data: bytes) -> Sequence[Step]:
        return [(delay + self.lag, what) for delay, what in self.inner.received(data)]


def _tls_scan(db: ProbeDB, port: int, peer: Callable[[FakeClock], Callable[[], Peer]],
              speculate: bool) -> tuple[Service, FakeStreams, FakeClock]:
    clock = FakeClock(START)
    streams = FakeStreams(clock, {(A, port): peer(clock)})
    scan = ServiceScan(db, [(A, [port])], wall=clock.wall, speculate=speculate)
    ServiceLoop(scan, [(socket.AF_INET, A, 0)], clock=clock, streams=streams).run()
    assert streams.open_now == 0
    return result(scan, port), streams, clock


def test_an_ssl_port_starts_its_tls_null_probe_with_the_plain_one(
        bundled: ProbeDB, server_context: ssl.SSLContext) -> None:
    # 8443 is in the sslports of nmap's file: two connections at once, the
    # second through TLS; 8000 is not, and gets one
    for port, at_start in ((8443, 2), (8000, 1)):
        def peer(_clock: FakeClock) -> Callable[[], Peer]:
            return lambda: TlsPeer(server_context, Scripted((), http))
        _got, streams, _clock = _tls_scan(bundled, port, peer, True)
        assert sum(t == START for _a, _p, t in streams.connects) == at_start


def test_a_tls_null_probe_whose_wait_ends_first_goes_on_with_the_next_probe(
        bundled: ProbeDB, server_context: ssl.SSLContext) -> None:
    # The plain walk learns it is ssl 0.3 s after its NULL probe's wait (the
    # first connection answers late), so the TLS NULL probe started with it
    # runs out of time first: it sends GetRequest on its connection then, as
    # nmap sends the probe after NULL, and the walk through TLS reads that.
    def peer_for(log: list[tuple[float, bytes]]) -> Callable[[FakeClock], Callable[[], Peer]]:
        def factory(clock: FakeClock) -> Callable[[], Peer]:
            count = iter(range(1000))

            def heard(data: bytes) -> Sequence[Step]:
                log.append((clock.now() - START, data))  # what came through TLS, when
                return http(data)

            def peer() -> Peer:
                tls = TlsPeer(server_context, Scripted((), heard))
                return Lagging(tls, 0.3) if next(count) == 0 else tls
            return peer
        return factory

    serial_log: list[tuple[float, bytes]] = []
    fast_log: list[tuple[float, bytes]] = []
    serial, _s, s_clock = _tls_scan(bundled, 8443, peer_for(serial_log), False)
    fast, streams, f_clock = _tls_scan(bundled, 8443, peer_for(fast_log), True)
    assert fast == serial
    assert serial.tunnel == "ssl" and serial.product == "SimpleHTTPServer"
    # nmap's schedule: the plain NULL probe (6 s), the ssl match (0.3 s later), the
    # TLS NULL probe (6 s), GetRequest on its connection
    assert [t for t, _d in serial_log] == [pytest.approx(12.3)]
    assert s_clock.now() - START == pytest.approx(12.3, abs=0.1)
    # here GetRequest went on the TLS NULL probe's connection at 6 s and was answered
    # by the time the walk got there: no connection after the plain one's ssl match
    assert (6.0, serial_log[0][1]) in [(pytest.approx(t), d) for t, d in fast_log]
    assert f_clock.now() - START == pytest.approx(6.3, abs=0.1)
    assert max(t for _a, _p, t in streams.connects) - START < 6.3


def test_a_silent_tls_service_is_not_asked_again_what_it_did_not_answer(
        bundled: ProbeDB, server_context: ssl.SSLContext) -> None:
    # a TLS service that never says anything: the probe the TLS NULL probe's run
    # went on with heard nothing on a connection the server served (its handshake):
    # that silence is the service's, as the TLS NULL probe's own is; nmap's
    # walk goes on from it with no probe sent twice, and one NULL wait less
    log: list[tuple[float, bytes]] = []

    def peer(clock: FakeClock) -> Callable[[], Peer]:
        def heard(data: bytes) -> Sequence[Step]:
            log.append((clock.now() - START, data))
            return ()
        return lambda: TlsPeer(server_context, Scripted((), heard))

    serial, _s, s_clock = _tls_scan(bundled, 8443, peer, False)
    log.clear()
    fast, _f, f_clock = _tls_scan(bundled, 8443, peer, True)
    assert _timeless(fast) == _timeless(serial)
    assert serial.tunnel == "ssl"
    assert (f_clock.now() - START) == pytest.approx(s_clock.now() - START - 6, abs=0.5)
    # GetRequest went out at 6 s on the TLS NULL probe's connection, and once:
    # the walk that reads that run sends it no more
    assert [t for t, data in log if data.startswith(b"GET / HTTP")] == [
        pytest.approx(0.15), pytest.approx(6.0)]  # (the other: an early run of its own)


def test_a_silent_http_service_takes_the_null_wait_and_no_more(bundled: ProbeDB) -> None:
    serial, fast, _t, t_fast, _n, _m = both(bundled, {8000: lambda: Scripted((), http)})
    assert fast == serial and serial[8000].product == "SimpleHTTPServer"
    assert t_fast == pytest.approx(6, abs=0.1)  # the NULL probe's wait is kept whole


def test_a_banner_service_opens_one_connection(bundled: ProbeDB) -> None:
    # answered within milliseconds: nothing is started early
    services = {22: lambda: Scripted([(0.05, b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")])}
    serial, fast, _t, _u, n_serial, n_fast = both(bundled, services)
    assert fast == serial and serial[22].product == "OpenSSH"
    assert n_serial == n_fast == 1


def test_a_banner_later_than_the_null_wait_reaches_the_next_probe(small: ProbeDB) -> None:
    # nmap sends Hello on the NULL probe's connection at 6 s: the banner that comes
    # at 7 s is the start of Hello's response, as an early run of its own cannot show
    services = {80: lambda: Scripted([(7.0, b"junk\r\n")])}
    serial, fast, _t, _u, _n, n_fast = both(small, services)
    assert _timeless(fast[80]) == _timeless(serial[80])
    assert serial[80].servicefp is not None and '%r(Hello,6,"junk\\r\\n")' in serial[80].servicefp
    assert n_fast > 2  # it did speculate


@dataclass
class Entry:
    sent: bytes = b""
    closed: float | None = None


class Recorded(Scripted):
    """A Scripted peer that notes what it was sent and when its connection closed."""

    def __init__(self, clock_now: Callable[[], float], log: list[Entry],
                 banner: Sequence[Step] = (),
                 reply: Callable[[bytes], Sequence[Step]] | None = None) -> None:
        super().__init__(banner, reply)
        self.now = clock_now
        self.entry = Entry()
        log.append(self.entry)

    def received(self, data: bytes) -> Sequence[Step]:
        self.entry.sent = data
        return super().received(data)

    def closed(self) -> None:
        self.entry.closed = self.now()


def test_a_softmatch_drops_the_runs_it_rules_out(small: ProbeDB) -> None:
    # quiet long enough for Hello and Other to start early, then a banner that
    # softmatches foo: only probes with a foo match are left (Rare)
    def reply(data: bytes) -> list[Step]:
        if data == b"RARE\r\n":
            return [(0.01, b"FOO here\nrare answer")]
        return []

    log: list[Entry] = []
    clock_box: list[Callable[[], float]] = []

    def peer() -> Peer:
        return Recorded(lambda: clock_box[0](), log, [(1.0, b"FOO here\n")], reply)

    serial, _s, _c = run(small, {80: lambda: Scripted([(1.0, b"FOO here\n")], reply)},
                         speculate=False)
    clock = FakeClock(START)
    clock_box.append(clock.now)
    streams = FakeStreams(clock, {(A, 80): peer})
    scan = ServiceScan(small, [(A, [80])], wall=clock.wall)
    ServiceLoop(scan, [(socket.AF_INET, A, 0)], clock=clock, streams=streams).run()
    assert result(scan, 80) == result(serial, 80) == Service(
        name="foo", method="probed", conf=10, product="Foo daemon", version="2")
    early = {e.sent: e.closed for e in log[1:] if e.sent in (b"HELLO\r\n", b"OTHER\r\n")}
    # both had started early, and both were closed at the softmatch (1 s), not at their end
    assert set(early) == {b"HELLO\r\n", b"OTHER\r\n"}
    assert all(t is not None and t - START == pytest.approx(1.0, abs=0.05)
               for t in early.values())


class OneAtATime:
    """A server that accepts every connection but serves one client at a time:
    silent, it answers OTHER with "BAR" once its turn comes (the connections
    before it closed)."""

    def __init__(self) -> None:
        self.queue: list[OneAtATime.Conn] = []

    class Conn:
        def __init__(self, server: OneAtATime) -> None:
            self.server = server
            self.pending = b""
            server.queue.append(self)

        def _answer(self) -> list[Step]:
            if self.server.queue[0] is not self or self.pending != b"OTHER\r\n":
                return []
            self.pending = b""
            return [(0.01, b"BAR")]

        def opened(self) -> Sequence[Step]:
            return ()

        def received(self, data: bytes) -> Sequence[Step]:
            self.pending += data
            return self._answer()

        def woken(self) -> Sequence[Step]:
            return self._answer()

        def closed(self) -> None:
            self.server.queue.remove(self)

    def connection(self) -> Peer:
        return OneAtATime.Conn(self)


def test_a_one_client_at_a_time_server_gets_nmaps_answer(small: ProbeDB) -> None:
    # the early run of Other hears nothing (the server is busy with the NULL
    # probe's connection): not trusted, Other is sent again, nmap's way
    serial, _s, _c = run(small, {80: OneAtATime().connection}, speculate=False)
    fast, streams, _c = run(small, {80: OneAtATime().connection}, speculate=True)
    assert result(serial, 80) == Service(name="bar", method="probed", conf=10)
    assert result(fast, 80) == result(serial, 80)
    assert len(streams.connects) > 1  # it did speculate


def test_serial_timing_levels_open_no_early_connection(small: ProbeDB) -> None:
    # -T0..-T2 (parallelism 1): nmap's own schedule, connection for connection
    services: dict[int, Callable[[], Peer]] = {80: Scripted}
    _scan, serial, _c = run(small, services, speculate=False, parallelism=1)
    _scan, fast, _c = run(small, services, speculate=True, parallelism=1)
    assert fast.connects == serial.connects and len(fast.connects) == 2
    # and so with a --host-timeout
    _scan, timed, _c = run(small, services, speculate=True, host_timeout=100.0)
    assert timed.connects == serial.connects


# ---------------------------------------------------------------- random services

# what a connection does when it opens, or when a probe's bytes come: steps after
# a delay (None: it closes, 104: it resets)
_DELAYS = st.sampled_from([0.0, 0.01, 0.2, 0.5, 2.0, 3.5, 5.5, 7.0])
_SAYS = st.sampled_from([b"SSH-2.0-OpenSSH_9.2p1\r\n", b"FOO here\n", b"FOO here\nrare answer",
                         b"HI there", b"BAR", b"junk\r\n", None, 104])
_STEPS = st.lists(st.tuples(_DELAYS, _SAYS), max_size=2)
_PAYLOADS = [b"HELLO\r\n", b"RARE\r\n", b"OTHER\r\n"]


@dataclass(frozen=True)
class Script:
    """A service that does the same on every connection: its banner, its replies."""

    banner: tuple[Step, ...]
    replies: tuple[tuple[bytes, tuple[Step, ...]], ...]

    def reply(self, data: bytes) -> list[Step]:
        return [step for payload, steps in self.replies if payload == data for step in steps]

    def __call__(self) -> Peer:
        return Scripted(self.banner, self.reply)


@st.composite
def scripted(draw: st.DrawFn) -> Callable[[], Peer]:
    return Script(tuple(draw(_STEPS)), tuple((p, tuple(draw(_STEPS))) for p in _PAYLOADS))


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(scripted(), min_size=1, max_size=3), st.sampled_from([7, 9]))
def test_speculation_never_changes_a_result(services: list[Callable[[], Peer]],
                                             intensity: int) -> None:
    db = parse_probes(SMALL)
    ports = {8000 + i: s for i, s in enumerate(services)}
    serial, fast, _t, _u, _n, _m = both(db, ports, intensity=intensity)
    # the fingerprint's time is the scan's clock when it was made (earlier, faster)
    assert {p: _timeless(s) for p, s in fast.items()} == {
        p: _timeless(s) for p, s in serial.items()}


def _timeless(service: Service) -> Service:
    fp = service.servicefp
    return replace(service, servicefp=re.sub(r"%Time=[0-9A-F]+", "", fp) if fp else fp)
