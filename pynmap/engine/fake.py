"""An in-memory backend for the I/O loop, driven by a script and a FakeClock.

For tests of the loop's own logic (and of anything built on the engine)
without sockets, root or a network: each (address, port) gets a Reply, or a
list of Replies for its successive connects (the last one repeats), and
`poll()` is where time passes: it moves the clock to the next answer, or by
the whole timeout when none comes.  Everything the loop does is recorded
(`connects`, `closes`, `peak`) for the test to check.  An ICMP echo request
(--privileged's ping sockets) is scripted and recorded as port ECHO (-1):
Reply(after=...) brings the echo reply, Reply(icmp=(type, code, from the
target), after=...) an ICMP error about it, Reply(errno, at_once=True) a
send that fails.

    clock = FakeClock()
    backend = FakeBackend(clock, {("192.0.2.1", 22): Reply(after=0.01),
                                  ("192.0.2.1", 23): Reply(errno.ECONNREFUSED, at_once=True)})
    ConnectLoop(scheduler, targets, clock=clock, backend=backend).run()
"""

from __future__ import annotations

import errno as errnos
import socket
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from .clock import FakeClock
from .probe import IcmpAnswer

if TYPE_CHECKING:
    from .backend import Backend

_EPHEMERAL = (32768, 60999)  # Linux's default ip_local_port_range


@dataclass(frozen=True)
class Reply:
    """How one connect() to an endpoint goes.

    `errno`: its result (0 connected, ECONNREFUSED, EHOSTUNREACH, ...);
    `at_once`: connect() itself returns it (as loopback does; also how a
    connect() fails with EADDRNOTAVAIL), otherwise connect() says
    EINPROGRESS and the answer arrives `after` seconds later (None: never);
    `seen`: False for an answer that arrives but that poll() never reports
    (a loop too busy to notice: only SO_ERROR read at expiry finds it);
    `self_connect`: the socket got connected to itself (its local address
    is the one it connected to).
    """

    errno: int = 0
    after: float | None = 0.0
    at_once: bool = False
    seen: bool = True
    self_connect: bool = False
    icmp: tuple[int, int, bool] | None = None  # an echo request's ICMP error


SILENT = Reply(after=None)  # a dropped SYN: no answer ever


@dataclass
class _Socket:
    handle: int
    family: int
    address: str = ""
    port: int = 0
    reply: Reply = SILENT
    due: float | None = None  # when its answer arrives
    watched: bool = False
    echo: bool = False


@dataclass
class FakeBackend:
    """The Backend of engine/backend.py over a script (see the module's docstring).

    `max_open`: sockets that may be open at once; one more gets EMFILE
    (`open_errno` to get another errno).  `source` and the handles' numbers
    make up the sockets' local addresses."""

    clock: FakeClock
    script: Mapping[tuple[str, int], Reply | Sequence[Reply]] = field(default_factory=dict)
    default: Reply = SILENT
    max_open: int | None = None
    open_errno: int = errnos.EMFILE
    source: str = "192.0.2.254"
    echo_ttl: int = 64  # the TTL every echo reply arrives with
    ephemeral: tuple[int, int] = _EPHEMERAL
    # What happened, in order: (address, port, clock time) per connect() started,
    # (address, port, reset) per close.
    connects: list[tuple[str, int, float]] = field(default_factory=list)
    closes: list[tuple[str, int, bool]] = field(default_factory=list)
    peak: int = 0  # most sockets open at once
    released: bool = False
    _open: dict[int, _Socket] = field(default_factory=dict)
    _next: int = 100
    _tries: dict[tuple[str, int], int] = field(default_factory=dict)

    def reply(self, address: str, port: int) -> Reply:
        """The Reply the next connect() to address:port gets (and count it)."""
        key = (address, port)
        tryno = self._tries.get(key, 0)
        self._tries[key] = tryno + 1
        got = self.script.get(key, self.default)
        if isinstance(got, Reply):
            return got
        return got[min(tryno, len(got) - 1)]

    def tries(self, address: str, port: int) -> int:
        """How many connects address:port got."""
        return self._tries.get((address, port), 0)

    # ---------------------------------------------------------------- Backend

    def open(self, family: int) -> tuple[int, int]:
        if self.max_open is not None and len(self._open) >= self.max_open:
            return -1, self.open_errno
        handle = self._next
        self._next += 1
        self._open[handle] = _Socket(handle, family)
        self.peak = max(self.peak, len(self._open))
        return handle, 0

    def connect(self, handle: int, address: str, port: int, scope: int) -> int:
        sock = self._open[handle]
        sock.address, sock.port = address, port
        now = self.clock.now()
        self.connects.append((address, port, now))
        sock.reply = reply = self.reply(address, port)
        if reply.at_once:
            sock.due = now
            return reply.errno
        sock.due = None if reply.after is None else now + reply.after
        return errnos.EINPROGRESS

    def open_echo(self, family: int) -> tuple[int, int]:
        handle, err = self.open(family)
        if handle >= 0:
            self._open[handle].echo = True
        return handle, err

    def send_echo(self, handle: int, address: str, scope: int) -> int:
        from .probe import ECHO

        err = self.connect(handle, address, ECHO, scope)
        # a Reply at_once with an errno: the send itself failed
        return 0 if err in (0, errnos.EINPROGRESS) else err

    def echo_answer(self, handle: int) -> IcmpAnswer | None:
        sock = self._open[handle]
        if not self._arrived(sock):
            return None
        sock.due = None  # read: a datagram is gone once received
        if sock.reply.icmp is not None:
            icmp_type, code, from_target = sock.reply.icmp
            return IcmpAnswer(icmp_type, code, from_target, self.echo_ttl - 1)
        return IcmpAnswer(129 if sock.family == socket.AF_INET6 else 0, 0, True, self.echo_ttl)

    def watch(self, handle: int) -> None:
        self._open[handle].watched = True

    def unwatch(self, handle: int) -> None:
        self._open[handle].watched = False

    def poll(self, timeout: float) -> list[int]:
        now = self.clock.now()
        visible = [s for s in self._open.values()
                   if s.watched and s.reply.seen and s.due is not None]
        ready = [s.handle for s in visible if s.due is not None and s.due <= now]
        if ready:
            return ready
        pending = [s.due for s in visible if s.due is not None]
        wake = now + timeout
        if pending and min(pending) < wake:
            wake = min(pending)
        self.clock.advance(wake - now)
        return [s.handle for s in visible if s.due is not None and s.due <= wake]

    def _arrived(self, sock: _Socket) -> bool:
        return sock.due is not None and sock.due <= self.clock.now()

    def error(self, handle: int) -> int:
        sock = self._open[handle]
        return sock.reply.errno if self._arrived(sock) else 0

    def connected(self, handle: int) -> bool:
        sock = self._open[handle]
        return self._arrived(sock) and sock.reply.errno == 0

    def local(self, handle: int) -> tuple[str, int] | None:
        sock = self._open[handle]
        if sock.reply.self_connect:
            return sock.address, sock.port
        return self.source, self.ephemeral[0] + handle

    def lost(self, handle: int) -> bool:
        return False

    def close(self, handle: int, reset: bool) -> None:
        sock = self._open.pop(handle)
        self.closes.append((sock.address, sock.port, reset))

    def release(self) -> None:
        self.released = True

    @property
    def open_now(self) -> int:
        """Sockets open at this moment."""
        return len(self._open)


if TYPE_CHECKING:
    def _is_a_backend(fake: FakeBackend) -> Backend:
        return fake  # mypy checks that the fake keeps up with the Protocol


# ---------------------------------------------------------------- the service scan's streams

# What a scripted service does, each after `delay` seconds: send bytes, close
# its side (None: FIN), or reset (an errno the client's recv() then gets).
Step = tuple[float, "bytes | int | None"]


class Peer(Protocol):
    """One accepted connection of a scripted service (the server side)."""

    def opened(self) -> Sequence[Step]:
        """What the service does once the connection is up (a banner...)."""
        ...

    def received(self, data: bytes) -> Sequence[Step]:
        """What it does when the client's bytes arrive."""
        ...


@dataclass
class Scripted:
    """A Peer from two lists: `banner` on connect, `reply(data)` on each arrival."""

    banner: Sequence[Step] = ()
    reply: Callable[[bytes], Sequence[Step]] | None = None

    def opened(self) -> Sequence[Step]:
        return self.banner

    def received(self, data: bytes) -> Sequence[Step]:
        return self.reply(data) if self.reply is not None else ()


@dataclass
class _Stream:
    handle: int
    peer: Peer | None = None
    port: int = 0
    inbox: list[tuple[float, bytes | int | None]] = field(default_factory=list)
    eof: bool = False
    sent_after_eof: int = 0


@dataclass
class FakeStreams:
    """engine/streams.py's Streams over scripted services on a FakeClock.

    `services` maps (address, port) to a factory of Peers (one per connection);
    a port without one refuses.  Connects finish at once.  `sent` records
    (port, bytes) per send, `connects` (address, port, time) per connect."""

    clock: FakeClock
    services: Mapping[tuple[str, int], Callable[[], Peer]] = field(default_factory=dict)
    sent: list[tuple[int, bytes]] = field(default_factory=list)
    connects: list[tuple[str, int, float]] = field(default_factory=list)
    closes: int = 0
    resets: int = 0  # closes with RST
    muted: set[int] = field(default_factory=set)  # handles poll() no longer reports
    peak: int = 0
    released: bool = False
    _open: dict[int, _Stream] = field(default_factory=dict)
    _next: int = 100

    def _schedule(self, stream: _Stream, steps: Sequence[Step]) -> None:
        now = self.clock.now()
        for delay, what in steps:
            stream.inbox.append((now + delay, what))
        stream.inbox.sort(key=lambda item: item[0])

    def open(self, family: int) -> tuple[int, int]:
        handle = self._next
        self._next += 1
        self._open[handle] = _Stream(handle)
        self.peak = max(self.peak, len(self._open))
        return handle, 0

    def connect(self, handle: int, address: str, port: int, scope: int) -> int:
        self.connects.append((address, port, self.clock.now()))
        factory = self.services.get((address, port))
        if factory is None:
            return errnos.ECONNREFUSED
        stream = self._open[handle]
        stream.port = port
        stream.peer = factory()
        self._schedule(stream, stream.peer.opened())
        return 0

    def _due(self, stream: _Stream, at: float) -> bool:
        if stream.handle in self.muted:
            return False
        return stream.eof or bool(stream.inbox and stream.inbox[0][0] <= at)

    def poll(self, timeout: float) -> list[int]:
        now = self.clock.now()
        ready = [h for h, s in self._open.items() if self._due(s, now)]
        if ready:
            return ready
        pending = [s.inbox[0][0] for s in self._open.values()
                   if s.inbox and s.handle not in self.muted]
        wake = min([now + timeout, *pending])
        self.clock.advance(wake - now)
        return [h for h, s in self._open.items() if self._due(s, wake)]

    def error(self, handle: int) -> int:
        return 0

    def connected(self, handle: int) -> bool:
        return self._open[handle].peer is not None

    def send(self, handle: int, data: bytes) -> tuple[int, int]:
        stream = self._open[handle]
        if stream.eof:
            # the peer has closed: the kernel still takes one send (the peer
            # answers it with a reset), then the connection is broken
            stream.sent_after_eof += 1
            if stream.sent_after_eof > 1:
                return 0, errnos.EPIPE
        self.sent.append((stream.port, data))
        if stream.peer is not None:
            self._schedule(stream, stream.peer.received(data))
        return len(data), 0

    def recv(self, handle: int) -> tuple[bytes, int]:
        stream = self._open[handle]
        now = self.clock.now()
        if stream.eof:
            return b"", 0
        data = b""
        while stream.inbox and stream.inbox[0][0] <= now:
            what = stream.inbox[0][1]
            if isinstance(what, bytes):
                data += what
                stream.inbox.pop(0)
                continue
            if data:
                break
            stream.inbox.pop(0)
            if what is None:
                stream.eof = True
                return b"", 0
            stream.inbox.clear()
            return b"", what
        return (data, 0) if data else (b"", errnos.EAGAIN)

    def mute(self, handle: int) -> None:
        self.muted.add(handle)

    def close(self, handle: int, reset: bool = False) -> None:
        self.muted.discard(handle)
        stream = self._open.pop(handle, None)
        if stream is None:
            return
        self.closes += 1
        self.resets += reset
        # a peer may care (optional hooks): `closed()` on its own connection's
        # end, `woken()` on another's (a server that serves one client at a time)
        hook = getattr(stream.peer, "closed", None)
        if hook is not None:
            hook()
        for other in list(self._open.values()):
            wake = getattr(other.peer, "woken", None)
            if wake is not None:
                self._schedule(other, wake())

    def release(self) -> None:
        self.released = True

    @property
    def open_now(self) -> int:
        return len(self._open)


if TYPE_CHECKING:
    from .streams import Streams

    def _is_streams(fake: FakeStreams) -> Streams:
        return fake
