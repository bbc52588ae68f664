"""The scheduler and the congestion windows, on a fake clock and a fake network.

Expected numbers come from nmap: the reference's measurements (1.5, 2.2: a
DROPped port costs about 1.2 s, 100 of them with -Pn about 21 s, a lone
down host about 3 s) and nmap's packet traces in the lab (first probe of a
3-host group goes to the second host; retransmissions newest first).
"""

from __future__ import annotations

import functools
import heapq
import itertools
from collections.abc import Callable, Iterable

import pytest

from pynmap.engine.congestion import CongestionParams, Window
from pynmap.engine.messages import Event, HostDone, HostUp, PortState
from pynmap.engine.probe import CLOSED, OPEN, Outcome, Probe, classify
from pynmap.engine.scheduler import HostState, Scheduler
from pynmap.engine.wording import INTERACTIVE, lines
from pynmap.pacing import NMAP, PYNMAP
from pynmap.timing import TEMPLATES, Timing

# Most tests here check nmap's own rules, which nmap pacing reproduces exactly.
NmapTiming = functools.partial(Timing, pacing=NMAP)

LOOPBACK = 0.0001  # 100 µs round trip
T0 = 1000.0

# What the fake network does with a probe: (delay, outcome), or None for silence.
Respond = Callable[[Probe], "tuple[float, Outcome] | None"]


def closed(_: Probe) -> tuple[float, Outcome]:
    return LOOPBACK, CLOSED


def dropping(drop: set[int]) -> Respond:
    def respond(p: Probe) -> tuple[float, Outcome] | None:
        return None if p.port in drop else (LOOPBACK, CLOSED)

    return respond


class Recorder:
    """The scheduler's `emit`: keeps its events, and the -v notices among them
    as nmap words them, with the verbosity that shows each."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.notices: list[tuple[str, int]] = []
        self.ports: list[tuple[int, int, str]] = []
        self.up: list[int] = []
        self.done: list[int] = []

    def __call__(self, event: Event) -> None:
        self.events.append(event)
        if isinstance(event, PortState):
            self.ports.append((event.host, event.port, event.state))
            return
        if isinstance(event, HostUp):
            self.up.append(event.host)
        elif isinstance(event, HostDone):
            self.done.append(event.host)
        for verbosity in (0, 1):
            said = [text for channel, text in lines(event, verbosity, 0) if channel is INTERACTIVE]
            if said:
                self.notices += [(text, verbosity) for text in said]
                break


class Sim:
    """Drives a scheduler the way the loop does, with answers delivered on a fake clock."""

    def __init__(self, sched: Scheduler, respond: Respond) -> None:
        self.sched = sched
        self.respond = respond
        self.now = T0
        self.sent: list[Probe] = []
        self.rounds: list[list[Probe]] = []
        self.abandoned: list[Probe] = []
        self.max_in_flight = 0
        self._answers: list[tuple[float, int, Probe, Outcome]] = []
        self._seq = itertools.count()

    def _collect_abandoned(self) -> None:
        self.abandoned.extend(self.sched.abandoned())

    def run(self, limit: float = 600.0) -> float:
        sched = self.sched
        spins = 0
        while not sched.done:
            for p in sched.expired(self.now):
                sched.on_timeout(p, self.now)
            self._collect_abandoned()
            batch = sched.next_probes(self.now)
            self.rounds.append(batch)
            for p in batch:
                self.sent.append(p)
                answer = self.respond(p)
                if answer is not None:
                    heapq.heappush(
                        self._answers, (self.now + answer[0], next(self._seq), p, answer[1])
                    )
            self._collect_abandoned()
            self.max_in_flight = max(self.max_in_flight, sched.in_flight)
            if sched.done:
                break
            deadline = sched.next_deadline()
            upcoming = self._answers[0][0] if self._answers else None
            candidates = [t for t in (deadline, upcoming) if t is not None]
            assert candidates, "scheduler stalled: no deadline and nothing in flight"
            nxt = min(candidates)
            if nxt > self.now:
                self.now = nxt
                spins = 0
            else:
                spins += 1
                assert spins < 1000, "scheduler spins without time passing"
            while self._answers and self._answers[0][0] <= self.now:
                _, _, p, outcome = heapq.heappop(self._answers)
                sched.on_outcome(p, outcome, self.now)
            assert self.now - T0 < limit, "scan did not finish"
        return self.now - T0


def scheduler(
    n_hosts: int, ports: list[int], timing: Timing | None = None, **kw: object
) -> Scheduler:
    addresses = [f"127.0.0.{i + 1}" for i in range(n_hosts)]
    return Scheduler(addresses, ports, timing or NmapTiming(), **kw)  # type: ignore[arg-type]


# ------------------------------------------------------------------ congestion windows


P = CongestionParams()


def test_congestion_params_follow_nmap() -> None:
    assert CongestionParams.from_timing(NmapTiming()) == CongestionParams(
        low_cwnd=1,
        max_cwnd=300,
        initial_cwnd=10,
        initial_ssthresh=75,
        ca_incr=1.0,
        ssthresh_divisor=1.5,
    )
    t4 = CongestionParams.from_timing(NmapTiming(**TEMPLATES[4], level=4))
    assert (t4.ca_incr, t4.ssthresh_divisor) == (2.0, 4 / 3)
    t5 = CongestionParams.from_timing(NmapTiming(**TEMPLATES[5], level=5))
    assert t5.ssthresh_divisor == 5 / 4
    serial = CongestionParams.from_timing(NmapTiming(max_parallelism=1))
    assert (serial.initial_cwnd, serial.max_cwnd) == (1, 1)
    wide = CongestionParams.from_timing(NmapTiming(min_parallelism=20, max_parallelism=50))
    assert (wide.low_cwnd, wide.initial_cwnd, wide.max_cwnd) == (20, 20, 50)


def test_slow_start_then_congestion_avoidance() -> None:
    w = Window.initial(P)
    assert (w.cwnd, w.ssthresh) == (10, 75)
    for _ in range(65):
        w.expect()
        w.ack(P)
    assert w.cwnd == 75  # +1 per answer in slow start, stopped at ssthresh
    w.expect()
    w.ack(P)
    assert w.cwnd == pytest.approx(75 + 1 / 75)  # then +1/cwnd per answer


def test_answers_count_more_after_many_timeouts() -> None:
    w = Window.initial(P)
    for _ in range(9):
        w.expect()  # nine probes given up on
    w.expect()
    w.ack(P)
    assert w.cwnd == 10 + 10  # scale = expected / received = 10


def test_window_never_exceeds_max() -> None:
    w = Window(cwnd=299.9, ssthresh=10)
    w.expect()
    w.ack(P, scale=50)
    assert w.cwnd == 300


def test_drop_collapses_a_host_window() -> None:
    w = Window(cwnd=40.0, ssthresh=75)
    w.drop(in_flight=30, params=P, now=5.0)
    assert (w.cwnd, w.ssthresh, w.last_drop) == (1, 20, 5.0)
    w.drop(in_flight=1, params=P, now=6.0)
    assert w.ssthresh == 2


def test_drop_halves_a_group_window() -> None:
    w = Window(cwnd=40.0, ssthresh=75)
    w.drop_group(in_flight=30, params=P, now=5.0)
    assert (w.cwnd, w.ssthresh) == (20, 20)
    w = Window(cwnd=1.5, ssthresh=75)
    w.drop_group(in_flight=3, params=P, now=5.0)
    assert w.cwnd == 1


# ------------------------------------------------------------------ the scheduler


def test_all_closed_single_tries() -> None:
    rec = Recorder()
    s = scheduler(1, list(range(1, 201)), emit=rec)
    sim = Sim(s, closed)
    sim.run()
    assert all(p.tryno == 0 for p in sim.sent)
    assert len(sim.sent) == 200
    assert s.hosts[0].answers == {p: ("closed", "conn-refused") for p in range(1, 201)}
    assert s.hosts[0].rtt.srtt == 100  # µs, from the answers
    assert rec.done == [0] and s.hosts[0].end == sim.now


def test_window_grows_in_slow_start_and_rounds_are_capped() -> None:
    s = scheduler(1, list(range(1, 1001)))

    def slow(_: Probe) -> tuple[float, Outcome]:
        return 0.01, CLOSED

    sim = Sim(s, slow)
    sim.run()
    sizes = [len(r) for r in sim.rounds if r]
    # cwnd starts at 10 and grows by one per answer (10 -> 20 -> 40 -> 80);
    # a round never exceeds 50
    assert sizes[:4] == [10, 20, 40, NMAP.round_cap]
    assert max(sizes) == NMAP.round_cap
    # past ssthresh (75) growth slows to about one probe per window of answers
    assert 75 < s.hosts[0].window.cwnd < 100


def test_a_dropped_port_gets_two_tries_and_costs_about_1_2_s() -> None:
    s = scheduler(1, [22, 80, 44444, 443])
    sim = Sim(s, dropping({44444}))
    elapsed = sim.run()
    tries = [p.tryno for p in sim.sent if p.port == 44444]
    assert tries == [0, 1]
    assert 44444 not in s.hosts[0].answers  # default: filtered / no-response
    # 100 ms timeout (min-rtt-timeout) + 1 s pause + 100 ms
    assert elapsed == pytest.approx(1.2, abs=0.01)
    first, second = (p.sent for p in sim.sent if p.port == 44444)
    assert second - first == pytest.approx(1.1, abs=0.01)


def test_filtered_ports_without_any_sample_take_nmaps_time() -> None:
    # reference 1.5: with -Pn and nothing but DROPped ports, 100 ports take ~21 s
    s = scheduler(1, list(range(45000, 45100)))
    elapsed = Sim(s, lambda p: None).run()
    assert 20.0 <= elapsed <= 22.0
    assert s.hosts[0].answers == {}


def test_retries_follow_the_highest_answered_try() -> None:
    # Every port answers only its second try: nmap learns that and keeps
    # retrying; none needs a third.
    s = scheduler(1, list(range(1, 31)))
    sim = Sim(s, lambda p: (LOOPBACK, CLOSED) if p.tryno >= 1 else None)
    sim.run()
    assert len(s.hosts[0].answers) == 30
    assert max(p.tryno for p in sim.sent) == 1
    assert s.hosts[0].max_ok_tryno == 1


def test_retransmissions_stop_at_max_retries() -> None:
    # Port 1 answers its second try and port 2 its third, so nmap learns to
    # try three times; that reaches --max-retries 2, and the ports that
    # would need a fourth try are given up on, with nmap's warning once.
    rec = Recorder()
    s = scheduler(1, list(range(1, 11)), NmapTiming(max_retries=2), emit=rec)
    need = {1: 1, 2: 2}
    sim = Sim(s, lambda p: (LOOPBACK, CLOSED) if p.tryno >= need.get(p.port, 3) else None)
    sim.run()
    assert max(p.tryno for p in sim.sent) == 2
    assert set(s.hosts[0].answers) == {1, 2}
    for port in range(3, 11):
        assert sorted(p.tryno for p in sim.sent if p.port == port) == [0, 1, 2]
    warning = "Warning: 127.0.0.1 giving up on port because retransmission cap hit (2)."
    assert [text for text, _ in rec.notices].count(warning) == 1


def test_without_answers_a_port_gets_two_tries_whatever_max_retries() -> None:
    s = scheduler(1, list(range(1, 11)), NmapTiming(max_retries=10))
    sim = Sim(s, lambda p: None)
    sim.run()
    assert max(p.tryno for p in sim.sent) == 1


def test_max_retries_zero_means_one_try_and_the_warning() -> None:
    # nmap -p 22,44444 --max-retries 0 prints exactly this warning (checked in the lab)
    rec = Recorder()
    s = scheduler(1, [22, 44444], NmapTiming(max_retries=0), emit=rec)
    sim = Sim(s, lambda p: None if p.port == 44444 else (LOOPBACK, OPEN))
    sim.run()
    assert [p.tryno for p in sim.sent if p.port == 44444] == [0]
    assert rec.notices == [
        ("Warning: 127.0.0.1 giving up on port because retransmission cap hit (0).", 0)
    ]


def test_answer_to_a_retransmission_is_a_drop() -> None:
    s = scheduler(1, [1, 2])

    def respond(p: Probe) -> tuple[float, Outcome] | None:
        if p.port == 2 and p.tryno == 0:
            return None
        return LOOPBACK, CLOSED

    sim = Sim(s, respond)
    sim.run()
    h = s.hosts[0]
    assert h.max_ok_tryno == 1
    # The drop cut the window to 1 (then the same answer opened it a little).
    assert h.window.cwnd < 10
    assert h.window.ssthresh == 2
    assert h.window.last_drop > T0


def test_repeated_drops_raise_the_scan_delay() -> None:
    rec = Recorder()
    s = scheduler(1, list(range(1, 41)), emit=rec)
    sim = Sim(s, lambda p: (LOOPBACK, CLOSED) if p.tryno >= 1 else None)
    sim.run()
    # more than 10 drops and over 30% of the answers: 0 -> 5 ms, then doubling
    assert [text for text, _ in rec.notices] == [
        "Increasing send delay for 127.0.0.1 from 0 to 5 due to 11 out of 11 dropped probes since last increase.",
        "Increasing send delay for 127.0.0.1 from 5 to 10 due to 11 out of 20 dropped probes since last increase.",
    ]
    assert s.hosts[0].delay == pytest.approx(0.010)


def test_scan_delay_boost_stops_at_max_scan_delay() -> None:
    s = scheduler(1, list(range(1, 41)), NmapTiming(max_scan_delay=7))
    Sim(s, lambda p: (LOOPBACK, CLOSED) if p.tryno >= 1 else None).run()
    assert s.hosts[0].delay == pytest.approx(0.007)  # 5, then min(10, 7)
    s = scheduler(1, list(range(1, 41)), NmapTiming(max_scan_delay=3))
    Sim(s, lambda p: (LOOPBACK, CLOSED) if p.tryno >= 1 else None).run()
    assert s.hosts[0].delay == pytest.approx(0.003)


def test_max_rate_spaces_the_probes() -> None:
    s = scheduler(1, list(range(1, 21)), NmapTiming(max_rate=10))
    sim = Sim(s, closed)
    sim.run()
    times = [p.sent - T0 for p in sim.sent]
    for i, t in enumerate(times):
        assert t >= 0.1 * i - 1e-9
    assert times[-1] == pytest.approx(1.9, abs=0.01)


def test_min_rate_sends_beyond_the_window() -> None:
    # Silent ports and no RTT sample: the window alone allows 10 per second.
    s = scheduler(1, list(range(1, 101)), NmapTiming(min_rate=100))
    sim = Sim(s, lambda p: None)
    sim.run()
    early = [p for p in sim.sent if p.sent - T0 < 0.5]
    assert len(early) >= 45


def test_scan_delay_spaces_probes_to_a_host() -> None:
    s = scheduler(1, list(range(1, 6)), NmapTiming(scan_delay=400))
    sim = Sim(s, closed)
    sim.run()
    gaps = [b.sent - a.sent for a, b in itertools.pairwise(sim.sent)]
    assert all(g >= 0.4 - 1e-9 for g in gaps)
    assert s.hosts[0].rtt.timeout == 400_000
    # as in nmap, the phase's start counts as the last probe: the first waits too
    assert sim.sent[0].sent - T0 == pytest.approx(0.4)


def test_scan_delay_comes_before_each_targets_first_probe() -> None:
    s = scheduler(2, [22], NmapTiming(scan_delay=15000), ping_scan=True)
    sim = Sim(s, closed)
    sim.run()
    assert [p.sent - T0 for p in sim.sent] == [pytest.approx(15.0)] * 2


def test_max_parallelism_and_socket_limit_bound_the_flight() -> None:
    s = scheduler(1, list(range(1, 51)), NmapTiming(max_parallelism=3))
    sim = Sim(s, closed)
    sim.run()
    assert sim.max_in_flight <= 3
    s = scheduler(3, list(range(1, 51)), max_sockets=7)
    sim = Sim(s, closed)
    sim.run()
    assert sim.max_in_flight <= 7
    assert all(len(h.answers) == 50 for h in s.hosts)


def test_host_timeout_gives_up_on_the_host() -> None:
    # the reference's host_timeout case: 100 DROPped ports, --max-rate 10, --host-timeout 2s
    rec = Recorder()
    s = scheduler(1, list(range(45000, 45100)), NmapTiming(max_rate=10, host_timeout=2000), emit=rec)
    sim = Sim(s, lambda p: None)
    elapsed = sim.run()
    h = s.hosts[0]
    assert h.timed_out
    assert elapsed == pytest.approx(2.0, abs=0.01)
    assert h.end is not None and h.clock_start is not None
    # nmap says this only for phases of more than 50 ports (here 100), with -v
    assert rec.notices == [("127.0.0.1 timed out during Connect Scan (0 hosts left)", 1)]


def test_host_timeout_abandons_the_probes_in_flight() -> None:
    # No answer, no RTT sample: ten probes wait out the 1 s initial timeout,
    # and the 0.5 s host timeout comes first.
    s = scheduler(1, list(range(1, 21)), NmapTiming(host_timeout=500))
    sim = Sim(s, lambda p: None)
    sim.run()
    assert s.hosts[0].timed_out
    assert s.hosts[0].end == pytest.approx(T0 + 0.5, abs=0.01)
    assert len(sim.abandoned) == 10 and all(not p.live for p in sim.abandoned)
    assert s.in_flight == 0


def test_first_probe_goes_to_the_second_host_as_in_nmap() -> None:
    # nmap --packet-trace -p 22,80 127.0.0.1,2,5 starts with 127.0.0.2:80
    s = scheduler(3, [80, 443], ping_scan=True)
    first = s.next_probes(T0)
    assert [(p.host, p.port) for p in first[:3]] == [(1, 80), (2, 80), (0, 80)]


def test_unsent_probes_are_retried() -> None:
    s = scheduler(1, [1, 2, 3])
    batch = s.next_probes(T0)
    s.on_unsent(batch[1], T0)
    assert s.in_flight == 2
    for p in (batch[0], batch[2]):
        s.on_outcome(p, CLOSED, T0 + 0.001)
    again = s.next_probes(T0 + 0.01)
    assert [(p.port, p.tryno) for p in again] == [(batch[1].port, 0)]
    s.on_outcome(again[0], CLOSED, T0 + 0.011)
    s.expired(T0 + 0.02)
    assert s.done
    assert len(s.hosts[0].answers) == 3


def test_self_connect_is_retried_like_a_timeout() -> None:
    s = scheduler(1, [40000, 1])
    batch = s.next_probes(T0)
    selfc = next(p for p in batch if p.port == 40000)
    other = next(p for p in batch if p.port == 1)
    s.on_outcome(other, CLOSED, T0 + 0.0001)
    s.on_timeout(selfc, T0 + 0.0001)  # what the loop does on a self-connect
    sim = Sim(s, closed)
    sim.now = T0 + 0.0001
    sim.run()
    assert s.hosts[0].answers[40000] == ("closed", "conn-refused")
    assert [p.tryno for p in sim.sent if p.port == 40000] == [1]


def test_an_answer_read_while_the_round_starts_asks_for_a_round_at_once() -> None:
    # The halves of a split scan read a loopback refusal as connect() returns,
    # between next_probes() and next_deadline(): the target it finishes must
    # leave at once, not after the loop's longest sleep (a second a phase).
    for ping_scan in (False, True):
        s = scheduler(1, [80], ping_scan=ping_scan)
        (p,) = s.next_probes(T0)
        s.on_outcome(p, CLOSED, T0 + 0.00002)
        assert s.next_deadline() == T0 + 0.00002
        assert s.expired(T0 + 0.00003) == []
        assert s.done


def test_strange_answer_leaves_the_probe_to_time_out() -> None:
    s = scheduler(1, [1])
    (p,) = s.next_probes(T0)
    assert s.on_outcome(p, classify(32), T0 + 0.001) is False
    assert p.live and s.in_flight == 1


# ------------------------------------------------------------------ host discovery


def test_discovery_first_answer_wins_and_abandons_the_rest() -> None:
    rec = Recorder()
    s = scheduler(1, [80, 443], ping_scan=True, emit=rec)
    p80, p443 = s.next_probes(T0)
    s.on_outcome(p80, CLOSED, T0 + 0.0001)
    assert s.abandoned() == [p443]
    assert not p443.live
    s.expired(T0 + 0.001)
    assert s.done
    h = s.hosts[0]
    assert (h.status, h.reason) == ("up", "conn-refused")
    assert h.rtt.srtt == 100
    assert rec.up == [0]


def test_discovery_open_port_gives_syn_ack() -> None:
    s = scheduler(1, [80, 443], ping_scan=True)
    sim = Sim(s, lambda p: (LOOPBACK, OPEN) if p.port == 443 else None)
    sim.run()
    assert (s.hosts[0].status, s.hosts[0].reason) == ("up", "syn-ack")


def test_lone_down_host_takes_about_3_s() -> None:
    s = scheduler(1, [80, 443], ping_scan=True)
    sim = Sim(s, lambda p: None)
    elapsed = sim.run()
    h = s.hosts[0]
    assert (h.status, h.reason) == ("down", "no-response")
    assert sorted((p.port, p.tryno) for p in sim.sent) == [(80, 0), (80, 1), (443, 0), (443, 1)]
    assert elapsed == pytest.approx(3.0, abs=0.01)
    assert h.rtt.srtt == -1


def test_down_host_among_live_ones_takes_about_1_2_s() -> None:
    s = scheduler(3, [80, 443], ping_scan=True)
    sim = Sim(s, lambda p: None if p.host == 2 else (LOOPBACK, CLOSED))
    elapsed = sim.run()
    assert [h.status for h in s.hosts] == ["up", "up", "down"]
    assert elapsed == pytest.approx(1.2, abs=0.01)


def test_icmp_error_means_down_with_its_reason_unless_another_port_answers() -> None:
    unreach = classify(113)  # EHOSTUNREACH
    s = scheduler(2, [80, 443], ping_scan=True)

    def respond(p: Probe) -> tuple[float, Outcome] | None:
        if p.port == 80:
            return LOOPBACK, unreach
        return (LOOPBACK * 2, CLOSED) if p.host == 0 else None

    sim = Sim(s, respond)
    sim.run()
    assert (s.hosts[0].status, s.hosts[0].reason) == ("up", "conn-refused")
    assert (s.hosts[1].status, s.hosts[1].reason) == ("down", "host-unreach")


def test_silent_target_gets_a_timing_ping_to_its_discovery_port() -> None:
    # nmap -p 22,45000-45099 (all DROPped but 22) re-probes discovery's port 80
    # once, about 1.3 s in, when the host has been silent for 1.25 s.
    s = scheduler(1, [22, *range(45000, 45100)], ping_ports=[80])
    s.hosts[0].rtt.update(100, s.limits)  # discovery's sample
    sim = Sim(s, lambda p: (LOOPBACK, CLOSED) if p.port in (22, 80) else None)
    elapsed = sim.run()
    pings = [p for p in sim.sent if p.ping]
    assert [(p.port, p.tryno) for p in pings] == [(80, 0)]
    assert pings[0].sent - T0 == pytest.approx(1.25, abs=0.1)
    assert 80 not in s.hosts[0].answers  # a ping decides no port state
    assert elapsed == pytest.approx(1.7, abs=0.1)


# ------------------------------------------------------------------ answers found at expiry
# A loop that falls behind (busy CPU) checks a probe's socket before timing it
# out; an answer found there is "late": it counts, but its arrival time is
# unknown, so it must not feed the RTT estimate.


def test_late_answer_counts_in_full_but_gives_no_rtt_sample() -> None:
    s = scheduler(1, [1, 2, 3])
    h = s.hosts[0]
    p1, p2, p3 = s.next_probes(T0)
    s.on_outcome(p1, CLOSED, T0 + LOOPBACK)
    # first sample 100 µs: rttvar 5 ms floor, timeout at the 100 ms minimum
    assert (h.rtt.srtt, h.rtt.rttvar, h.rtt.timeout) == (100, 5000, 100_000)
    due = s.expired(T0 + 0.5)  # the loop comes back half a second later
    assert due == [p2, p3]
    s.on_outcome(p2, OPEN, T0 + 0.5, late=True)
    s.on_outcome(p3, CLOSED, T0 + 0.5, late=True)
    assert h.answers == {
        1: ("closed", "conn-refused"),
        2: ("open", "syn-ack"),
        3: ("closed", "conn-refused"),
    }
    # two 0.5 s samples would have made the timeout over half a second
    assert (h.rtt.srtt, h.rtt.rttvar, h.rtt.timeout) == (100, 5000, 100_000)
    assert (s.group_rtt.srtt, s.group_rtt.timeout) == (100, 100_000)
    assert h.window.received == 3 and h.last_rcvd == T0 + 0.5
    assert s.next_probes(T0 + 0.5) == []  # nothing to retransmit
    s.expired(T0 + 0.5)
    assert s.done and s.probes_sent == 3


class LateReader:
    """Drives a scheduler like a loop that never reads an answer before its probe expires."""

    def __init__(self, sched: Scheduler, respond: Respond) -> None:
        self.sched = sched
        self.respond = respond
        self.now = T0
        self.sent: list[Probe] = []
        self.answers: dict[int, tuple[float, Outcome]] = {}  # id(probe) -> arrival, outcome

    def run(self, limit: float = 120.0) -> float:
        sched = self.sched
        while not sched.done:
            for p in sched.expired(self.now):
                arrival = self.answers.get(id(p))
                if arrival is not None and arrival[0] <= self.now:
                    sched.on_outcome(p, arrival[1], self.now, late=True)
                else:
                    sched.on_timeout(p, self.now)
            sched.abandoned()
            for p in sched.next_probes(self.now):
                self.sent.append(p)
                answer = self.respond(p)
                if answer is not None:
                    self.answers[id(p)] = (self.now + answer[0], answer[1])
            if sched.done:
                break
            deadline = sched.next_deadline()
            assert deadline is not None, "scheduler stalled"
            self.now = max(self.now, deadline)
            assert self.now - T0 < limit, "scan did not finish"
        return self.now - T0


def test_a_loop_that_reads_every_answer_late_still_gets_every_state() -> None:
    drop = {7, 50, 93}
    s = scheduler(1, list(range(1, 101)))
    reader = LateReader(s, dropping(drop))
    elapsed = reader.run()
    h = s.hosts[0]
    assert h.answers == {p: ("closed", "conn-refused") for p in range(1, 101) if p not in drop}
    # every answered port was probed once, each silent one twice (nmap's rule)
    tries = sorted((p.port, p.tryno) for p in reader.sent)
    assert tries == sorted([(p, 0) for p in range(1, 101)] + [(p, 1) for p in drop])
    # no sample at all: the timeout stays the initial 1 s instead of growing
    assert (h.rtt.srtt, h.rtt.timeout) == (-1, 1_000_000)
    assert s.group_rtt.srtt == -1
    assert elapsed < 10


def test_late_answer_in_discovery_finds_the_host_up_without_a_latency() -> None:
    s = scheduler(1, [80, 443], ping_scan=True)
    h = s.hosts[0]
    p80, p443 = s.next_probes(T0)
    due = s.expired(T0 + 1.5)  # past the initial 1 s timeout
    assert due == [p80, p443]
    s.on_outcome(p80, CLOSED, T0 + 1.5, late=True)
    assert (h.status, h.reason) == ("up", "conn-refused")
    # the other ping of the batch is moot now, answered or not
    s.on_timeout(p443, T0 + 1.5)
    assert not p443.live and s.in_flight == 0
    assert s.next_probes(T0 + 1.5) == []
    s.expired(T0 + 1.5)
    assert s.done
    assert h.rtt.srtt == -1 and h.ping_port == 80


def test_late_timing_ping_answer_gives_no_sample() -> None:
    # as in test_silent_target_gets_a_timing_ping_to_its_discovery_port, but
    # every answer, the ping's too, is found only at expiry
    s = scheduler(1, [22, *range(45000, 45100)], ping_ports=[80])
    h = s.hosts[0]
    h.rtt.update(100, s.limits)  # discovery's sample
    reader = LateReader(s, lambda p: (LOOPBACK, CLOSED) if p.port in (22, 80) else None)
    reader.run()
    assert [(p.port, p.tryno) for p in reader.sent if p.ping] == [(80, 0)]
    assert h.answers == {22: ("closed", "conn-refused")}
    assert (h.rtt.srtt, h.rtt.timeout) == (100, 100_000)


# ------------------------------------------------------------------ pynmap pacing

FAST = Timing(pacing=PYNMAP)


def test_pynmap_pacing_starts_wider_and_passes_nmaps_ceiling() -> None:
    s = scheduler(1, list(range(1, 2001)), FAST)

    def slow(_: Probe) -> tuple[float, Outcome]:
        return 0.05, CLOSED

    sim = Sim(s, slow)
    sim.run()
    sizes = [len(r) for r in sim.rounds if r]
    assert sizes[0] == PYNMAP.initial_cwnd
    assert max(sizes) == PYNMAP.round_cap
    assert s.hosts[0].window.cwnd > NMAP.max_cwnd
    assert len(s.hosts[0].answers) == 2000


def test_max_parallelism_still_bounds_pynmap_pacing() -> None:
    s = scheduler(1, list(range(1, 201)), Timing(pacing=PYNMAP, max_parallelism=7))
    in_flight: list[int] = []

    def slow(_: Probe) -> tuple[float, Outcome]:
        in_flight.append(s.in_flight)
        return 0.01, CLOSED

    Sim(s, slow).run()
    assert max(in_flight) == 7


def test_pynmap_pacing_skips_the_pause_for_a_filtering_target() -> None:
    ports = [22, 80, 44444, 443]
    answers = []
    for timing in (NmapTiming(), FAST):
        s = scheduler(1, ports, timing)
        sim = Sim(s, dropping({44444}))
        elapsed = sim.run()
        assert [p.tryno for p in sim.sent if p.port == 44444] == [0, 1]
        answers.append(s.hosts[0].answers)
    assert answers[0] == answers[1]  # the same results, without nmap's 1 s pause
    assert elapsed == pytest.approx(0.2, abs=0.01)


def test_pynmap_pacing_pauses_for_what_looks_like_rate_limiting() -> None:
    # Only every fourth first try is answered; every retransmission is.
    s = scheduler(1, list(range(1, 41)), FAST)
    sim = Sim(s, lambda p: (LOOPBACK, CLOSED) if p.tryno or p.port % 4 == 0 else None)
    sim.run()
    assert len(s.hosts[0].answers) == 40
    first = {p.port: p.sent for p in sim.sent if p.tryno == 0}
    again = min(p.sent - first[p.port] for p in sim.sent if p.tryno == 1)
    assert again >= 1.0  # nmap's pause before the first retransmission


def test_pynmap_pacing_counts_one_burst_of_losses_once() -> None:
    # Every first try is lost.  nmap dates each loss by the retransmission
    # that reveals it, so the burst raises the scan delay twice
    # (test_repeated_drops_raise_the_scan_delay); dated by the lost tries,
    # all sent before the first increase, it raises it once.
    rec = Recorder()
    s = scheduler(1, list(range(1, 41)), FAST, emit=rec)
    Sim(s, lambda p: (LOOPBACK, CLOSED) if p.tryno >= 1 else None).run()
    assert [text for text, _ in rec.notices] == [
        "Increasing send delay for 127.0.0.1 from 0 to 5 due to 11 out of 11 dropped probes since last increase.",
    ]
    assert len(s.hosts[0].answers) == 40


# ------------------------------------------------------------------ walks spared


class _FullWalk(Scheduler):
    """A scheduler whose next_deadline() visits every target of the group, as
    before the targets waiting for their first probe were passed over."""

    def _deadline_targets(self, waiting_for_answers: bool) -> Iterable[HostState]:
        return self._incomplete


class _Spared(Scheduler):
    """Records how many targets each next_deadline() visits, and of how many."""

    visits: list[tuple[int, int]]

    def _deadline_targets(self, waiting_for_answers: bool) -> Iterable[HostState]:
        targets = list(super()._deadline_targets(waiting_for_answers))
        self.visits.append((len(targets), len(self._incomplete)))
        return targets


@pytest.mark.parametrize("timing", [NmapTiming(), Timing(pacing=PYNMAP),
                                    NmapTiming(max_retries=1, scan_delay=3)],
                         ids=["nmap", "pynmap", "scan-delay"])
def test_deadlines_while_the_group_waits_are_what_a_full_walk_gives(timing: Timing) -> None:
    """While the group's window is full, next_deadline() visits only the targets
    with probes in flight or retries pending; every deadline, and so every
    send and its time, must be what the walk over the whole group gives."""
    def respond(p: Probe) -> tuple[float, Outcome] | None:
        if p.port == 4 or (p.port == 2 and p.tryno == 0 and p.host % 3 == 0):
            return None  # silent, or lost at the first try
        return LOOPBACK * (1 + (p.host * 7 + p.port) % 13), CLOSED

    runs = []
    for kind in (_Spared, _FullWalk):
        addresses = [f"127.0.0.{i + 1}" for i in range(120)]
        sched = kind(addresses, [1, 2, 3, 4], timing)
        sched.visits = []
        deadlines: list[float | None] = []
        ask = sched.next_deadline

        def next_deadline(ask: Callable[[], float | None] = ask,
                          deadlines: list[float | None] = deadlines) -> float | None:
            deadlines.append(ask())
            return deadlines[-1]

        sched.next_deadline = next_deadline  # type: ignore[method-assign]
        sim = Sim(sched, respond)
        sim.run()
        runs.append(([(p.host, p.port, p.tryno, p.sent) for p in sim.sent], deadlines))
        if kind is _Spared:
            # the shortcut was taken: targets were passed over
            assert any(seen < of for seen, of in sched.visits), sched.visits
    spared, walked = runs
    assert any(tryno for _, _, tryno, _ in spared[0])  # retransmissions did follow
    assert spared == walked


class _AlwaysFresh(Scheduler):
    """A scheduler that never learns that no target has fresh ports left:
    every round walks the group, as before the walk was spared."""

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__(name, 1 << 30 if name == "_fresh_hosts" else value)


@pytest.mark.parametrize("timing", [NmapTiming(), Timing(pacing=PYNMAP)], ids=["nmap", "pynmap"])
def test_rounds_without_fresh_ports_send_what_a_walk_would(timing: Timing) -> None:
    """Where no target has fresh ports left, a round spares its walk round the
    group; the retransmissions that follow must go out in the same order, at
    the same times, as when every round walks (the walk moves nmap's round
    robin on by one place)."""
    def respond(p: Probe) -> tuple[float, Outcome] | None:
        # silent ports, and ports answered only at the third try, which raises
        # the try limit and sends the ports parked at the old one from the
        # retry stack, in the round robin's order
        if p.port in (3, 7) or (p.port in (2, 5) and p.tryno < 2):
            return None
        return LOOPBACK, CLOSED

    sends = []
    for kind in (Scheduler, _AlwaysFresh):
        addresses = [f"127.0.0.{i + 1}" for i in range(7)]
        sched = kind(addresses, list(range(1, 9)), timing)
        rounds = sched.next_probes
        places: list[int] = []  # the round robin's place after each round

        def next_probes(now: float, rounds: Callable[[float], list[Probe]] = rounds,
                        sched: Scheduler = sched, places: list[int] = places) -> list[Probe]:
            batch = rounds(now)
            places.append(sched._rr % len(sched.hosts))
            return batch

        sched.next_probes = next_probes  # type: ignore[method-assign]
        sim = Sim(sched, respond)
        sim.run()
        sends.append(([(p.host, p.port, p.tryno, p.sent) for p in sim.sent], places))
    spared, walked = sends
    assert any(tryno for _, _, tryno, _ in spared[0])  # retransmissions did follow
    assert spared == walked
