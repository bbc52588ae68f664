"""The I/O loop's view of the operating system: the Backend interface and its poll() implementation.

The loop (loop.py) decides; a backend only does what it is told: make a
socket, start a connect(), say which connects finished, read their errno,
close.  Under --privileged host discovery may also send ICMP echo requests
through ping sockets (pynmap.lan): open one, send, read the answer.  Handles are small integers the backend chooses (file descriptors
here).  engine/fake.py has the in-memory backend the loop's unit tests run
on; this one is the real thing, non-blocking sockets under one poll() set.
"""

from __future__ import annotations

import _socket
import contextlib
import errno
import functools
import math
import os
import resource
import select
import socket
import struct
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from .messages import BindFailed, DeviceFailed, Event
from .probe import IcmpAnswer

_LINGER_RST = struct.pack("ii", 1, 0)
_STREAM = socket.SOCK_STREAM | socket.SOCK_NONBLOCK
_SPARE_MAX = 1024
# <linux/in.h>, <linux/in6.h>: ICMP errors about what a datagram socket sent
# are queued (MSG_ERRQUEUE), whatever their kind, with the ICMP type and code
# and the address of their sender (struct sock_extended_err)
_IP_RECVERR = 11
_IPV6_RECVERR = 25
_EXTENDED_ERR = struct.Struct("=IBBBBII")  # errno, origin, type, code, pad, info, data
_ORIGIN_ICMP = (2, 3)  # SO_EE_ORIGIN_ICMP, SO_EE_ORIGIN_ICMP6
_ERR_SPACE = 512
# ... and the TTL (hop limit) each reply arrived with, for nmap's "ttl 63"
_IP_RECVTTL = 12
_IP_TTL = 2
_IPV6_RECVHOPLIMIT = 51
_IPV6_HOPLIMIT = 52
_TTL_SPACE = socket.CMSG_SPACE(4)
_ECHO_REQUEST: dict[int, int] = {socket.AF_INET: 8, socket.AF_INET6: 128}
_ECHO_REPLY: dict[int, int] = {socket.AF_INET: 0, socket.AF_INET6: 129}
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

    def open_echo(self, family: int) -> tuple[int, int]:
        """A new non-blocking ICMP datagram (ping) socket, set up as open()'s:
        (handle, 0), or (-1, errno)."""
        ...

    def send_echo(self, handle: int, address: str, scope: int) -> int:
        """Send one ICMP echo request to `address`: 0, or the errno of a send that failed."""
        ...

    def echo_answer(self, handle: int) -> IcmpAnswer | None:
        """The next thing that came back for the echo request: the reply, or an ICMP
        error about it; None while there is nothing (more)."""
        ...

    def watch(self, handle: int) -> None:
        """Have poll() report the handle once its connect() finishes (or, for a
        ping socket, once an answer is there)."""
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
        """Close the socket; `reset`: with SO_LINGER {on, 0} (RST, no TIME_WAIT).
        Without `reset` (its connect() failed: no connection is left behind) the
        backend may keep the socket for a later open()."""
        ...

    def release(self) -> None:
        """The loop is done: free what the backend itself holds (sockets are closed already)."""
        ...


def arm_reset(sock: _socket.socket) -> None:
    """Have the socket's close() send RST (SO_LINGER {on, 0}): no FIN exchange, no
    TIME_WAIT.  A socket that refuses the option is closed the usual way."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _LINGER_RST)


def bind_to_device(sock: _socket.socket, device: str) -> int:
    """-e: SO_BINDTODEVICE.  0, or the errno of a refusal (EPERM without privileges)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, device.encode())
    except OSError as exc:
        return exc.errno or errno.EIO
    return 0


def hold_back_ack(sock: _socket.socket) -> None:
    """Have the kernel hold back the last ACK of the socket's handshake.

    On a connecting socket TCP_DEFER_ACCEPT makes Linux delay that ACK (up
    to its delayed-ACK limit, 200 ms) instead of sending it with the SYN-ACK's
    arrival; connect() completes all the same, at the SYN-ACK.  A probe's
    socket is reset as soon as the loop reads it connected, so the target
    sees SYN, SYN-ACK, RST: its service is never handed a connection.  That
    is one frame fewer per open port, and three fewer where a service that
    accepts and closes at once would have sent its FIN before the RST came
    (the FIN, and the RST the kernel answers it with).  The port's state is
    known from connect() as before.  A kernel that refuses the option completes
    the handshake, as nmap's connect() does."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT, 1)


def _ttl(ancillary: list[tuple[int, int, bytes]]) -> int:
    """The IP_TTL (IPV6_HOPLIMIT) a message arrived with, 0 if not told."""
    for _level, kind, value in ancillary:
        if kind in (_IP_TTL, _IPV6_HOPLIMIT) and len(value) >= 4:
            return int.from_bytes(value[:4], sys.byteorder)
    return 0


def _queued_error(sock: _socket.socket, family: int, target: bytes) -> IcmpAnswer | None:
    """The next ICMP error queued about what `sock` sent, if any (and if it is ICMP)."""
    while True:
        try:
            _data, ancillary, _flags, _peer = sock.recvmsg(64, _ERR_SPACE, socket.MSG_ERRQUEUE)
        except OSError:  # EAGAIN: the queue is empty
            return None
        for _level, kind, value in ancillary:
            if kind not in (_IP_RECVERR, _IPV6_RECVERR) or len(value) < _EXTENDED_ERR.size:
                continue
            _errno, origin, icmp_type, code, _pad, _info, _more = _EXTENDED_ERR.unpack_from(value)
            if origin not in _ORIGIN_ICMP:
                break  # the kernel's own complaint (a local error): no ICMP to read
            # the sender follows: sockaddr_in (address at 4) or sockaddr_in6 (at 8)
            start = _EXTENDED_ERR.size + (8 if family == socket.AF_INET6 else 4)
            sender = value[start:start + len(target)]
            return IcmpAnswer(icmp_type, code, sender == target, _ttl(ancillary))


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


class PollBackend:
    """Non-blocking TCP sockets under one poll() set; handles are their descriptors.
    `emit` receives nmap's complaints about -S and -e (messages.py).

    poll(), not epoll: a connect scan watches each socket once, for one
    answer, and closes it at once.  epoll makes that two changes to the
    kernel's interest list per probe (epoll_ctl to add, and the removal
    when the socket closes), which cost more than poll()'s walk over what is
    in flight; on the AnyIP /16 of the benchmarks the scan's system time
    went from 2.3 to 2.1 s, and -p- on loopback, with thousands in
    flight, did not get slower."""

    def __init__(self, setup: SocketSetup | None = None,
                 emit: Callable[[Event], None] | None = None) -> None:
        self.setup = setup if setup is not None and any(
            (setup.source, setup.device, setup.ttl is not None)) else None
        self.emit = emit or (lambda _event: None)
        # The connect() sockets are _socket's own type: socket.socket adds a
        # Python __init__ and close() to it that a scan would run for every
        # probe, and that nothing here needs (no makefile(), no dup()).
        self.socks: dict[int, _socket.socket] = {}
        # What the last poll() said of each descriptor: POLLOUT alone is a
        # connect() that succeeded, whose SO_ERROR is then known to be 0.
        self.masks: dict[int, int] = {}
        self.watched: set[int] = set()  # in the poll set
        # ping sockets: handle -> (family, the address the reply must come from)
        self.echoes: dict[int, tuple[int, bytes]] = {}
        self.ephemeral = ephemeral_ports()
        self.poller = select.poll()
        # Sockets refused by their port (RST), per family, for open() to hand
        # out again: Linux lets a TCP socket connect() again once the peer has
        # reset its attempt, which spares the kernel a socket() and a close()
        # per closed port (most of a scan's probes).  The first connect()
        # after the reset only says ECONNABORTED and readies the socket
        # (connect() retries).  Only a reset is sure to have ended the
        # attempt: an ICMP error that arrives while connect() still holds the
        # socket (a REJECT rule on the scanner's own machine) is reported
        # without ending it, and SYNs go on being sent.
        self.spare: dict[int, list[_socket.socket]] = {}
        self.refused: set[int] = set()  # read ECONNREFUSED: the attempt is over
        self.reused: set[int] = set()  # handed out again, not connect()ed yet

    def open(self, family: int) -> tuple[int, int]:
        spare = self.spare.get(family)
        if spare:
            sock = spare.pop()
            fd = sock.fileno()
            self.socks[fd] = sock
            self.reused.add(fd)
            return fd, 0
        try:
            sock = _socket.socket(family, _STREAM)
        except OSError as exc:
            return -1, exc.errno or 0
        hold_back_ack(sock)
        return self._adopt(sock, family)

    def _adopt(self, sock: _socket.socket, family: int) -> tuple[int, int]:
        """A new socket set up as the options ask (-e, -S, --ttl...) and kept:
        (handle, 0), or (-1, errno) with the socket closed."""
        if self.setup is not None:
            short = self._prepare(sock, family)
            if short:
                sock.close()
                return -1, short
        fd = sock.fileno()
        self.socks[fd] = sock
        return fd, 0

    def open_echo(self, family: int) -> tuple[int, int]:
        v6 = family == socket.AF_INET6
        try:
            sock = socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK,
                                 socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
        except OSError as exc:
            return -1, exc.errno or 0
        # without it only some errors are told (as the socket's errno), and never
        # by whom: nmap as root reads the ICMP type and code, and the sender
        level = socket.IPPROTO_IPV6 if v6 else socket.IPPROTO_IP
        with contextlib.suppress(OSError):
            sock.setsockopt(level, _IPV6_RECVERR if v6 else _IP_RECVERR, 1)
        with contextlib.suppress(OSError):
            sock.setsockopt(level, _IPV6_RECVHOPLIMIT if v6 else _IP_RECVTTL, 1)
        fd, err = self._adopt(sock, family)
        if fd >= 0:
            self.echoes[fd] = (family, b"")
        return fd, err

    def send_echo(self, handle: int, address: str, scope: int) -> int:
        sock = self.socks[handle]
        family = self.echoes[handle][0]
        try:
            self.echoes[handle] = (family, socket.inet_pton(family, address))
            # connected: the kernel then reports ICMP errors about it on this socket;
            # the identifier is the kernel's (the socket's own), the sequence 0, no data
            sock.connect((address, 0, 0, scope) if scope else (address, 0))
            sock.send(struct.pack("!BBHHH", _ECHO_REQUEST[family], 0, 0, 0, 0))
        except OSError as exc:
            return exc.errno or 0
        return 0

    def echo_answer(self, handle: int) -> IcmpAnswer | None:
        sock = self.socks[handle]
        family, wanted = self.echoes[handle]
        error = _queued_error(sock, family, wanted)
        if error is not None:
            return error
        while True:
            try:
                data, ancillary, _flags, peer = sock.recvmsg(1024, _TTL_SPACE)
            except OSError:  # EAGAIN: nothing (more); anything else, nothing to read
                return None
            # the kernel delivers replies by identifier alone: the sender must be the target
            try:
                sender = socket.inet_pton(family, peer[0].split("%")[0])
            except (OSError, ValueError):
                continue
            if data[:1] == bytes((_ECHO_REPLY[family],)) and sender == wanted:
                return IcmpAnswer(data[0], data[1], True, _ttl(ancillary))

    def connect(self, handle: int, address: str, port: int, scope: int) -> int:
        # A link-local IPv6 address means nothing without its interface: the
        # scope id must reach connect() (EINVAL otherwise).
        sock = self.socks[handle]
        peer = (address, port, 0, scope) if scope else (address, port)
        err = sock.connect_ex(peer)
        if handle in self.reused:
            self.reused.discard(handle)
            if err == errno.ECONNABORTED:  # the reset attempt's state, cleared now
                err = sock.connect_ex(peer)
        if err == errno.ECONNREFUSED:
            self.refused.add(handle)
        return err

    def watch(self, handle: int) -> None:
        self.poller.register(handle, select.POLLIN if handle in self.echoes else select.POLLOUT)
        self.watched.add(handle)

    def unwatch(self, handle: int) -> None:
        self.poller.unregister(handle)
        self.watched.discard(handle)

    def poll(self, timeout: float) -> list[int]:
        # select.poll() counts milliseconds; a partial one rounds up, so a
        # wait never ends just before its deadline
        self.masks = masks = dict(self.poller.poll(math.ceil(timeout * 1000)))
        return list(masks)

    def error(self, handle: int) -> int:
        if self.masks.get(handle) == select.POLLOUT:
            # Writable and no error or hang-up: connected (a reset since then
            # would make it ECONNRESET, which says connected too).
            return 0
        try:
            err: int = self.socks[handle].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError as exc:
            return exc.errno or 0
        if err == errno.ECONNREFUSED:
            self.refused.add(handle)
        return err

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
        sock = self.socks.pop(handle, None)
        self.echoes.pop(handle, None)
        # the descriptor's number may come back with the next socket
        self.masks.pop(handle, None)
        if handle in self.watched:
            self.watched.discard(handle)
            self.poller.unregister(handle)
        if sock is None:
            return
        if handle in self.refused:
            self.refused.discard(handle)
            if not reset and self.setup is None:
                spare = self.spare.setdefault(sock.family, [])
                if len(spare) < _SPARE_MAX:
                    spare.append(sock)
                    return
        self.reused.discard(handle)
        if reset:
            arm_reset(sock)
        sock.close()

    def release(self) -> None:
        for fd in list(self.socks):
            self.close(fd, True)
        for spare in self.spare.values():
            for sock in spare:
                sock.close()
        self.spare.clear()

    def _prepare(self, sock: _socket.socket, family: int) -> int:
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
            err = bind_to_device(sock, setup.device)
            if err and err != errno.EPERM:  # EPERM is expected without privileges
                self.emit(DeviceFailed(setup.device, err))
        if setup.ttl is not None:
            level, name = ((socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS)
                           if family == socket.AF_INET6 else (socket.IPPROTO_IP, socket.IP_TTL))
            with contextlib.suppress(OSError):
                sock.setsockopt(level, name, setup.ttl)
        return 0
