"""What a scan phase reports while it runs, and the glue that runs one phase.

`Events` is the caller's side (the CLI prints these): a Protocol, so any
object with these methods will do.  Each method is a no-op here, so a class
that subclasses `Events` overrides only what it shows; and the engine looks
every method up with getattr, so an object that lacks one is fine too (the
child's Recorder in split.py lacks the parent-only ones).  One optional
method is not listed: `tracing() -> bool`, whether CONN lines are wanted now.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Protocol

from pynmap.results import HostResult, Times
from pynmap.timing import Timing

from .loop import ConnectLoop, SocketSetup, socket_budget
from .rtt import RttEstimator
from .scheduler import Scheduler, SchedulerEvents


class Events(Protocol):
    """Callbacks for what nmap prints during a scan (-v, --packet-trace, warnings).

    The bodies say `return None` so that a subclass inherits working no-ops
    (a Protocol method with an empty body counts as abstract)."""

    def discovered(self, host: HostResult, port: int, state: str) -> None:
        """A port got a state or changed it: nmap's `Discovered <state> port P/tcp on ADDR`
        (-v shows it for open ports, -d2 for every state)."""
        return None

    def debug(self, text: str, level: int, plain: bool) -> None:
        """One of nmap's -d lines (no newline), shown when debugging >= `level`: on
        stdout only, or with `plain` also in the normal and kiddie outputs (LOG_PLAIN)."""
        return None

    def conn_trace(self, host: HostResult, port: int, text: str, elapsed: float) -> None:
        """One --packet-trace CONN line: text is "Operation now in progress",
        "Connected" or strerror(errno); elapsed is seconds since `t0`."""
        return None

    def host_up(self, host: HostResult) -> None:
        """Host discovery found `host` up (status/reason already set): XML <hosthint> time."""
        return None

    def notice(self, text: str, verbosity: int) -> None:
        """A line for the normal output (no newline), shown when -v level >= verbosity."""
        return None

    def warn(self, text: str) -> None:
        """One of nmap's stderr lines (its error()), without the newline."""
        return None

    def phase_done(self, probes_sent: int, seconds: float) -> None:
        """A phase ended after sending `probes_sent` probes in `seconds` (nmap's -d rate line)."""
        return None

    def tick(self, completion: Callable[[], float]) -> float | None:
        """Called once per round of the I/O loop; `completion()` gives the phase's
        fraction done.  Returns how long the loop may sleep before the next call
        (None: no limit).  Lacking this method, nothing is called."""
        return None


class _Bridge(SchedulerEvents):
    """Turns the scheduler's host indices into HostResults for the caller's Events."""

    def __init__(self, hosts: Sequence[HostResult], events: object, t0: float | None) -> None:
        self.hosts = hosts
        # The caller's methods (Events' signatures), None where it lacks one
        self._discovered: Callable[[HostResult, int, str], None] | None = getattr(
            events, "discovered", None)
        self._debug: Callable[[str, int, bool], None] | None = getattr(events, "debug", None)
        self._pinghost: int | None = None  # nmap's "global ping host" of this phase
        self._trace: Callable[[HostResult, int, str, float], None] | None = getattr(
            events, "conn_trace", None)
        # Whether CONN lines are wanted may change mid-phase (the p/P keys, or d
        # to -d3); without the caller's say, it wants them whenever it takes them.
        self.tracing: Callable[[], bool] = getattr(events, "tracing", None) or (
            lambda: self._trace is not None)
        self._up: Callable[[HostResult], None] | None = getattr(events, "host_up", None)
        self._notice: Callable[[str, int], None] | None = getattr(events, "notice", None)
        self._warn: Callable[[str], None] | None = getattr(events, "warn", None)
        # Trace times count from the caller's start (wall clock), read off
        # the monotonic clock so a clock step cannot skew them.
        wall, mono = time.time(), time.monotonic()
        self._origin = mono - (wall - t0 if t0 is not None else 0.0)
        self.scheduler: Scheduler | None = None

    def port_state(self, host: int, port: int, state: str, reason: str) -> None:
        if self._discovered is not None:
            self._discovered(self.hosts[host], port, state)

    # nmap's debugging lines, worded as nmap words them
    def host_answer(self, host: int, before: str | None, up: bool, tryno: int,
                    waited: float) -> None:
        if self._debug is not None:
            self._debug(
                f"ultrascan_host_probe_update called for machine {self.hosts[host].address} "
                f"state {_HOST_STATES[before]} -> {_HOST_STATES['up' if up else 'down']} "
                f"(trynum {tryno} time: {int(waited * 1e6)})", 2, False)

    def ping_probe(self, host: int, port: int) -> None:
        if self._debug is not None:
            self._debug(f"Changing ping technique for {self.hosts[host].address} to connect "
                        f"to port {port}", 2, True)

    def untimed(self, host: int, state: str) -> None:
        if self._debug is not None:
            self._debug(f"Response for {self.hosts[host].address} means new state is {state}; "
                        "not adjusting timing.", 2, True)

    def dropped(self, host: int) -> None:
        if self._debug is not None:
            self._debug(f"Ultrascan DROPPED probe packet to {self.hosts[host].address} detected",
                        2, True)

    def max_tryno(self, host: int, tryno: int) -> None:
        if self._debug is not None:
            self._debug(f"Increased max_successful_tryno for {self.hosts[host].address} to "
                        f"{tryno} (packet drop)", 1, False)

    def host_done(self, host: int, now: float) -> None:
        if self._debug is None or self.scheduler is None:
            return
        hosts = self.scheduler.hosts
        state = hosts[host]
        address = self.hosts[host].address
        left = state.n_active + len(state.waiting)
        self._debug(f"Moving {address} to completed hosts list with {left} outstanding "
                    f"{'probe' if left == 1 else 'probes'}.", 3, True)
        # nmap keeps the finished host with the best timing ping for global
        # pings; every connect ping scores the same, so the newest one wins
        # unless the current one still has a ping in flight
        if state.ping_port is not None and (
                self._pinghost is None or hosts[self._pinghost].n_active == 0):
            self._pinghost = host
            self._debug(f"Changing global ping host to {address}.", 2, True)

    def host_up(self, host: int) -> None:
        result = self.hosts[host]
        result.status = "up"
        if self.scheduler is not None:
            state = self.scheduler.hosts[host]
            result.reason = state.reason or result.reason
            result.hint_reason = state.hint_reason
        if self._up is not None:
            self._up(result)

    def notice(self, text: str, verbosity: int) -> None:
        if self._notice is not None:
            self._notice(text, verbosity)

    def warn(self, text: str) -> None:
        if self._warn is not None:
            self._warn(text)

    def trace(self, host: int, port: int, text: str) -> None:
        if self._trace is not None:
            self._trace(self.hosts[host], port, text, time.monotonic() - self._origin)


# nmap's names for a target's status in its -d2 lines
_HOST_STATES = {None: "UNKNOWN", "up": "HOST_UP", "down": "HOST_DOWN"}


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
    events: object,
    t0: float | None,
    *,
    ping_scan: bool,
    rtt: Sequence[RttEstimator] | None,
    group_rtt: RttEstimator | None = None,
    ping_ports: Sequence[int | None] | None = None,
    setup: SocketSetup | None = None,
    whole: bool = True,
) -> Scheduler:
    """Run one scheduler over real sockets to the end; returns it for its results.

    `whole=False`: these ports are part of a phase shared with another
    process (split.py), whose caller reports phase_done for all of it; such a
    half reads a loopback refusal as connect() returns (loop.py).
    """
    bridge = _Bridge(hosts, events, t0)
    scheduler = Scheduler(
        [h.address for h in hosts],
        ports,
        timing,
        ping_scan=ping_scan,
        max_sockets=max_sockets(timing),
        rtt=rtt,
        group_rtt=group_rtt,
        ping_ports=ping_ports,
        events=bridge,
    )
    bridge.scheduler = scheduler
    traced = bridge._trace is not None
    ticker: Callable[[Callable[[], float]], float | None] | None = getattr(events, "tick", None)
    tick: Callable[[], float | None] | None = None
    if ticker is not None:
        def on_tick() -> float | None:
            wait = ticker(scheduler.completion)
            # A key press takes effect at once: the loop reads its trace
            # callback at every connect() event, and None costs nothing there.
            if traced and bridge.tracing() != (loop.trace is not None):
                loop.trace = bridge.trace if loop.trace is None else None
            return wait

        tick = on_tick
    started = time.monotonic()
    loop = ConnectLoop(
        scheduler, [(h.family, h.address, h.scope_id) for h in hosts],
        trace=bridge.trace if traced and bridge.tracing() else None, warn=bridge.warn,
        tick=tick, setup=setup, early_answers=not whole,
    )
    loop.run()
    done: Callable[[int, float], None] | None = getattr(events, "phase_done", None)
    if done is not None and whole:
        done(scheduler.probes_sent, time.monotonic() - started)
    return scheduler


def wall_clock(mono: float | None) -> float | None:
    """A monotonic reading as seconds since the epoch."""
    if mono is None:
        return None
    return time.time() - (time.monotonic() - mono)
