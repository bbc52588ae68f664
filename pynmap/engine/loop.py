"""The only code that touches the scan's sockets: non-blocking connect() under one epoll.

Each probe is a fresh non-blocking TCP socket; one that connected (or may
have) gets SO_LINGER {on, 0} just before it is closed, so closing sends RST
and leaves no TIME_WAIT (a refused one needs no such call).
Completion is read with SO_ERROR, and read once more before a probe is
timed out, so an answer the loop was too busy to notice still counts (and,
its arrival time unknown, gives no RTT sample).  The loop obeys the
scheduler: it starts what next_probes() returns, reports answers and
timeouts, and sleeps until next_deadline() or the next answer.

Descriptors are a budget: RLIMIT_NOFILE's soft limit is raised to the hard
one, the scheduler is told how many are left, and running out anyway
(EMFILE, ENFILE, ENOBUFS, EADDRNOTAVAIL ...) hands the probe back to the
scheduler and backs off instead of failing.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import operator
import os
import resource
import select
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from pynmap.errors import Fatal, SystemFatal, Warn

from .probe import Probe, classify, fatal_message, strange_message
from .scheduler import Scheduler

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
# bind() out of local ports, for now (EADDRNOTAVAIL there means an address no
# interface has: never bindable).
_BIND_SHORTAGE = frozenset({errno.EADDRINUSE, errno.ENOBUFS, errno.ENOMEM})
_LINGER_RST = struct.pack("ii", 1, 0)
# What SO_ERROR says of a connection that was established before the peer
# reset it (a reset in SYN-SENT is ECONNREFUSED instead).
_RESET_AFTER_CONNECT = frozenset({errno.ECONNRESET, errno.EPIPE})
_RESERVED_FDS = 10  # stdio, output files, data files: nmap keeps the same margin
_MIN_SOCKETS = 5
_BACKOFF_FIRST = 0.01
_BACKOFF_MAX = 0.5
_GIVE_UP_AFTER = 30.0  # seconds without a single descriptor before it is fatal
_MAX_WAIT = 1.0  # never sleep longer than this between rounds
_IN_PROGRESS = "Operation now in progress"
# Source addresses (-S) that failed to bind: nmap tries once per process, not
# once per phase, so its complaint is printed once in all.
_UNBINDABLE: set[str] = set()
_BIND_WARNED: set[str] = set()  # complained about (also those only short of ports for a while)


@dataclass(frozen=True)
class SocketSetup:
    """What nmap applies to every connect() socket: -S (bind to a source address),
    -e (SO_BINDTODEVICE; refused without privileges, which nmap ignores) and --ttl."""

    source: str | None = None
    device: str | None = None
    ttl: int | None = None


Trace = Callable[[int, int, str], None]  # (host index, port, text)


def socket_budget() -> int:
    """How many sockets may be open at once: the (raised) descriptor limit minus what is in use."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard
        if target == resource.RLIM_INFINITY:
            target = _nr_open()
        if target > soft:
            with contextlib.suppress(ValueError, OSError):
                resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if soft == resource.RLIM_INFINITY:
        soft = _nr_open()
    return max(_MIN_SOCKETS, soft - _open_fds() - _RESERVED_FDS)


def _nr_open() -> int:
    try:
        with open("/proc/sys/fs/nr_open") as f:
            return int(f.read())
    except (OSError, ValueError):
        return 1 << 20


@functools.cache
def _ephemeral_ports() -> tuple[int, int]:
    """The kernel's range of automatically chosen local ports (every port if unknown)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(word) for word in f.read().split())
    except (OSError, ValueError):
        return 1, 65535
    return low, high


_IN6_LOOPBACK = bytes(15) + b"\x01"


def _is_loopback(family: int, address: str) -> bool:
    """127.0.0.0/8 or ::1 (without the ipaddress module: a scan's start-up is timed)."""
    try:
        packed = socket.inet_pton(family, address.split("%")[0])
    except (OSError, ValueError):
        return False
    return packed[0] == 127 if family == socket.AF_INET else packed == _IN6_LOOPBACK


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 3


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
    """Runs one scheduler to completion over real sockets.

    `targets[i]` is (family, address, IPv6 scope id or 0) for the scheduler's
    host i.  `trace`
    receives every connect() event as --packet-trace shows it; `warn`
    receives nmap's stderr warnings.
    """

    def __init__(
        self,
        scheduler: Scheduler,
        targets: Sequence[tuple[int, str, int]],
        *,
        trace: Trace | None = None,
        warn: Warn | None = None,
        clock: Callable[[], float] = time.monotonic,
        tick: Callable[[], float | None] | None = None,
        setup: SocketSetup | None = None,
        early_answers: bool = False,
    ) -> None:
        self.sched = scheduler
        self.setup = setup if setup is not None and any(
            (setup.source, setup.device, setup.ttl is not None)) else None
        # Called once a round for what runs beside the scan (key presses, --stats-every);
        # returns the longest it may wait for its next call, in seconds, or None.
        self.tick = tick
        self.targets = targets
        self.trace = trace
        self.warn = warn or (lambda _text: None)
        self.clock = clock
        self.socks: dict[int, socket.socket] = {}  # fd -> socket, every socket we hold
        self.probes: dict[int, Probe] = {}  # fd -> the probe it carries
        self.watching: set[int] = set()  # fds registered with epoll
        try:
            self.ep = select.epoll()
        except OSError as exc:
            raise SystemFatal("epoll_create", exc.errno or 0) from None
        # Per target: is a refusal read right after connect()?  On loopback the
        # kernel handles the SYN inside connect(), so the answer is there to
        # read at once: the same answer a round earlier, with the epoll
        # registration and the wait saved.  Asked for by the halves of a
        # split scan (split.py), which are bound by that per-probe work.
        self._early = ([_is_loopback(family, address) for family, address, _scope in targets]
                       if early_answers else [False] * len(targets))
        # A socket can only connect to itself on a port the kernel could have
        # given it: outside that range the check (a getsockname()) is skipped.
        self._ephemeral = _ephemeral_ports()
        self._resume_at = 0.0  # no sending before this (backing off)
        self._backoff = _BACKOFF_FIRST
        self._starved_since: float | None = None

    # ---------------------------------------------------------------- driving

    def run(self) -> None:
        sched = self.sched
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
                ready = self.ep.poll(max(0.0, wait))
                if ready:
                    now = self.clock()
                    answered = [p for fd, _mask in ready if (p := self.probes.get(fd)) is not None]
                    # nmap reads answers target by target, each in sending
                    # order: when two pings of one target answer together,
                    # the first sent decides the reason.
                    answered.sort(key=_send_order)
                    for probe in answered:
                        # An abandoned probe's answer is moot (its host is settled).
                        if probe.live:
                            self._complete(probe, self._so_error(probe.handle), now)
                self._close_abandoned()
        finally:
            for fd in list(self.socks):
                self._close(fd)
            self.ep.close()

    # ---------------------------------------------------------------- probes

    def _start(self, probe: Probe) -> None:
        family, address, scope = self.targets[probe.host]
        try:
            sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        except OSError as exc:
            if exc.errno in RESOURCE_ERRNOS:
                self._short_of(probe, exc.errno)
                return
            raise SystemFatal("Socket creation in sendConnectScanProbe", exc.errno or 0) from None
        if self.setup is not None:
            short = self._prepare(sock, family)
            if short:
                sock.close()
                self._short_of(probe, short)
                return
        # The round's `now` is stale by the time a long batch gets here; the
        # RTT sample should start at the real connect().
        probe.sent = self.clock()
        # A link-local IPv6 address means nothing without its interface: the
        # scope id must reach connect() (EINVAL otherwise).
        err = sock.connect_ex((address, probe.port, 0, scope) if scope else (address, probe.port))
        fd = sock.fileno()
        probe.handle = fd
        self.socks[fd] = sock
        self.probes[fd] = probe
        if err == errno.EINPROGRESS:
            self._starved_since = None
            self._backoff = _BACKOFF_FIRST
            if self._early[probe.host] and self.trace is None:
                # Not under --packet-trace, whose lines keep nmap's order (the
                # batch, then the answers).
                early = self._so_error(fd)
                if early:
                    self._complete(probe, early, self.clock())
                    return
            self.ep.register(fd, select.EPOLLOUT)
            self.watching.add(fd)
            if self.trace:
                self.trace(probe.host, probe.port, _IN_PROGRESS)
        elif err in RESOURCE_ERRNOS:
            self._close(fd)
            self._short_of(probe, err)
        else:
            # Finished at once (loopback can refuse or accept inside connect()).
            self._complete(probe, err, self.clock())

    def _prepare(self, sock: socket.socket, family: int) -> int:
        """-S, -e and --ttl on a new socket, with nmap's messages when they fail.
        Returns the errno of a shortage of local ports (the probe must wait), else 0."""
        setup = self.setup
        assert setup is not None
        if setup.source and setup.source not in _UNBINDABLE:
            try:
                # bind() takes a local port for itself alone (connect() shares
                # one between destinations), so many probes in flight can run
                # the range out: EADDRINUSE.
                sock.bind((setup.source, 0))
            except OSError as exc:
                err = exc.errno or 0
                if setup.source not in _BIND_WARNED:
                    _BIND_WARNED.add(setup.source)
                    self.warn(f"init_socket: Problem binding source address ({setup.source}), "
                              f"errno: {err}")
                    self.warn(f"bind: {os.strerror(err)}")
                if err in _BIND_SHORTAGE:
                    # nmap then connects from any address and reports the
                    # resulting EADDRNOTAVAIL as a port state; waiting for a
                    # port keeps both the -S address and the port's true state.
                    return err
                _UNBINDABLE.add(setup.source)  # then it scans without the binding
        if setup.device:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE,
                                setup.device.encode())
            except OSError as exc:
                if exc.errno != errno.EPERM:  # expected without privileges
                    self.warn(f"Problem binding to interface {setup.device}, errno: {exc.errno}")
                    self.warn(f"socket_bindtodevice: {os.strerror(exc.errno or 0)}")
        if setup.ttl is not None:
            level, name = ((socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS)
                           if family == socket.AF_INET6 else (socket.IPPROTO_IP, socket.IP_TTL))
            with contextlib.suppress(OSError):
                sock.setsockopt(level, name, setup.ttl)
        return 0

    def _complete(self, probe: Probe, err: int, now: float, *, late: bool = False) -> None:
        """The connect() of `probe` finished with `err`; tell the scheduler
        (`late`: found only by the check at expiry)."""
        fd = probe.handle
        if err in _RESET_AFTER_CONNECT:
            # The handshake completed and the peer reset (a service that
            # accepts and closes at once) before SO_ERROR was read.  nmap
            # complains and ignores the answer, and a port whose retry meets
            # the same race ends up filtered; the port is open.
            if self.trace:
                self.trace(probe.host, probe.port, os.strerror(err))
            self.warn(strange_message(self.targets[probe.host][1], err))
            err = 0
        outcome = classify(err)
        if self.trace:
            self.trace(probe.host, probe.port, outcome.text)
        if outcome.fatal:
            raise Fatal(fatal_message(self.targets[probe.host][1], err))
        if outcome.strange:
            self.warn(strange_message(self.targets[probe.host][1], err))
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
            self.ep.unregister(fd)

    def _expire(self, probe: Probe, now: float) -> None:
        """The probe's time is up.  An answer that arrived but was not read yet
        still counts: a loop that fell behind (busy CPU, a long batch, more
        ready sockets than one poll returns) must not turn an open or closed
        port into a filtered one.  nmap has no such check."""
        fd = probe.handle
        if fd in self.watching:
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
        sock = self.socks[fd]
        err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err in _RESET_AFTER_CONNECT:
            # Connected, then reset (or closed, then reset) while nobody was
            # reading: the handshake did complete, which is all "open" means.
            return 0
        if err:
            return err
        try:
            sock.getpeername()
        except OSError:
            return None
        return 0

    def _self_connected(self, fd: int, family: int, address: str, port: int) -> bool:
        try:
            local = self.socks[fd].getsockname()
        except OSError:
            return False
        return _same_endpoint(local[:2], (address, port), family)

    def _so_error(self, fd: int) -> int:
        try:
            return self.socks[fd].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError as exc:
            return exc.errno or 0

    def _close(self, fd: int, *, connected: bool = True) -> None:
        """Close a probe's socket.  One that is, or may have become, connected is
        closed with SO_LINGER {on, 0}: RST instead of FIN, and no TIME_WAIT.
        Closing also takes the descriptor out of the epoll set."""
        sock = self.socks.pop(fd, None)
        probe = self.probes.pop(fd, None)
        if probe is not None:
            probe.handle = -1
        self.watching.discard(fd)
        if sock is not None:
            if connected:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            sock.close()

    def _close_abandoned(self) -> None:
        for probe in self.sched.abandoned():
            if probe.handle >= 0:
                self._close(probe.handle)

    # ---------------------------------------------------------------- shortage

    def _short_of(self, probe: Probe, err: int) -> None:
        """No descriptor or local port: give the probe back, shrink the budget, wait a little."""
        now = self.clock()
        self.sched.on_unsent(probe, now)
        self.sched.limit_sockets(len(self.socks))
        if not self.socks:
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
