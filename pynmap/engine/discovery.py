"""Unprivileged host discovery: a connect() to each ping port of every target.

Any answer that proves a TCP stack (connected or refused) means up, with
that answer's reason, and gives the target its first RTT sample; an ICMP
error means down with its reason unless another port proves otherwise;
silence after the retries means down (no-response).  It runs on the same
scheduler and loop as the port scan, as nmap's Ping Scan does.

Under --privileged, where ping sockets are allowed, an ICMP echo request
goes first (the pseudo-port ECHO, probe.py): its reply means up with nmap's
reason echo-reply.  It is no port for the connect scan's timing pings.
"""

from __future__ import annotations

from collections.abc import Sequence

from pynmap.results import HostResult, Times
from pynmap.timing import Timing

from .backend import Backend, SocketSetup
from .clock import SYSTEM, Clock
from .events import Events, estimator, run_phase, times_of
from .probe import ECHO
from .rtt import RttEstimator, RttLimits

DEFAULT_PING_PORTS = (80, 443)


def discover(
    hosts: list[HostResult],
    ping_ports: Sequence[int],
    timing: Timing,
    events: Events | None = None,
    *,
    t0: float | None = None,
    group_times: Times | None = None,
    setup: SocketSetup | None = None,
    clock: Clock = SYSTEM,
    backend: Backend | None = None,
    echo: bool = False,
) -> None:
    """Decide each host's status and reason; sets host.status, .reason, .times, .ping_port.

    `echo`: send an ICMP echo request (ping socket) before the connect pings.

    `t0` is the run's start (clock.wall()) for --packet-trace times.
    `group_times`, if given, is the group RTT estimate carried from one host
    group to the next (nmap keeps it across its ping batches); it is read
    and updated in place.  `clock` is the run's, `backend` what the loop runs
    on (real sockets by default).
    """
    if not hosts:
        return
    # Each target starts from scratch, as nmap re-initialises it for discovery.
    rtt = [RttEstimator.fresh(RttLimits.from_timing(timing)) for _ in hosts]
    group = estimator(group_times, timing) if group_times is not None else None
    probes = [ECHO, *ping_ports] if echo else list(ping_ports)
    scheduler = run_phase(
        hosts, probes, timing, events, t0, ping_scan=True, rtt=rtt, group_rtt=group,
        setup=setup, clock=clock, backend=backend,
    )
    for host, state in zip(hosts, scheduler.hosts, strict=True):
        host.status = "up" if state.status == "up" else "down"
        host.reason = state.reason or "no-response"
        host.reason_ttl = state.reason_ttl
        host.times = times_of(state.rtt)
        host.ping_port = None if state.ping_port == ECHO else state.ping_port
    if group_times is not None:
        group_times.srtt = scheduler.group_rtt.srtt
        group_times.rttvar = scheduler.group_rtt.rttvar
        group_times.timeout = scheduler.group_rtt.timeout


def assume_up(hosts: list[HostResult], timing: Timing) -> None:
    """-Pn: every host is up by the user's word, with no RTT sample yet."""
    for host in hosts:
        host.status = "up"
        host.reason = "user-set"
        host.times = Times(-1, -1, timing.initial_rtt_timeout * 1000)
        host.ping_port = None
