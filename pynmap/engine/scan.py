"""The engine's front door: host discovery and the connect scan over HostResults."""

from __future__ import annotations

from collections.abc import Sequence

from pynmap.results import HostResult, PortResult
from pynmap.timing import Timing

from .backend import Backend, SocketSetup
from .clock import SYSTEM, Clock, to_wall
from .discovery import DEFAULT_PING_PORTS, assume_up, discover
from .events import Events, estimator, run_phase, times_of

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
    ping port carry over from discovery (host.times, host.ping_port).  `t0`
    is the run's start (clock.wall()) for --packet-trace times; `clock` is
    the run's, `backend` what the loop runs on (real sockets by default).
    """
    if not hosts:
        return
    order = list(ports)
    scheduler = run_phase(
        hosts, order, timing, events, t0, ping_scan=False,
        rtt=[estimator(h.times, timing) for h in hosts],
        ping_ports=[h.ping_port for h in hosts], setup=setup, clock=clock, backend=backend,
        may_split=True,
    )
    by_number = sorted(order)
    for host, state in zip(hosts, scheduler.hosts, strict=True):
        host.times = times_of(state.rtt)
        host.scanned_ports = len(order)
        host.start_time = to_wall(clock, state.clock_start)
        host.end_time = to_wall(clock, state.end)
        host.timed_out = state.timed_out
        if state.timed_out:
            host.ports = []
            continue
        answers = state.answers
        host.ports = [PortResult(port, *answers.get(port, UNANSWERED)) for port in by_number]
