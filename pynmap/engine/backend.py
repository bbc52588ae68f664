"""The I/O loop's view of the operating system: the Backend interface and its epoll implementation.

The loop (loop.py) decides; a backend only does what it is told: make a
socket, start a connect(), say which connects finished, read their errno,
close.  Handles are small integers the backend chooses (file descriptors
here).  engine/fake.py has the in-memory backend the loop's unit tests run
on; this one is the real thing, non-blocking sockets under one epoll.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import resource
import select
import socket
import struct
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from pynmap.errors import SystemFatal

from .messages import BindFailed, DeviceFailed, Event

_LINGER_RST = struct.pack("ii", 1, 0)
# bind() out of local ports, for now (EADDRNOTAVAIL there means an address no
# interface has: never bindable).
_BIND_SHORTAGE = frozenset({errno.EADDRINUSE, errno.ENOBUFS, errno.ENOMEM})
_RESERVED_FDS = 10  # stdio, output files, data files: nmap keeps the same margin
_MIN_SOCKETS = 5
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


class Backend(Protocol):
    """What the loop needs of the operating system, and nothing more."""

    # The local ports the kernel picks from for connect(): only there can a
    # socket connect to itself.
    ephemeral: tuple[int, int]

    def open(self, family: int) -> tuple[int, int]:
        """A new non-blocking stream socket, set up (-S, -e, --ttl): (handle, 0);
        or (-1, errno) when socket() failed or bind() found no local port free."""
        ...

    def connect(self, handle: int, address: str, port: int, scope: int) -> int:
        """Start connect(); its errno (EINPROGRESS: under way, 0: connected at once)."""
        ...

    def watch(self, handle: int) -> None:
        """Have poll() report the handle once its connect() finishes."""
        ...

    def unwatch(self, handle: int) -> None:
        ...

    def poll(self, timeout: float) -> Sequence[int]:
        """Wait up to `timeout` seconds for watched connects to finish; the finished handles."""
        ...

    def error(self, handle: int) -> int:
        """The pending error of the socket (SO_ERROR): the connect's errno, 0 for none."""
        ...

    def connected(self, handle: int) -> bool:
        """Whether the socket has a peer (its connect() succeeded)."""
        ...

    def local(self, handle: int) -> tuple[str, int] | None:
        """The socket's own address and port, None if unknown."""
        ...

    def lost(self, handle: int) -> bool:
        """Whether the connection never got as far as asking for the port (a proxy
        chain lost it, engine/proxy.py): its probe counts as not sent."""
        ...

    def close(self, handle: int, reset: bool) -> None:
        """Close the socket; `reset`: with SO_LINGER {on, 0} (RST, no TIME_WAIT)."""
        ...

    def release(self) -> None:
        """The loop is done: free what the backend itself holds (sockets are closed already)."""
        ...


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
def ephemeral_ports() -> tuple[int, int]:
    """The kernel's range of automatically chosen local ports (every port if unknown)."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(word) for word in f.read().split())
    except (OSError, ValueError):
        return 1, 65535
    return low, high


def _open_fds() -> int:
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 3


class EpollBackend:
    """Non-blocking TCP sockets under one epoll; handles are their descriptors.
    `emit` receives nmap's complaints about -S and -e (messages.py)."""

    def __init__(self, setup: SocketSetup | None = None,
                 emit: Callable[[Event], None] | None = None) -> None:
        self.setup = setup if setup is not None and any(
            (setup.source, setup.device, setup.ttl is not None)) else None
        self.emit = emit or (lambda _event: None)
        self.socks: dict[int, socket.socket] = {}
        self.ephemeral = ephemeral_ports()
        try:
            self.ep = select.epoll()
        except OSError as exc:
            raise SystemFatal("epoll_create", exc.errno or 0) from None

    def open(self, family: int) -> tuple[int, int]:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        except OSError as exc:
            return -1, exc.errno or 0
        if self.setup is not None:
            short = self._prepare(sock, family)
            if short:
                sock.close()
                return -1, short
        fd = sock.fileno()
        self.socks[fd] = sock
        return fd, 0

    def connect(self, handle: int, address: str, port: int, scope: int) -> int:
        # A link-local IPv6 address means nothing without its interface: the
        # scope id must reach connect() (EINVAL otherwise).
        return self.socks[handle].connect_ex((address, port, 0, scope) if scope
                                             else (address, port))

    def watch(self, handle: int) -> None:
        self.ep.register(handle, select.EPOLLOUT)

    def unwatch(self, handle: int) -> None:
        self.ep.unregister(handle)

    def poll(self, timeout: float) -> list[int]:
        return [fd for fd, _mask in self.ep.poll(timeout)]

    def error(self, handle: int) -> int:
        try:
            return self.socks[handle].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError as exc:
            return exc.errno or 0

    def connected(self, handle: int) -> bool:
        try:
            self.socks[handle].getpeername()
        except OSError:
            return False
        return True

    def local(self, handle: int) -> tuple[str, int] | None:
        try:
            address: tuple[str, int] = self.socks[handle].getsockname()[:2]
        except OSError:
            return None
        return address

    def lost(self, handle: int) -> bool:
        return False  # a direct connect() is the question itself

    def close(self, handle: int, reset: bool) -> None:
        # Closing also takes the descriptor out of the epoll set.
        sock = self.socks.pop(handle, None)
        if sock is not None:
            if reset:
                with contextlib.suppress(OSError):
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)
            sock.close()

    def release(self) -> None:
        for fd in list(self.socks):
            self.close(fd, True)
        self.ep.close()

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
                    self.emit(BindFailed(setup.source, err))
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
                    self.emit(DeviceFailed(setup.device, exc.errno or 0))
        if setup.ttl is not None:
            level, name = ((socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS)
                           if family == socket.AF_INET6 else (socket.IPPROTO_IP, socket.IP_TTL))
            with contextlib.suppress(OSError):
                sock.setsockopt(level, name, setup.ttl)
        return 0
