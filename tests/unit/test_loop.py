"""The I/O loop's own logic on engine/fake.py's backend and a FakeClock.

No sockets, no root, no real time: each port's answer is scripted, and the
clock moves only while the loop sleeps in poll().  What the loop must get
right on its own (the scheduler's rules are test_scheduler.py's): nmap's
state and reason for each errno, answers that arrived but were not noticed
in time, running out of descriptors or local ports, a socket that connected
to itself, which closes reset the connection, and the times it reports
coming from the run's clock.  The lab tests (tests/lab/test_engine_*.py) run
the same code over real sockets.
"""

from __future__ import annotations

import errno
import itertools
import socket
from collections.abc import Callable

import pytest

from pynmap.engine.clock import FakeClock
from pynmap.engine.events import QUIETABLE
from pynmap.engine.fake import SILENT, FakeBackend, Reply
from pynmap.engine.loop import ConnectLoop
from pynmap.engine.messages import ECHO, Event, HostUp
from pynmap.engine.scan import Events, assume_up, connect_scan, discover
from pynmap.engine.scheduler import Scheduler
from pynmap.engine.wording import STDERR, fatal_message, lines
from pynmap.errors import Fatal, SystemFatal
from pynmap.pacing import NMAP
from pynmap.results import HostResult
from pynmap.timing import Timing

A, B, C, D = "192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"
ANSWER = 0.002  # a LAN's round trip
OPEN = Reply(0, after=ANSWER)
REFUSED = Reply(errno.ECONNREFUSED, after=ANSWER)
REFUSED_AT_ONCE = Reply(errno.ECONNREFUSED, at_once=True)  # loopback refuses inside connect()
TIMING = Timing(pacing=NMAP)


class Lines(Events):
    def __init__(self) -> None:
        self.warnings: list[str] = []
        self.traces: list[tuple[str, int, str, float]] = []

    def handle(self, event: Event, host: HostResult | None) -> None:
        super().handle(event, host)  # CONN events to conn_trace()
        self.warnings += [text for channel, text in lines(event, 0, 0) if channel is STDERR]

    def conn_trace(self, host: HostResult, port: int, text: str, elapsed: float) -> None:
        self.traces.append((host.address, port, text, round(elapsed, 6)))


def scan(script: dict[tuple[str, int], Reply | list[Reply]], ports: list[int],
         addresses: tuple[str, ...] = (A,), events: Events | None = None,
         **fake: object) -> tuple[list[HostResult], FakeBackend]:
    """-Pn and a connect scan of `ports` over the script; the hosts and the backend."""
    clock = FakeClock()
    backend = FakeBackend(clock, script, **fake)  # type: ignore[arg-type]
    hosts = [HostResult(a, socket.AF_INET) for a in addresses]
    assume_up(hosts, TIMING)
    connect_scan(hosts, ports, TIMING, events, clock=clock, backend=backend, t0=clock.wall())
    assert backend.open_now == 0 and backend.released  # nothing left open
    return hosts, backend


def table(host: HostResult) -> dict[int, tuple[str, str]]:
    return {p.port: (p.state, p.reason) for p in host.ports}


def test_each_answer_gives_nmaps_state_and_reason() -> None:
    script: dict[tuple[str, int], Reply | list[Reply]] = {
        (A, 22): OPEN, (A, 23): REFUSED_AT_ONCE, (A, 25): REFUSED,
        (A, 26): Reply(errno.EHOSTUNREACH, after=ANSWER),
        (A, 27): Reply(errno.ENETUNREACH, after=ANSWER),
        (A, 28): Reply(errno.EACCES, after=ANSWER),
    }
    [host], backend = scan(script, [22, 23, 24, 25, 26, 27, 28])
    assert table(host) == {
        22: ("open", "syn-ack"), 23: ("closed", "conn-refused"),
        24: ("filtered", "no-response"), 25: ("closed", "conn-refused"),
        26: ("filtered", "host-unreach"), 27: ("filtered", "net-unreach"),
        28: ("filtered", "admin-prohibited"),
    }
    # The silent port is retried once (no answer ever needed a retry), the others not.
    assert {p: backend.tries(A, p) for p in (22, 23, 24, 25, 26)} == {
        22: 1, 23: 1, 24: 2, 25: 1, 26: 1}


def test_an_answer_poll_never_reported_is_found_at_expiry() -> None:
    """The loop fell behind: the answers arrived but poll() did not say so.
    SO_ERROR, read before each probe times out, still finds them."""
    script: dict[tuple[str, int], Reply | list[Reply]] = {
        (A, 22): Reply(0, after=ANSWER, seen=False),
        (A, 23): Reply(errno.ECONNREFUSED, after=ANSWER, seen=False),
        (A, 24): Reply(0, after=ANSWER),
    }
    [host], backend = scan(script, [22, 23, 24, 25])
    assert table(host) == {22: ("open", "syn-ack"), 23: ("closed", "conn-refused"),
                           24: ("open", "syn-ack"), 25: ("filtered", "no-response")}
    assert backend.tries(A, 22) == backend.tries(A, 23) == 1  # no retransmission


def test_a_socket_connected_to_itself_is_no_open_port() -> None:
    """Connecting to a free port in the ephemeral range can meet our own socket
    (TCP simultaneous open): nmap's scan would call it open; it is not."""
    low = FakeBackend(FakeClock()).ephemeral[0]
    script: dict[tuple[str, int], Reply | list[Reply]] = {
        (A, low + 5): Reply(0, after=ANSWER, self_connect=True),
        (A, low + 6): OPEN,
    }
    [host], backend = scan(script, [low + 5, low + 6])
    assert table(host) == {low + 5: ("filtered", "no-response"), low + 6: ("open", "syn-ack")}
    assert backend.tries(A, low + 5) == 2  # treated as silence: retried, as a timeout is


def test_connected_sockets_close_with_a_reset_refused_ones_plainly() -> None:
    script: dict[tuple[str, int], Reply | list[Reply]] = {
        (A, 22): OPEN, (A, 23): REFUSED_AT_ONCE, (A, 25): REFUSED,
    }
    _, backend = scan(script, [22, 23, 24, 25])
    assert sorted(backend.closes) == [
        (A, 22, True),  # connected: SO_LINGER {1, 0}, RST, no TIME_WAIT
        (A, 23, False), (A, 24, True), (A, 24, True),  # silent: may have connected since
        (A, 25, False),
    ]


def test_out_of_descriptors_the_scan_waits_and_finishes() -> None:
    """EMFILE with sockets of ours open: hand the probe back, keep fewer in
    flight, back off; every port still gets its answer."""
    ports = list(range(1000, 1040))
    script: dict[tuple[str, int], Reply | list[Reply]] = {(A, p): REFUSED for p in ports}
    [host], backend = scan(script, ports, max_open=4)
    assert table(host) == {p: ("closed", "conn-refused") for p in ports}
    assert backend.peak == 4
    assert all(backend.tries(A, p) == 1 for p in ports)  # handed back, not retried


def test_emfile_with_no_socket_of_ours_open_is_nmaps_fatal_error_at_once() -> None:
    """Nothing of ours to close, and no other thread frees any: waiting cannot help."""
    clock = FakeClock()
    start = clock.now()
    sched = Scheduler([A], [22], TIMING)
    loop = ConnectLoop(sched, [(socket.AF_INET, A, 0)], clock=clock,
                       backend=FakeBackend(clock, max_open=0))
    with pytest.raises(SystemFatal) as raised:
        loop.run()
    assert raised.value.text == ("Socket creation in sendConnectScanProbe: "
                                 "Too many open files (24)\n")
    assert clock.now() == start


def test_eaddrnotavail_backs_off_doubling_then_scans() -> None:
    """Out of local ports (connect() fails with EADDRNOTAVAIL): wait 10 ms,
    then 20, 40 ..., and the port's state is its real one."""
    busy = Reply(errno.EADDRNOTAVAIL, at_once=True)
    [host], backend = scan({(A, 22): [busy, busy, busy, REFUSED]}, [22])
    assert table(host) == {22: ("closed", "conn-refused")}
    times = [t for _a, _p, t in backend.connects]
    gaps = [round(later - earlier, 6) for earlier, later in itertools.pairwise(times)]
    assert gaps == [0.01, 0.02, 0.04]


class Impatient(FakeBackend):
    """Fails the test rather than let a loop that never gives up run forever."""

    def poll(self, timeout: float) -> list[int]:
        assert self.clock.now() < 1000.0 + 60, "still waiting after a minute"
        return super().poll(timeout)


def test_out_of_local_ports_for_30_seconds_is_nmaps_fatal_error() -> None:
    clock = FakeClock(start=1000.0)
    sched = Scheduler([A], [22], TIMING)
    backend = Impatient(clock, {(A, 22): Reply(errno.EADDRNOTAVAIL, at_once=True)})
    with pytest.raises(SystemFatal) as raised:
        ConnectLoop(sched, [(socket.AF_INET, A, 0)], clock=clock, backend=backend).run()
    assert raised.value.errno == errno.EADDRNOTAVAIL
    assert 30 < clock.now() - 1000.0 < 31


def test_a_reset_after_the_handshake_is_an_open_port_with_nmaps_warning() -> None:
    events = Lines()
    [host], _ = scan({(A, 22): Reply(errno.ECONNRESET, after=ANSWER)}, [22], events=events)
    assert table(host) == {22: ("open", "syn-ack")}
    assert events.warnings == [f"Strange read error from {A} (104 - 'Connection reset by peer')"]


def test_a_fatal_errno_bails_the_scan() -> None:
    with pytest.raises(Fatal) as raised:
        scan({(A, 22): Reply(errno.ENETDOWN, after=ANSWER)}, [22])
    assert raised.value.message == fatal_message(A, errno.ENETDOWN)


def test_times_come_from_the_runs_clock() -> None:
    """--packet-trace times and the host's start and end are the run's clock's:
    on a FakeClock, exactly the scripted delays."""
    events = Lines()
    [host], _ = scan({(A, 22): Reply(0, after=0.25)}, [22], events=events)
    assert events.traces == [(A, 22, "Operation now in progress", 0.0),
                             (A, 22, "Connected", 0.25)]
    assert host.start_time is not None and host.end_time is not None
    assert round(host.end_time - host.start_time, 6) == 0.25


def test_discovery_on_the_fake_backend() -> None:
    """Host discovery runs on the same loop: any TCP answer means up with its
    reason, an ICMP error down with its reason, silence down (no-response)."""
    clock = FakeClock()
    backend = FakeBackend(clock, {
        (A, 80): REFUSED, (A, 443): SILENT,
        (B, 443): Reply(errno.EHOSTUNREACH, after=ANSWER),
    })
    hosts = [HostResult(a, socket.AF_INET) for a in (A, B, C)]
    discover(hosts, [80, 443], TIMING, clock=clock, backend=backend)
    assert [(h.status, h.reason) for h in hosts] == [
        ("up", "conn-refused"), ("down", "host-unreach"), ("down", "no-response")]
    assert backend.open_now == 0


def test_the_loop_over_a_bare_scheduler() -> None:
    """ConnectLoop itself: probes in flight never exceed max_sockets."""
    clock = FakeClock()
    backend = FakeBackend(clock, default=OPEN)
    sched = Scheduler([A, B], list(range(1, 201)), TIMING, max_sockets=7)
    ConnectLoop(sched, [(socket.AF_INET, A, 0), (socket.AF_INET, B, 0)], clock=clock,
                backend=backend).run()
    assert backend.peak <= 7
    assert all(len(h.answers) == 200 for h in sched.hosts)
    assert len(backend.connects) == 400


def test_an_answer_to_the_retry_decides_the_port() -> None:
    """The first SYN is lost, the retransmission answered: the port has the
    answer's state, and the target's later silent ports get one try more."""
    script: dict[tuple[str, int], Reply | list[Reply]] = {
        (A, 22): [SILENT, REFUSED], (A, 23): OPEN}
    [host], backend = scan(script, [22, 23, 24])
    assert table(host) == {22: ("closed", "conn-refused"), 23: ("open", "syn-ack"),
                           24: ("filtered", "no-response")}
    assert (backend.tries(A, 22), backend.tries(A, 24)) == (2, 3)


class HostsFound(Events):
    def __init__(self) -> None:
        self.up: list[tuple[str, str, str]] = []

    def handle(self, event: Event, host: HostResult | None) -> None:
        if isinstance(event, HostUp) and host is not None:
            self.up.append((host.address, host.status, host.reason))


def test_the_caller_hears_of_a_host_up_with_its_result_already_set() -> None:
    """The driver sets the HostResult before it hands HostUp on: the caller's
    <hosthint> is written from it."""
    clock = FakeClock()
    found = HostsFound()
    hosts = [HostResult(a, socket.AF_INET) for a in (A, B)]
    discover(hosts, [80, 443], TIMING, found, clock=clock,
             backend=FakeBackend(clock, {(B, 443): OPEN}))
    assert found.up == [(B, "up", "syn-ack")]


# -- --privileged: ICMP echo requests through ping sockets --------------------------------------

def test_echo_requests_in_discovery() -> None:
    """The echo request goes first; its reply means up with nmap's reason echo-reply
    and the reply's TTL, even when a connect ping answers in the same round; a
    host that ignores it is still found by its connect ping; a send that fails
    at once is down with the errno's reason.  The echo request is no timing ping
    for the port scan, and has no --packet-trace CONN line."""
    clock = FakeClock()
    backend = FakeBackend(clock, {
        (A, ECHO): Reply(0, after=ANSWER), (A, 80): REFUSED,
        (C, ECHO): SILENT, (C, 80): REFUSED,
        (D, ECHO): Reply(errno.ENETUNREACH, at_once=True),
    }, echo_ttl=63)
    hosts = [HostResult(a, socket.AF_INET) for a in (A, C, D)]
    events = Lines()
    discover(hosts, [80], TIMING, events, clock=clock, backend=backend, echo=True,
             t0=clock.wall())
    assert [(h.status, h.reason, h.reason_ttl) for h in hosts] == [
        ("up", "echo-reply", 63), ("up", "conn-refused", 0), ("down", "net-unreach", 0)]
    assert [h.ping_port for h in hosts] == [None, 80, None]
    assert [p for a, p, _ in backend.connects if a == A] == [ECHO, 80]
    assert {port for _, port, _, _ in events.traces} == {80}
    assert backend.open_now == 0


@pytest.mark.parametrize("icmp,ipv6,result", [
    ((11, 0, False), False, ("down", "time-exceeded", 63)),  # a router: TTL ran out
    ((3, 0, True), True, ("down", "time-exceeded", 63)),  # ICMPv6 type 3
    ((3, 3, True), False, ("up", "port-unreach", 63)),  # from the target itself
    ((3, 2, True), False, ("up", "proto-unreach", 63)),
    ((1, 4, True), True, ("up", "port-unreach", 63)),
    # destination unreachable from a router, or any other code: only a hint
    # (RFC 1122) that nmap ignores: the request is tried again, then no-response
    ((3, 1, False), False, ("down", "no-response", 0)),
    ((3, 3, False), False, ("down", "no-response", 0)),
    ((3, 13, True), False, ("down", "no-response", 0)),
    ((1, 3, True), True, ("down", "no-response", 0)),
    ((4, 0, True), False, ("down", "no-response", 0)),  # source quench
])
def test_icmp_errors_about_echo_requests(icmp: tuple[int, int, bool], ipv6: bool,
                                         result: tuple[str, str, int]) -> None:
    clock = FakeClock()
    target = "2001:db8::1" if ipv6 else A
    backend = FakeBackend(clock, {(target, ECHO): Reply(icmp=icmp, after=ANSWER)})
    hosts = [HostResult(target, socket.AF_INET6 if ipv6 else socket.AF_INET)]
    discover(hosts, [], TIMING, clock=clock, backend=backend, echo=True)
    assert (hosts[0].status, hosts[0].reason, hosts[0].reason_ttl) == result
    # ignored, the request is tried again as a silent one would be (nmap's discovery
    # retries a host that never answered once)
    assert backend.tries(target, ECHO) == (2 if result[1] == "no-response" else 1)
    assert backend.open_now == 0


def test_without_echo_no_echo_request_is_sent() -> None:
    clock = FakeClock()
    backend = FakeBackend(clock, {(A, ECHO): Reply(0, after=ANSWER), (A, 80): REFUSED})
    hosts = [HostResult(A, socket.AF_INET)]
    discover(hosts, [80], TIMING, clock=clock, backend=backend)
    assert (hosts[0].reason, backend.tries(A, ECHO)) == ("conn-refused", 0)


# ---------------------------------------------------------------- events nobody hears

class Hearing(Events):
    """Records the events it is given; wants the quietable ones only from the
    `from_tick`-th round of the loop on (a key press raising -v mid-scan)."""

    def __init__(self, from_tick: int) -> None:
        self.from_tick = from_tick
        self.ticks = 0
        self.kinds: list[str] = []

    def handle(self, event: Event, host: HostResult | None) -> None:
        self.kinds.append(type(event).__name__)

    def tracing(self) -> bool:
        return False

    def wants(self, kind: type[Event]) -> bool:
        return kind not in QUIETABLE or self.ticks >= self.from_tick

    def tick(self, completion: Callable[[], float]) -> float | None:
        self.ticks += 1
        return None


def test_events_nobody_wants_are_not_made_and_results_stay_whole() -> None:
    ports = list(range(1, 41))
    script = {(A, p): OPEN if p % 2 else REFUSED for p in ports}
    deaf = Hearing(from_tick=1 << 30)
    hosts, _ = scan(script, ports, events=deaf)
    assert not {"PortState", "PingProbe", "HostDone", "GlobalPingHost"} & set(deaf.kinds)
    assert table(hosts[0]) == {p: ("open", "syn-ack") if p % 2 else ("closed", "conn-refused")
                               for p in ports}
    # wanted from the start: one PortState per port, and the rest
    loud = Hearing(from_tick=0)
    scan(script, ports, events=loud)
    assert loud.kinds.count("PortState") == len(ports)
    assert {"PingProbe", "HostDone", "GlobalPingHost"} <= set(loud.kinds)


def test_a_key_press_mid_scan_brings_the_quiet_events_back() -> None:
    # a small window: the ports go out over several rounds of the loop
    ports = list(range(1, 201))
    script = {(A, p): REFUSED for p in ports}
    later = Hearing(from_tick=2)
    scan(script, ports, events=later)
    heard = later.kinds.count("PortState")
    assert 0 < heard < len(ports)


def test_a_phase_leaves_no_cycle_behind() -> None:
    """The loop and the phase driver's tick() refer to each other: unless the
    driver lets go, a host group's scheduler, probes and answers live on
    until the cyclic collector finds them (on a /16, its passes cost more
    than the scheduler's own work)."""
    import gc

    gc.collect()
    gc.disable()
    try:
        scan({(A, 22): OPEN, (A, 23): REFUSED}, [22, 23], events=Lines())
        loops = [o for o in gc.get_objects() if isinstance(o, ConnectLoop)]
    finally:
        gc.enable()
    assert loops == []
