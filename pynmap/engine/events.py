"""One phase of the engine (host discovery, or the port scan of a host group), driven from here.

`run_phase` builds the scheduler, runs the I/O loop over a backend on the
run's clock, and hands every event the scheduler and the loop emit
(messages.py) to the caller's `Events`, with the HostResult it is about.
A big port scan may be shared with a second process (split.py does the
forking): the second one records its events and the driver replays them
here, then merges that half's answers into this process's scheduler.
"""

from __future__ import annotations

import functools
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from pynmap.results import HostResult, Times
from pynmap.timing import Timing

from .backend import Backend, SocketSetup, socket_budget
from .clock import SYSTEM, Clock
from .loop import ConnectLoop
from .messages import (
    ConnTrace,
    Event,
    GlobalPingHost,
    HostDone,
    HostEvent,
    HostUp,
    PhaseDone,
    PingProbe,
    PortState,
)
from .rtt import RttEstimator
from .scheduler import Scheduler
from .split import half_timing, run_halves, worth_splitting
from .wording import conn_text


class Events(Protocol):
    """The caller's side of a phase: what the engine reports, and the two things it asks.

    A Protocol with working bodies: a subclass overrides what it needs (the
    CLI's in session.py, split.py's recorder, a test's)."""

    def handle(self, event: Event, host: HostResult | None) -> None:
        """One event (messages.py); `host` is the target it is about (None: the phase's).
        engine/wording.py has nmap's lines for it.  This one passes CONN events to
        conn_trace()."""
        if host is not None and type(event) is ConnTrace:
            self.conn_trace(host, event.port, conn_text(event.errno), event.elapsed)

    def conn_trace(self, host: HostResult, port: int, text: str, elapsed: float) -> None:
        """One --packet-trace CONN line: text is "Operation now in progress",
        "Connected" or strerror(errno); elapsed is seconds since the run's start."""
        return None

    def tracing(self) -> bool:
        """Whether CONN events are wanted now (--packet-trace, -d3, the p/P keys)."""
        return True

    def wants(self, kind: type[Event]) -> bool:
        """Whether an event of this kind would make any difference now: the
        engine may leave out the per-answer and per-target ones that would not
        (see QUIETABLE).  Asked again every round of the loop."""
        return True

    def tick(self, completion: Callable[[], float]) -> float | None:
        """Called once per round of the I/O loop; `completion()` gives the phase's
        fraction done.  Returns how long the loop may sleep before the next call
        (None: no limit)."""
        return None


class _Nobody(Events):
    """No caller listening."""

    def handle(self, event: Event, host: HostResult | None) -> None:
        return None

    def tracing(self) -> bool:
        return False

    def wants(self, kind: type[Event]) -> bool:
        return False


class Recorder(Events):
    """The second process's Events: keeps every event for the first process to
    replay (iterating gives them in order); never traces (a traced scan does
    not split), never ticks (the first process keeps the keyboard).

    It is pickled on the way to the first process, at the end of the child's
    scan, where the first process waits for it.  Nearly every event is a
    PortState (one per port: 32,768 for half of -p-), so those are kept as
    columns, a few compact arrays instead of as many objects (measured on
    loopback -p-: the child's pickle of its results took 8-10 ms instead of
    90-130 ms).  The other events are kept as they are, with their place in
    the sequence."""

    def __init__(self) -> None:
        self._count = 0
        self._others: list[tuple[int, Event]] = []  # (place in the sequence, event)
        self._hosts = array("I")
        self._ports = array("H")
        self._outcomes = bytearray()  # index into _table
        self._table: list[tuple[str, str]] = []  # the (state, reason) pairs seen
        self._addresses: dict[int, str] = {}  # host index -> address

    def handle(self, event: Event, host: HostResult | None) -> None:
        if type(event) is PortState:
            assert isinstance(event, PortState)
            outcome = (event.state, event.reason)
            try:
                code = self._table.index(outcome)
            except ValueError:  # a handful of pairs in all (states times reasons)
                code = len(self._table)
                self._table.append(outcome)
            self._hosts.append(event.host)
            self._ports.append(event.port)
            self._outcomes.append(code)
            self._addresses[event.host] = event.address
        else:
            self._others.append((self._count, event))
        self._count += 1

    def __iter__(self) -> Iterator[Event]:
        others = iter(self._others)
        pending = next(others, None)
        column = 0
        for place in range(self._count):
            if pending is not None and pending[0] == place:
                yield pending[1]
                pending = next(others, None)
                continue
            host = self._hosts[column]
            state, reason = self._table[self._outcomes[column]]
            yield PortState(host, self._addresses[host], self._ports[column], state, reason)
            column += 1

    def tracing(self) -> bool:
        return False


# The events the scheduler leaves out when the caller does not want them
# (Scheduler.quiet): one per answer or per target, and so the bulk of a big
# scan's, for -v and -d lines that are off unless asked for.
QUIETABLE = (PortState, PingProbe, HostDone, GlobalPingHost)


def quiet_kinds(to: Events) -> frozenset[type[Event]]:
    return frozenset(kind for kind in QUIETABLE if not to.wants(kind))


def _deliver(hosts: Sequence[HostResult], to: Events, event: Event) -> None:
    """Hand one event to the caller with its target; a target found up gets its
    status and reasons first (the caller's <hosthint> shows them)."""
    if isinstance(event, HostEvent):
        host = hosts[event.host]
        if type(event) is HostUp:
            host.status = "up"
            host.reason = event.reason or host.reason
            host.reason_ttl = event.ttl
            host.hint_reason = event.hint_reason
        to.handle(event, host)
    else:
        to.handle(event, None)


def estimator(times: Times, timing: Timing) -> RttEstimator:
    """A target's estimator from its Times; no sample yet means the initial timeout."""
    if times.srtt == -1 and times.rttvar == -1:
        return RttEstimator(-1, -1, timing.initial_rtt_timeout * 1000)
    return RttEstimator(times.srtt, times.rttvar, times.timeout)


def times_of(est: RttEstimator) -> Times:
    return Times(est.srtt, est.rttvar, est.timeout)


def max_sockets(timing: Timing) -> int:
    """Sockets allowed in flight: --max-parallelism if given, never more than descriptors allow."""
    budget = socket_budget()
    if timing.max_parallelism > 0:
        return min(timing.max_parallelism, budget)
    return budget


def run_phase(
    hosts: Sequence[HostResult],
    ports: Sequence[int],
    timing: Timing,
    events: Events | None,
    t0: float | None,
    *,
    ping_scan: bool,
    rtt: Sequence[RttEstimator] | None,
    group_rtt: RttEstimator | None = None,
    ping_ports: Sequence[int | None] | None = None,
    setup: SocketSetup | None = None,
    clock: Clock = SYSTEM,
    backend: Backend | None = None,
    may_split: bool = False,
) -> Scheduler:
    """Run one phase over `hosts` to the end; returns its scheduler for the results.

    `t0` is the run's start (clock.wall()) for --packet-trace times; `clock`
    is the run's, `backend` what the loop runs on (real sockets by default).
    `may_split`: a port scan that may run on two processes when it is worth
    it; the scheduler returned then holds the answers of both halves.
    A half of a split scan reads a loopback refusal as connect() returns (loop.py).
    """
    to: Events = events if events is not None else _Nobody()
    started = clock.now()

    def one(part: Sequence[int], sink: Events, part_timing: Timing,
            half: bool = False) -> Scheduler:
        return _run(hosts, part, part_timing, sink, t0, clock, backend, setup, half=half,
                    ping_scan=ping_scan, rtt=rtt, group_rtt=group_rtt, ping_ports=ping_ports)

    if may_split and backend is None and worth_splitting(hosts, ports, timing, to):
        scheduler, probes = _run_split(hosts, ports, timing, to, one)
    else:
        scheduler = one(ports, to, timing)
        probes = scheduler.probes_sent
    to.handle(PhaseDone(probes, clock.now() - started), None)
    return scheduler


def _run(
    hosts: Sequence[HostResult],
    ports: Sequence[int],
    timing: Timing,
    to: Events,
    t0: float | None,
    clock: Clock,
    backend: Backend | None,
    setup: SocketSetup | None,
    *,
    half: bool,
    ping_scan: bool,
    rtt: Sequence[RttEstimator] | None,
    group_rtt: RttEstimator | None,
    ping_ports: Sequence[int | None] | None,
) -> Scheduler:
    """One scheduler over one loop, in this process."""

    # a partial, not a closure: one Python frame less per event (one per answer)
    deliver: Callable[[Event], None] = functools.partial(_deliver, hosts, to)

    scheduler = Scheduler(
        [h.address for h in hosts],
        ports,
        timing,
        ping_scan=ping_scan,
        max_sockets=max_sockets(timing),
        rtt=rtt,
        group_rtt=group_rtt,
        ping_ports=ping_ports,
        emit=deliver,
    )
    scheduler.quiet = quiet_kinds(to)

    def tick() -> float | None:
        wait = to.tick(scheduler.completion)
        # A key press takes effect at once: p/P, or d up to -d3; v or d for
        # the lines of the events that were quiet.
        loop.trace = to.tracing()
        scheduler.quiet = quiet_kinds(to)
        return wait

    # Trace times count from the caller's start (wall clock), read off the
    # run's monotonic clock so a clock step cannot skew them.
    origin = clock.now() - (clock.wall() - t0 if t0 is not None else 0.0)
    loop = ConnectLoop(
        scheduler, [(h.family, h.address, h.scope_id) for h in hosts],
        emit=deliver, tracing=to.tracing(), origin=origin, tick=tick, setup=setup,
        clock=clock, backend=backend, early_answers=half,
    )
    try:
        loop.run()
    finally:
        # tick() holds the loop, and the loop tick(): left so, the group's
        # whole scheduler (its targets, probes and answers) would wait for
        # the cyclic garbage collector, whose passes then walk it, group
        # after group, instead of reference counting freeing it here.
        loop.tick = None
    return scheduler


# What a half scan hands back: per target, its port answers, whether it
# timed out, and when its scan started and ended (the run's clock).
_Half = list[tuple[dict[int, tuple[str, str]], bool, float | None, float | None]]


def _half_of(scheduler: Scheduler) -> _Half:
    return [(s.answers, s.timed_out, s.clock_start, s.end) for s in scheduler.hosts]


def _run_split(hosts: Sequence[HostResult], order: Sequence[int], timing: Timing, to: Events,
               one: Callable[[Sequence[int], Events, Timing, bool], Scheduler]
               ) -> tuple[Scheduler, int]:
    """Scan every other port in a second process (split.py) and merge its
    answers into this process's scheduler; also returns the probes both sent."""
    theirs, mine = order[1::2], order[0::2]
    each = half_timing(timing)

    def child() -> tuple[_Half, Iterable[Event], int]:
        recorder = Recorder()
        done = one(theirs, recorder, each, True)
        return _half_of(done), recorder, done.probes_sent

    got, scheduler = run_halves(child, lambda: one(mine, to, each, True))
    if got is None:
        # The second process died without its answers: scan its ports here.
        again = one(theirs, to, each, True)
        got = (_half_of(again), [], again.probes_sent)
    half, recorded, probes = got
    for event in recorded:
        _deliver(hosts, to, event)
    for state, other in zip(scheduler.hosts, half, strict=True):
        state.merge_half(*other)
    return scheduler, scheduler.probes_sent + probes
