"""What the engine reports while a phase runs: one immutable class per kind of event.

The scheduler and the loop emit these (through one `emit(event)` callable
the phase driver gives them); engine/wording.py turns each into nmap's
lines; the driver (events.py) hands them to the caller's Events, and the
second process of a split scan (split.py) sends them, pickled, to the first.
An event names its target by its index in the phase's host list (`host`)
and by its address, so it can be worded without the list.

Plain slotted classes (pynmap.plain), not @dataclass: these are created per
answer on the hot path, and the engine is imported by every scan.
"""

from __future__ import annotations

from pynmap.plain import FrozenData


class Event(FrozenData):
    """Base of every engine event."""

    __slots__ = ()


class HostEvent(Event):
    """An event about one target: `host` indexes the phase's host list."""

    __slots__ = ()
    host: int
    address: str


# ---------------------------------------------------------------- scheduler


class PortState(HostEvent):
    """A port got its first state, or an answer changed it (port scan)."""

    __match_args__ = ("host", "address", "port", "state", "reason")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, port: int, state: str, reason: str) -> None:
        self.host = host
        self.address = address
        self.port = port
        self.state = state
        self.reason = reason


class HostUp(HostEvent):
    """Host discovery found the target up (first time), with this reason (and the
    TTL of that answer, where known: an echo reply's); `hint_reason` is the one
    it had just before (nmap's <hosthint>)."""

    __match_args__ = ("host", "address", "reason", "hint_reason", "ttl")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, reason: str, hint_reason: str,
                 ttl: int = 0) -> None:
        self.host = host
        self.address = address
        self.reason = reason
        self.hint_reason = hint_reason
        self.ttl = ttl


class HostAnswer(HostEvent):
    """Host discovery: an answer is about to decide the target's status;
    `before` is the status it had (None or "down"), `up` what the answer says,
    `waited` the seconds since that probe was sent."""

    __match_args__ = ("host", "address", "before", "up", "tryno", "waited")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, before: str | None, up: bool, tryno: int,
                 waited: float) -> None:
        self.host = host
        self.address = address
        self.before = before
        self.up = up
        self.tryno = tryno
        self.waited = waited


# The port number of an ICMP echo request (--privileged's ping sockets) in host
# discovery's list of probes: no TCP port, so it can never be mistaken for one.
ECHO = -1


class PingProbe(HostEvent):
    """The target had no timing ping; from now on it is a connect to `port` (or
    the echo request, port ECHO)."""

    __match_args__ = ("host", "address", "port")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, port: int) -> None:
        self.host = host
        self.address = address
        self.port = port


class Untimed(HostEvent):
    """An ICMP error ("down" or "filtered") answered a retransmission: no timing change."""

    __match_args__ = ("host", "address", "state")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, state: str) -> None:
        self.host = host
        self.address = address
        self.state = state


class Dropped(HostEvent):
    """An answer to a retransmission: the earlier try was lost."""

    __match_args__ = ("host", "address")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str) -> None:
        self.host = host
        self.address = address


class MaxTryno(HostEvent):
    """The target's highest try that got an answer rose to `tryno`."""

    __match_args__ = ("host", "address", "tryno")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, tryno: int) -> None:
        self.host = host
        self.address = address
        self.tryno = tryno


class DelayRaised(HostEvent):
    """The target's scan delay rose from `old_ms` to `new_ms`: because of `bad`
    drops out of `total` probes (`tryno` 0), or because its highest answered
    try rose to `tryno`."""

    __match_args__ = ("host", "address", "old_ms", "new_ms", "bad", "total", "tryno")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, old_ms: int, new_ms: int, bad: int = 0,
                 total: int = 0, tryno: int = 0) -> None:
        self.host = host
        self.address = address
        self.old_ms = old_ms
        self.new_ms = new_ms
        self.bad = bad
        self.total = total
        self.tryno = tryno


class RetransmissionCap(HostEvent):
    """A probe of the target ran out of tries at --max-retries (said once per target)."""

    __match_args__ = ("host", "address", "tryno")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, tryno: int) -> None:
        self.host = host
        self.address = address
        self.tryno = tryno


class HostDone(HostEvent):
    """The target left the phase with `outstanding` probes still in flight or waiting."""

    __match_args__ = ("host", "address", "outstanding")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, outstanding: int) -> None:
        self.host = host
        self.address = address
        self.outstanding = outstanding


class GlobalPingHost(HostEvent):
    """The finished target became the phase's "global ping host" (nmap's -d2 line)."""

    __match_args__ = ("host", "address")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str) -> None:
        self.host = host
        self.address = address


class HostCompleted(HostEvent):
    """A big phase (over 50 ports) finished the target: in `elapsed` seconds,
    or cut short by --host-timeout (`timed_out`); `left` targets remain."""

    __match_args__ = ("host", "address", "phase", "elapsed", "left", "timed_out")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, phase: str, elapsed: float, left: int,
                 timed_out: bool) -> None:
        self.host = host
        self.address = address
        self.phase = phase
        self.elapsed = elapsed
        self.left = left
        self.timed_out = timed_out


class RttVarCapped(Event):
    """An RTT variance grew past its ceiling and was cut back."""

    __match_args__ = ()
    __slots__ = ()


# ---------------------------------------------------------------- loop and backend


class ConnTrace(HostEvent):
    """A connect() event as --packet-trace shows it: started (EINPROGRESS) or
    finished with `errno` (0: connected), `elapsed` seconds into the run."""

    __match_args__ = ("host", "address", "port", "errno", "elapsed")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, port: int, errno: int, elapsed: float) -> None:
        self.host = host
        self.address = address
        self.port = port
        self.errno = errno
        self.elapsed = elapsed


class StrangeAnswer(HostEvent):
    """connect() finished with an errno nmap does not expect (the answer is ignored)."""

    __match_args__ = ("host", "address", "errno")
    __slots__ = __match_args__

    def __init__(self, host: int, address: str, errno: int) -> None:
        self.host = host
        self.address = address
        self.errno = errno


class BindFailed(Event):
    """-S: bind() to the source address failed (said once per address and run)."""

    __match_args__ = ("source", "errno")
    __slots__ = __match_args__

    def __init__(self, source: str, errno: int) -> None:
        self.source = source
        self.errno = errno


class DeviceFailed(Event):
    """-e: SO_BINDTODEVICE failed with something other than EPERM."""

    __match_args__ = ("device", "errno")
    __slots__ = __match_args__

    def __init__(self, device: str, errno: int) -> None:
        self.device = device
        self.errno = errno


# ---------------------------------------------------------------- the service scan (-sV)


class ServicesScanning(Event):
    """The service scan starts probing `count` services on `target` (the one
    host's name, or "N hosts")."""

    __match_args__ = ("count", "target")
    __slots__ = __match_args__

    def __init__(self, count: int, target: str) -> None:
        self.count = count
        self.target = target


class ServiceTrace(Event):
    """One --version-trace (or -d2) line of the service scan: a probe sent, a match."""

    __match_args__ = ("text",)
    __slots__ = __match_args__

    def __init__(self, text: str) -> None:
        self.text = text


class NseLoaded(Event):
    """nmap's script engine started with `count` scripts (-sV loads its version scripts)."""

    __match_args__ = ("count",)
    __slots__ = __match_args__

    def __init__(self, count: int) -> None:
        self.count = count


class NseScanning(Event):
    """The script scan of a host group starts: `target` is the one host's
    address, or "N hosts"."""

    __match_args__ = ("target",)
    __slots__ = __match_args__

    def __init__(self, target: str) -> None:
        self.target = target


class NseRunlevel(Event):
    """The script scan enters runlevel `level` of `levels`."""

    __match_args__ = ("level", "levels")
    __slots__ = __match_args__

    def __init__(self, level: int, levels: int) -> None:
        self.level = level
        self.levels = levels


# ---------------------------------------------------------------- the driver


class PhaseDone(Event):
    """The phase ended after sending `probes_sent` probes in `seconds`."""

    __match_args__ = ("probes_sent", "seconds")
    __slots__ = __match_args__

    def __init__(self, probes_sent: int, seconds: float) -> None:
        self.probes_sent = probes_sent
        self.seconds = seconds
