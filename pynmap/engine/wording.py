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
    ECHO,
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
    NseLoaded,
    NseRunlevel,
    NseScanning,
    PingProbe,
    PortState,
    RetransmissionCap,
    RttVarCapped,
    ServicesScanning,
    ServiceTrace,
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
    if err == 0:
        return "Connected"
    if err in _PROXY_TEXTS:
        return _PROXY_TEXTS[err]
    return os.strerror(err)


# What a proxy answered that no errno says: probe.py's PROXY_* numbers
# (probe.py imports this module, so the numbers are spelled out here).
_PROXY_TEXTS = {0x10001: "Rejected or failed by the proxy",
                0x10002: "Not allowed by the proxy's rules",
                0x10003: "TTL expired beyond the proxy"}


def _port_state(e: PortState, v: int, d: int) -> tuple[Line, ...]:
    # -v shows open ports as they are found, -d2 every state
    if (e.state == "open" and v > 0) or d > 1:
        return ((INTERACTIVE, f"Discovered {e.state} port {e.port}/tcp on {e.address}"),)
    return _NONE


def _host_answer(e: HostAnswer, v: int, d: int) -> tuple[Line, ...]:
    return ((INTERACTIVE,
             f"ultrascan_host_probe_update called for machine {e.address} "
             f"state {_HOST_STATES[e.before]} -> {_HOST_STATES['up' if e.up else 'down']} "
             f"(trynum {e.tryno} time: {int(e.waited * 1e6)})"),)


def _ping_probe(e: PingProbe, v: int, d: int) -> tuple[Line, ...]:
    if e.port == ECHO:  # --privileged's echo request, named as nmap names its own
        technique = "icmpv6 type 128 code 0" if ":" in e.address else "icmp type 8 code 0"
    else:
        technique = f"connect to port {e.port}"
    return ((PLAIN, f"Changing ping technique for {e.address} to {technique}"),)


def _untimed(e: Untimed, v: int, d: int) -> tuple[Line, ...]:
    return ((PLAIN, f"Response for {e.address} means new state is {e.state}; "
                    "not adjusting timing."),)


def _dropped(e: Dropped, v: int, d: int) -> tuple[Line, ...]:
    return ((PLAIN, f"Ultrascan DROPPED probe packet to {e.address} detected"),)


def _max_tryno(e: MaxTryno, v: int, d: int) -> tuple[Line, ...]:
    return ((INTERACTIVE, f"Increased max_successful_tryno for {e.address} to {e.tryno} "
                          "(packet drop)"),)


def _delay_raised(e: DelayRaised, v: int, d: int) -> tuple[Line, ...]:
    why = (f"max_successful_tryno increase to {e.tryno}" if e.tryno else
           f"{e.bad} out of {e.total} dropped probes since last increase.")
    return ((INTERACTIVE, f"Increasing send delay for {e.address} from {e.old_ms} to "
                          f"{e.new_ms} due to {why}"),)


def _retransmission_cap(e: RetransmissionCap, v: int, d: int) -> tuple[Line, ...]:
    return ((INTERACTIVE, f"Warning: {e.address} giving up on port because retransmission "
                          f"cap hit ({e.tryno})."),)


def _host_done(e: HostDone, v: int, d: int) -> tuple[Line, ...]:
    return ((PLAIN, f"Moving {e.address} to completed hosts list with {e.outstanding} "
                    f"outstanding {'probe' if e.outstanding == 1 else 'probes'}."),)


def _global_ping_host(e: GlobalPingHost, v: int, d: int) -> tuple[Line, ...]:
    return ((PLAIN, f"Changing global ping host to {e.address}."),)


def _host_completed(e: HostCompleted, v: int, d: int) -> tuple[Line, ...]:
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


def _services_scanning(e: ServicesScanning, v: int, d: int) -> tuple[Line, ...]:
    return ((INTERACTIVE, f"Scanning {e.count} {'service' if e.count == 1 else 'services'} "
                          f"on {e.target}"),)


def _service_trace(e: ServiceTrace, v: int, d: int) -> tuple[Line, ...]:
    return ((PLAIN, e.text),)


def _nse_loaded(e: NseLoaded, v: int, d: int) -> tuple[Line, ...]:
    # nmap's script engine says more at -d (its Lua version, the script arguments)
    head = ((INTERACTIVE, "NSE: Using Lua 5.3."), (INTERACTIVE, "NSE: Arguments from CLI: ")
            ) if d else _NONE
    return (*head, (INTERACTIVE, f"NSE: Loaded {e.count} scripts for scanning."))


def _nse_scanning(e: NseScanning, v: int, d: int) -> tuple[Line, ...]:
    return ((INTERACTIVE, f"NSE: Script scanning {e.target}."),)


def _nse_runlevel(e: NseRunlevel, v: int, d: int) -> tuple[Line, ...]:
    return ((INTERACTIVE, f"NSE: Starting runlevel {e.level} (of {e.levels}) scan."),)


# Per event class: the function with its lines, and the least -v and -d
# levels at which it has any (either one will do; a function's own test, as
# PortState's, comes after).  A table, not a chain of isinstance tests: these
# are asked once per event, and a -p- scan has an event per port.
_ALWAYS = 0
_NEVER = 1 << 30
_WORDING: dict[type[Event], tuple[Callable[[Any, int, int], tuple[Line, ...]], int, int]] = {
    PortState: (_port_state, 1, 2),
    HostAnswer: (_host_answer, _NEVER, 2),
    PingProbe: (_ping_probe, _NEVER, 2),
    Untimed: (_untimed, _NEVER, 2),
    Dropped: (_dropped, _NEVER, 2),
    MaxTryno: (_max_tryno, _NEVER, 1),
    DelayRaised: (_delay_raised, 1, _NEVER),
    RetransmissionCap: (_retransmission_cap, _ALWAYS, _ALWAYS),
    HostDone: (_host_done, _NEVER, 3),
    GlobalPingHost: (_global_ping_host, _NEVER, 2),
    HostCompleted: (_host_completed, 1, _NEVER),
    RttVarCapped: (_rttvar_capped, _ALWAYS, _ALWAYS),
    ConnTrace: (_conn_trace, _ALWAYS, _ALWAYS),
    StrangeAnswer: (_strange_answer, _ALWAYS, _ALWAYS),
    BindFailed: (_bind_failed, _ALWAYS, _ALWAYS),
    DeviceFailed: (_device_failed, _ALWAYS, _ALWAYS),
    ServicesScanning: (_services_scanning, 1, _NEVER),
    ServiceTrace: (_service_trace, _ALWAYS, _ALWAYS),
    # the script engine's print_verbose(): -v, or any -d
    NseLoaded: (_nse_loaded, 1, 1),
    NseScanning: (_nse_scanning, 1, 1),
    NseRunlevel: (_nse_runlevel, 2, 1),
}


def heard(kind: type[Event], verbosity: int, debugging: int) -> bool:
    """Whether events of this kind have lines at these -v and -d levels (a
    function's own test may still say none for one event)."""
    entry = _WORDING.get(kind)
    return entry is not None and (verbosity >= entry[1] or debugging >= entry[2])


def lines(event: Event, verbosity: int, debugging: int) -> tuple[Line, ...]:
    """The lines nmap prints for `event` at these -v and -d levels (none for data events)."""
    entry = _WORDING.get(type(event))
    if entry is None:
        return _NONE
    word, least_v, least_d = entry
    if verbosity < least_v and debugging < least_d:
        return _NONE
    return word(event, verbosity, debugging)
