"""nmap's words for what the engine reports: each event (messages.py) as its lines.

`lines(event, verbosity, debugging)` gives the lines nmap prints for an
event at those levels, each with where it goes:
* INTERACTIVE: stdout only (nmap's LOG_STDOUT): -v notices, -d lines;
* PLAIN: stdout and the normal and script-kiddie outputs (LOG_PLAIN);
* STDERR: nmap's error() lines;
* TRACE: --packet-trace lines (the caller knows whether it traces).
HostUp and PhaseDone carry data, not text: they have no lines.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import Enum
from typing import Any

from .messages import (
    BindFailed,
    ConnTrace,
    DelayRaised,
    DeviceFailed,
    Dropped,
    Event,
    GlobalPingHost,
    HostAnswer,
    HostCompleted,
    HostDone,
    MaxTryno,
    PingProbe,
    PortState,
    RetransmissionCap,
    RttVarCapped,
    StrangeAnswer,
    Untimed,
)
from .rtt import RTTVAR_WARNING


class Channel(Enum):
    INTERACTIVE = "interactive"
    PLAIN = "plain"
    STDERR = "stderr"
    TRACE = "trace"


Line = tuple[Channel, str]
_NONE: tuple[Line, ...] = ()
INTERACTIVE, PLAIN, STDERR, TRACE = Channel

# nmap's names for a target's status in its -d2 lines
_HOST_STATES = {None: "UNKNOWN", "up": "HOST_UP", "down": "HOST_DOWN"}


def fatal_message(address: str, err: int) -> str:
    """nmap's fatal() text for an errno that ends the scan."""
    return (f"Strange SO_ERROR from connection to {address} ({err} - '{os.strerror(err)}') "
            "-- bailing scan")


def strange_message(address: str, err: int) -> str:
    """nmap's error() text for an errno it does not know (the answer is ignored)."""
    return f"Strange read error from {address} ({err} - '{os.strerror(err)}')"


def conn_text(err: int) -> str:
    """What --packet-trace prints after "=>" for a connect() event."""
    return "Connected" if err == 0 else os.strerror(err)


def port_state_shown(state: str, v: int, d: int) -> bool:
    """Whether a port's new state is printed: -v shows open ports as they are
    found, -d2 every state.  (Asked before anything else: a -p- scan has an
    event per port, and most are worded as nothing.)"""
    return (state == "open" and v > 0) or d > 1


def _port_state(e: PortState, v: int, d: int) -> tuple[Line, ...]:
    if port_state_shown(e.state, v, d):
        return ((INTERACTIVE, f"Discovered {e.state} port {e.port}/tcp on {e.address}"),)
    return _NONE


def _host_answer(e: HostAnswer, v: int, d: int) -> tuple[Line, ...]:
    if d < 2:
        return _NONE
    return ((INTERACTIVE,
             f"ultrascan_host_probe_update called for machine {e.address} "
             f"state {_HOST_STATES[e.before]} -> {_HOST_STATES['up' if e.up else 'down']} "
             f"(trynum {e.tryno} time: {int(e.waited * 1e6)})"),)


def _ping_probe(e: PingProbe, v: int, d: int) -> tuple[Line, ...]:
    if d < 2:
        return _NONE
    return ((PLAIN, f"Changing ping technique for {e.address} to connect to port {e.port}"),)


def _untimed(e: Untimed, v: int, d: int) -> tuple[Line, ...]:
    if d < 2:
        return _NONE
    return ((PLAIN, f"Response for {e.address} means new state is {e.state}; "
                    "not adjusting timing."),)


def _dropped(e: Dropped, v: int, d: int) -> tuple[Line, ...]:
    if d < 2:
        return _NONE
    return ((PLAIN, f"Ultrascan DROPPED probe packet to {e.address} detected"),)


def _max_tryno(e: MaxTryno, v: int, d: int) -> tuple[Line, ...]:
    if d < 1:
        return _NONE
    return ((INTERACTIVE, f"Increased max_successful_tryno for {e.address} to {e.tryno} "
                          "(packet drop)"),)


def _delay_raised(e: DelayRaised, v: int, d: int) -> tuple[Line, ...]:
    if v < 1:
        return _NONE
    why = (f"max_successful_tryno increase to {e.tryno}" if e.tryno else
           f"{e.bad} out of {e.total} dropped probes since last increase.")
    return ((INTERACTIVE, f"Increasing send delay for {e.address} from {e.old_ms} to "
                          f"{e.new_ms} due to {why}"),)


def _retransmission_cap(e: RetransmissionCap, v: int, d: int) -> tuple[Line, ...]:
    return ((INTERACTIVE, f"Warning: {e.address} giving up on port because retransmission "
                          f"cap hit ({e.tryno})."),)


def _host_done(e: HostDone, v: int, d: int) -> tuple[Line, ...]:
    if d < 3:
        return _NONE
    return ((PLAIN, f"Moving {e.address} to completed hosts list with {e.outstanding} "
                    f"outstanding {'probe' if e.outstanding == 1 else 'probes'}."),)


def _global_ping_host(e: GlobalPingHost, v: int, d: int) -> tuple[Line, ...]:
    if d < 2:
        return _NONE
    return ((PLAIN, f"Changing global ping host to {e.address}."),)


def _host_completed(e: HostCompleted, v: int, d: int) -> tuple[Line, ...]:
    if v < 1:
        return _NONE
    left = f"{e.left} {'host' if e.left == 1 else 'hosts'} left"
    if e.timed_out:
        return ((INTERACTIVE, f"{e.address} timed out during {e.phase} ({left})"),)
    return ((INTERACTIVE, f"Completed {e.phase} against {e.address} in {e.elapsed:.2f}s "
                          f"({left})"),)


def _rttvar_capped(e: RttVarCapped, v: int, d: int) -> tuple[Line, ...]:
    return ((STDERR, RTTVAR_WARNING),)


def _conn_trace(e: ConnTrace, v: int, d: int) -> tuple[Line, ...]:
    return ((TRACE, f"CONN ({e.elapsed:.4f}s) TCP localhost > {e.address}:{e.port} => "
                    f"{conn_text(e.errno)}"),)


def _strange_answer(e: StrangeAnswer, v: int, d: int) -> tuple[Line, ...]:
    return ((STDERR, strange_message(e.address, e.errno)),)


def _bind_failed(e: BindFailed, v: int, d: int) -> tuple[Line, ...]:
    return ((STDERR, f"init_socket: Problem binding source address ({e.source}), "
                     f"errno: {e.errno}"),
            (STDERR, f"bind: {os.strerror(e.errno)}"))


def _device_failed(e: DeviceFailed, v: int, d: int) -> tuple[Line, ...]:
    return ((STDERR, f"Problem binding to interface {e.device}, errno: {e.errno}"),
            (STDERR, f"socket_bindtodevice: {os.strerror(e.errno)}"))


# One function per event class (a table, not a chain of isinstance tests:
# PortState comes once per port).
_WORDING: dict[type[Event], Callable[[Any, int, int], tuple[Line, ...]]] = {
    PortState: _port_state,
    HostAnswer: _host_answer,
    PingProbe: _ping_probe,
    Untimed: _untimed,
    Dropped: _dropped,
    MaxTryno: _max_tryno,
    DelayRaised: _delay_raised,
    RetransmissionCap: _retransmission_cap,
    HostDone: _host_done,
    GlobalPingHost: _global_ping_host,
    HostCompleted: _host_completed,
    RttVarCapped: _rttvar_capped,
    ConnTrace: _conn_trace,
    StrangeAnswer: _strange_answer,
    BindFailed: _bind_failed,
    DeviceFailed: _device_failed,
}


def lines(event: Event, verbosity: int, debugging: int) -> tuple[Line, ...]:
    """The lines nmap prints for `event` at these -v and -d levels (none for data events)."""
    word = _WORDING.get(type(event))
    return _NONE if word is None else word(event, verbosity, debugging)
