"""The engine's front door: host discovery and the connect scan over HostResults."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pynmap.results import HostResult, PortResult
from pynmap.timing import Timing

from .backend import Backend, SocketSetup
from .clock import SYSTEM, Clock
from .discovery import DEFAULT_PING_PORTS, assume_up, discover
from .events import Events, estimator, run_phase, times_of, wall_clock
from .scheduler import Scheduler
from .split import Call, Recorder, half_timing, replay, run_halves, worth_splitting

__all__ = ["DEFAULT_PING_PORTS", "Events", "SocketSetup", "assume_up", "connect_scan",
           "discover"]

# A port that never answered: nmap's default state for a connect scan.
UNANSWERED = ("filtered", "no-response")


def connect_scan(
    hosts: list[HostResult],
    ports: Sequence[int],
    timing: Timing,
    events: Events | None = None,
    *,
    t0: float | None = None,
    setup: SocketSetup | None = None,
    clock: Clock = SYSTEM,
    backend: Backend | None = None,
) -> None:
    """Connect-scan `ports` (in this order) on every host of one host group.

    Fills host.ports (sorted by port number), host.times, start_time,
    end_time, scanned_ports and timed_out.  A host that hit --host-timeout
    gets no ports, as nmap reports none.  Each host's RTT estimate and timing
    ping port carry over from discovery (host.times, host.ping_port).  `t0` is the run's start (clock.wall())
    for --packet-trace times; `clock` is the run's, `backend` what the loop
    runs on (real sockets by default).
    """
    if not hosts:
        return
    order = list(ports)
    rtt = [estimator(h.times, timing) for h in hosts]
    ping_ports = [h.ping_port for h in hosts]

    def scan(part: Sequence[int], to: object, part_timing: Timing,
             whole: bool = False) -> Scheduler:
        return run_phase(hosts, part, part_timing, to, t0, ping_scan=False, rtt=rtt,
                         ping_ports=ping_ports, setup=setup, whole=whole, clock=clock,
                         backend=backend)

    if worth_splitting(hosts, order, timing, events):
        scheduler = _split_scan(hosts, order, events, scan, half_timing(timing), clock)
    else:
        scheduler = scan(order, events, timing, whole=True)
    by_number = sorted(order)
    for host, state in zip(hosts, scheduler.hosts, strict=True):
        host.times = times_of(state.rtt)
        host.scanned_ports = len(order)
        host.start_time = wall_clock(state.clock_start, clock)
        host.end_time = wall_clock(state.end, clock)
        host.timed_out = state.timed_out
        if state.timed_out:
            host.ports = []
            continue
        answers = state.answers
        host.ports = [PortResult(port, *answers.get(port, UNANSWERED)) for port in by_number]


# What a half scan hands back: per target, its port answers, whether it
# timed out, and when its scan started and ended (monotonic clock).
_Half = list[tuple[dict[int, tuple[str, str]], bool, float | None, float | None]]


def _half_of(scheduler: Scheduler) -> _Half:
    return [(s.answers, s.timed_out, s.clock_start, s.end) for s in scheduler.hosts]


def _split_scan(hosts: Sequence[HostResult], order: list[int], events: object,
                scan: Callable[[Sequence[int], object, Timing], Scheduler],
                timing: Timing, clock: Clock) -> Scheduler:
    """Scan every other port in a second process (engine/split.py) and merge
    its answers into this process's scheduler, which the caller then reads;
    `timing` is each half's (split.half_timing)."""
    theirs, mine = order[1::2], order[0::2]
    started = clock.now()

    def child() -> tuple[_Half, list[Call], int]:
        recorder = Recorder(hosts)
        done = scan(theirs, recorder, timing)
        return _half_of(done), recorder.calls, done.probes_sent

    got, scheduler = run_halves(child, lambda: scan(mine, events, timing))
    if got is None:
        # The second process died without its answers: scan its ports here.
        again = scan(theirs, events, timing)
        got = (_half_of(again), [], again.probes_sent)
    half, calls, probes = got
    replay(calls, hosts, events)
    for state, other in zip(scheduler.hosts, half, strict=True):
        state.merge_half(*other)
    done: Callable[[int, float], None] | None = getattr(events, "phase_done", None)
    if done is not None:
        done(scheduler.probes_sent + probes, clock.now() - started)
    return scheduler
