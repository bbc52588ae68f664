"""The I/O loop: runs one scheduler over a backend (engine/backend.py).

Each probe is a fresh non-blocking TCP socket; one that connected (or may
have) is closed with SO_LINGER {on, 0}, so closing sends RST and leaves no
TIME_WAIT (a refused one needs no such call).  The real backend has the
kernel hold back the handshake's last ACK (backend.hold_back_ack), so that
RST is all the target hears after its SYN-ACK.
Completion is read with SO_ERROR, and read once more before a probe is
timed out, so an answer the loop was too busy to notice still counts (and,
its arrival time unknown, gives no RTT sample).  The loop obeys the
scheduler: it starts what next_probes() returns, reports answers and
timeouts, and sleeps until next_deadline() or the next answer.

Descriptors are a budget: the scheduler is told how many are left
(backend.socket_budget), and running out anyway (EMFILE, ENFILE, ENOBUFS,
EADDRNOTAVAIL ...) hands the probe back to the scheduler and backs off
instead of failing.

The loop never calls the operating system itself: sockets and readiness are
the backend's (poll(), or engine/fake.py's script), the time is the clock's.

A probe of the pseudo-port ECHO (host discovery under --privileged) is an
ICMP echo request on a ping socket instead: sent at once, answered by the
reply or an ICMP error (what nmap as root ignores of those, the probe
waits past), traced by no CONN line (nmap as root prints its raw packets
there, which pynmap does not send).
"""

from __future__ import annotations

import errno
import operator
import socket
from collections.abc import Callable, Sequence

from pynmap.errors import Fatal, SystemFatal

from .backend import Backend, PollBackend, SocketSetup
from .clock import SYSTEM, Clock
from .messages import ConnTrace, Event, StrangeAnswer
from .probe import ECHO, Outcome, Probe, classify, classify_echo
from .scheduler import Scheduler
from .wording import fatal_message

__all__ = ["RESOURCE_ERRNOS", "ConnectLoop", "SocketSetup"]

# Out of a resource for now: hand the probe back and retry later.
RESOURCE_ERRNOS = frozenset(
    {
        errno.EMFILE,
        errno.ENFILE,
        errno.ENOBUFS,
        errno.ENOMEM,
        errno.EADDRNOTAVAIL,
        errno.EAGAIN,
        errno.EADDRINUSE,
    }
)
# What SO_ERROR says of a connection that was established before the peer
# reset it (a reset in SYN-SENT is ECONNREFUSED instead).
_RESET_AFTER_CONNECT = frozenset({errno.ECONNRESET, errno.EPIPE})
_BACKOFF_FIRST = 0.01
_BACKOFF_MAX = 0.5
_GIVE_UP_AFTER = 30.0  # seconds without a single descriptor before it is fatal
_MAX_WAIT = 1.0  # never sleep longer than this between rounds


def _ignore(event: Event) -> None:
    """Where events go when nobody listens."""


_IN6_LOOPBACK = bytes(15) + b"\x01"


def _is_loopback(family: int, address: str) -> bool:
    """127.0.0.0/8 or ::1 (without the ipaddress module: a scan's start-up is timed)."""
    try:
        packed = socket.inet_pton(family, address.split("%")[0])
    except (OSError, ValueError):
        return False
    return packed[0] == 127 if family == socket.AF_INET else packed == _IN6_LOOPBACK


_send_order = operator.attrgetter("host", "sent")


def _same_endpoint(local: tuple[str, int], remote: tuple[str, int], family: int) -> bool:
    """Did connect() reach our own socket (TCP simultaneous open onto itself)?"""
    if local[1] != remote[1]:
        return False
    try:
        return socket.inet_pton(family, local[0]) == socket.inet_pton(
            family, remote[0].split("%")[0]
        )
    except OSError:
        return False


class ConnectLoop:
    """Runs one scheduler to completion over a backend (real sockets by default).

    `targets[i]` is (family, address, IPv6 scope id or 0) for the scheduler's
    host i.  `emit` receives what the loop reports (messages.py): nmap's
    warnings, and while `tracing` every connect() event as --packet-trace
    shows it, timed from `origin` on `clock` (the run's).
    """

    def __init__(
        self,
        scheduler: Scheduler,
        targets: Sequence[tuple[int, str, int]],
        *,
        emit: Callable[[Event], None] = _ignore,
        tracing: bool = False,
        origin: float = 0.0,
        clock: Clock = SYSTEM,
        tick: Callable[[], float | None] | None = None,
        setup: SocketSetup | None = None,
        backend: Backend | None = None,
        early_answers: bool = False,
    ) -> None:
        self.sched = scheduler
        # Called once a round for what runs beside the scan (key presses, --stats-every);
        # returns the longest it may wait for its next call, in seconds, or None.
        self.tick = tick
        self.targets = targets
        self.emit = emit
        self.trace = tracing  # may change between rounds (the p/P keys)
        self.origin = origin
        self.clock = clock.now
        self.probes: dict[int, Probe] = {}  # handle -> the probe it carries: every socket we hold
        self.watching: set[int] = set()  # handles the backend polls
        self.backend = backend if backend is not None else PollBackend(setup, emit)
        # Per target: is a refusal read right after connect()?  On loopback the
        # kernel handles the SYN inside connect(), so the answer is there to
        # read at once: the same answer a round earlier, with the poll set's
        # registration and the wait saved.  Asked for by the halves of a
        # split scan (split.py), which are bound by that per-probe work.
        self._early = ([_is_loopback(family, address) for family, address, _scope in targets]
                       if early_answers else [False] * len(targets))
        # A socket can only connect to itself on a port the kernel could have
        # given it: outside that range the check (a getsockname()) is skipped.
        self._ephemeral = self.backend.ephemeral
        self._resume_at = 0.0  # no sending before this (backing off)
        self._backoff = _BACKOFF_FIRST
        self._starved_since: float | None = None

    # ---------------------------------------------------------------- driving

    def run(self) -> None:
        sched = self.sched
        poll = self.backend.poll
        try:
            while not sched.done:
                now = self.clock()
                for probe in sched.expired(now):
                    self._expire(probe, now)
                self._close_abandoned()
                if now >= self._resume_at:
                    for probe in sched.next_probes(now):
                        if self._resume_at > now:
                            # Short of descriptors: the rest of the batch waits too.
                            sched.on_unsent(probe, now)
                        else:
                            self._start(probe)
                    self._close_abandoned()
                    if sched.done:
                        break
                deadline = sched.next_deadline()
                wait = _MAX_WAIT if deadline is None else min(_MAX_WAIT, deadline - self.clock())
                if self._resume_at > now:
                    wait = max(wait, min(_MAX_WAIT, self._resume_at - self.clock()))
                if self.tick is not None:
                    patience = self.tick()
                    if patience is not None:
                        wait = min(wait, patience)
                ready = poll(max(0.0, wait))
                if ready:
                    now = self.clock()
                    answered = [p for fd in ready if (p := self.probes.get(fd)) is not None]
                    # nmap reads answers target by target, each in sending
                    # order: when two pings of one target answer together,
                    # the first sent decides the reason.
                    answered.sort(key=_send_order)
                    for probe in answered:
                        # An abandoned probe's answer is moot (its host is settled).
                        if probe.live:
                            if probe.port == ECHO:
                                self._echo_answers(probe, now)
                            else:
                                self._complete(probe, self._so_error(probe.handle), now)
                self._close_abandoned()
        finally:
            for fd in list(self.probes):
                self._close(fd)
            self.backend.release()

    # ---------------------------------------------------------------- probes

    def _start(self, probe: Probe) -> None:
        if probe.port == ECHO:
            self._start_echo(probe)
            return
        family, address, scope = self.targets[probe.host]
        backend = self.backend
        fd, err = backend.open(family)
        if fd < 0:
            if err in RESOURCE_ERRNOS:
                self._short_of(probe, err)
                return
            raise SystemFatal("Socket creation in sendConnectScanProbe", err)
        # The round's `now` is stale by the time a long batch gets here; the
        # RTT sample should start at the real connect().
        probe.sent = self.clock()
        err = backend.connect(fd, address, probe.port, scope)
        probe.handle = fd
        self.probes[fd] = probe
        if err == errno.EINPROGRESS:
            self._starved_since = None
            self._backoff = _BACKOFF_FIRST
            if self._early[probe.host] and not self.trace:
                # Not under --packet-trace, whose lines keep nmap's order (the
                # batch, then the answers).
                early = self._so_error(fd)
                if early:
                    self._complete(probe, early, self.clock())
                    return
            backend.watch(fd)
            self.watching.add(fd)
            if self.trace:
                self.emit(ConnTrace(probe.host, address, probe.port, err,
                                    self.clock() - self.origin))
        elif err in RESOURCE_ERRNOS:
            self._close(fd)
            self._short_of(probe, err)
        else:
            # Finished at once (loopback can refuse or accept inside connect()).
            self._complete(probe, err, self.clock())

    def _start_echo(self, probe: Probe) -> None:
        family, address, scope = self.targets[probe.host]
        backend = self.backend
        fd, err = backend.open_echo(family)
        if fd < 0:
            if err in RESOURCE_ERRNOS:
                self._short_of(probe, err)
                return
            raise SystemFatal("Ping socket creation in sendPingProbe", err)
        probe.sent = self.clock()
        err = backend.send_echo(fd, address, scope)
        probe.handle = fd
        self.probes[fd] = probe
        if err == 0:
            self._starved_since = None
            self._backoff = _BACKOFF_FIRST
            backend.watch(fd)
            self.watching.add(fd)
        elif err in RESOURCE_ERRNOS:
            self._close(fd)
            self._short_of(probe, err)
        else:
            # refused at once (no route): the connect() table's reading of the errno
            outcome = classify(err)
            if outcome.fatal:
                raise Fatal(fatal_message(address, err))
            if outcome.strange:
                self.emit(StrangeAnswer(probe.host, address, err))
            self._settle_echo(probe, outcome, self.clock(), late=False)

    def _echo_answers(self, probe: Probe, now: float, *, late: bool = False) -> None:
        """Read what came back for an echo request until something settles it."""
        ipv6 = self.targets[probe.host][0] == socket.AF_INET6
        while probe.live:
            got = self.backend.echo_answer(probe.handle)
            if got is None:
                return
            outcome = classify_echo(got, ipv6)
            if outcome is not None:
                self._settle_echo(probe, outcome, now, late=late)

    def _settle_echo(self, probe: Probe, outcome: Outcome, now: float, *, late: bool) -> None:
        fd = probe.handle
        if self.sched.on_outcome(probe, outcome, now, late=late):
            self._close(fd)
        elif fd in self.watching:
            self.watching.discard(fd)
            self.backend.unwatch(fd)

    def _complete(self, probe: Probe, err: int, now: float, *, late: bool = False) -> None:
        """The connect() of `probe` finished with `err`; tell the scheduler
        (`late`: found only by the check at expiry)."""
        fd = probe.handle
        if self.backend.lost(fd):
            self._close(fd)  # a proxy chain lost it: see _expire
            self.sched.on_unsent(probe, now)
            return
        address = self.targets[probe.host][1]
        if err in _RESET_AFTER_CONNECT:
            # The handshake completed and the peer reset (a service that
            # accepts and closes at once) before SO_ERROR was read.  nmap
            # complains and ignores the answer, and a port whose retry meets
            # the same race ends up filtered; the port is open.
            if self.trace:
                self.emit(ConnTrace(probe.host, address, probe.port, err,
                                    self.clock() - self.origin))
            self.emit(StrangeAnswer(probe.host, address, err))
            err = 0
        outcome = classify(err)
        if self.trace:
            self.emit(ConnTrace(probe.host, address, probe.port, err, self.clock() - self.origin))
        if outcome.fatal:
            raise Fatal(fatal_message(address, err))
        if outcome.strange:
            self.emit(StrangeAnswer(probe.host, address, err))
        if (
            err == 0
            and self._ephemeral[0] <= probe.port <= self._ephemeral[1]
            and not probe.ping
            and not self.sched.ping_scan
            and self._self_connected(fd, *self.targets[probe.host][:2], probe.port)
        ):
            self._close(fd)
            self.sched.on_timeout(probe, now)
            return
        if self.sched.on_outcome(probe, outcome, now, late=late):
            # a refused or failed connect() left no connection behind to reset
            self._close(fd, connected=err == 0)
        elif fd in self.watching:
            # no verdict; the socket stays (unwatched) until the probe expires
            self.watching.discard(fd)
            self.backend.unwatch(fd)

    def _expire(self, probe: Probe, now: float) -> None:
        """The probe's time is up.  An answer that arrived but was not read yet
        still counts: a loop that fell behind (busy CPU, a long batch, more
        ready sockets than one poll returns) must not turn an open or closed
        port into a filtered one.  nmap has no such check."""
        fd = probe.handle
        if fd >= 0 and self.backend.lost(fd):
            # A proxy chain lost the connection before it asked for the port:
            # the probe never left, so it is sent again, as one that found no
            # socket (engine/proxy.py ends a run that only ever loses them).
            self._close(fd)
            self.sched.on_unsent(probe, now)
            return
        if fd in self.watching and probe.port == ECHO:
            self._echo_answers(probe, now, late=True)
            if not probe.live:
                return
        elif fd in self.watching:
            err = self._late_answer(fd)
            if err is not None:
                self._complete(probe, err, now, late=True)
                if not probe.live:
                    return
                # A strange answer or a late EAGAIN decides nothing: the probe
                # times out as it would have without the check.
        if probe.handle >= 0:
            self._close(probe.handle)
        self.sched.on_timeout(probe, now)

    def _late_answer(self, fd: int) -> int | None:
        """The errno of a finished connect() on `fd`, or None if it is still under way."""
        err = self.backend.error(fd)
        if err in _RESET_AFTER_CONNECT:
            # Connected, then reset (or closed, then reset) while nobody was
            # reading: the handshake did complete, which is all "open" means.
            return 0
        if err:
            return err
        return 0 if self.backend.connected(fd) else None

    def _self_connected(self, fd: int, family: int, address: str, port: int) -> bool:
        local = self.backend.local(fd)
        return local is not None and _same_endpoint(local, (address, port), family)

    def _so_error(self, fd: int) -> int:
        return self.backend.error(fd)

    def _close(self, fd: int, *, connected: bool = True) -> None:
        """Close a probe's socket.  One that is, or may have become, connected is
        closed with SO_LINGER {on, 0}: RST instead of FIN, and no TIME_WAIT."""
        probe = self.probes.pop(fd, None)
        if probe is None:
            return
        probe.handle = -1
        self.watching.discard(fd)
        self.backend.close(fd, connected)

    def _close_abandoned(self) -> None:
        for probe in self.sched.abandoned():
            if probe.handle >= 0:
                self._close(probe.handle)

    # ---------------------------------------------------------------- shortage

    def _short_of(self, probe: Probe, err: int) -> None:
        """No descriptor or local port: give the probe back, shrink the budget, wait a little."""
        now = self.clock()
        self.sched.on_unsent(probe, now)
        self.sched.limit_sockets(len(self.probes))
        if not self.probes:
            if err == errno.EMFILE:
                # Our own descriptor table is full and none of it is ours to
                # close: waiting cannot help (no other thread frees any).
                # nmap's fatal error, at once.
                raise SystemFatal("Socket creation in sendConnectScanProbe", err)
            if self._starved_since is None:
                self._starved_since = now
            elif now - self._starved_since > _GIVE_UP_AFTER:
                raise SystemFatal("Socket creation in sendConnectScanProbe", err)
        self._resume_at = now + self._backoff
        self._backoff = min(self._backoff * 2, _BACKOFF_MAX)
