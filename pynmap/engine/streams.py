"""Byte streams for the service scan: the Streams interface, epoll sockets, and TLS over them.

The connect scan's Backend (backend.py) only connects and closes; the
service scan talks.  `Streams` is its view of the operating system: open a
non-blocking socket, connect it, poll, send, recv, close.  `EpollStreams` is
the real thing; engine/fake.py's `FakeStreams` plays scripted services on a
FakeClock.  TLS is not the backend's business: `TlsLayer` runs the standard
`ssl` module over memory BIOs (ssl.MemoryBIO, SSLObject), so the same
non-blocking loop carries TLS over either backend.
"""

from __future__ import annotations

import contextlib
import errno
import select
import socket
import ssl
from collections.abc import Sequence
from typing import Protocol

from pynmap.errors import SystemFatal

from .backend import arm_reset, bind_to_device

RECV_SIZE = 8192


class Streams(Protocol):
    """What the service scan's loop needs of the operating system."""

    def open(self, family: int) -> tuple[int, int]:
        """A new non-blocking stream socket: (handle, 0), or (-1, errno)."""
        ...

    def connect(self, handle: int, address: str, port: int, scope: int) -> int:
        """Start connect(): its errno (EINPROGRESS: under way, 0: done)."""
        ...

    def poll(self, timeout: float) -> Sequence[int]:
        """Wait up to `timeout` seconds; the handles with something to report
        (a connect finished, data, end of stream or an error)."""
        ...

    def error(self, handle: int) -> int:
        """SO_ERROR: the connect's errno once it finished (0 for none)."""
        ...

    def connected(self, handle: int) -> bool:
        ...

    def send(self, handle: int, data: bytes) -> tuple[int, int]:
        """(bytes sent, errno); EAGAIN: none now."""
        ...

    def recv(self, handle: int) -> tuple[bytes, int]:
        """(data, 0); (b"", 0) at end of stream; (b"", errno) on error (EAGAIN: none yet)."""
        ...

    def close(self, handle: int, reset: bool = False) -> None:
        """Close the connection; `reset`: with RST (SO_LINGER {on, 0}), no TIME_WAIT."""
        ...

    def mute(self, handle: int) -> None:
        """Have poll() never report the handle again (it stays open until closed)."""
        ...

    def release(self) -> None:
        ...


class EpollStreams:
    """Non-blocking TCP sockets under one epoll (level-triggered); handles are descriptors.

    `source` and `device` are -S and -e, applied as nmap's nsock applies them
    to every socket of its pool: the local address bound, the device set with
    SO_BINDTODEVICE (refused without privileges, which nsock ignores)."""

    def __init__(self, source: str | None = None, device: str | None = None) -> None:
        self.source = source
        self.device = device
        self.socks: dict[int, socket.socket] = {}
        self.connecting: set[int] = set()
        try:
            self.ep = select.epoll()
        except OSError as exc:
            raise SystemFatal("epoll_create", exc.errno or 0) from None

    def open(self, family: int) -> tuple[int, int]:
        try:
            sock = socket.socket(family, socket.SOCK_STREAM | socket.SOCK_NONBLOCK)
        except OSError as exc:
            return -1, exc.errno or 0
        if self.source is not None:
            with contextlib.suppress(OSError):  # the port scan has complained already
                sock.bind((self.source, 0))
        if self.device:
            bind_to_device(sock, self.device)  # a refusal: likewise
        fd = sock.fileno()
        self.socks[fd] = sock
        return fd, 0

    def connect(self, handle: int, address: str, port: int, scope: int) -> int:
        err = self.socks[handle].connect_ex((address, port, 0, scope) if scope
                                            else (address, port))
        if err == errno.EINPROGRESS:
            self.ep.register(handle, select.EPOLLOUT)
            self.connecting.add(handle)
        elif err == 0:
            self.ep.register(handle, select.EPOLLIN)
        return err

    def poll(self, timeout: float) -> list[int]:
        return [fd for fd, _mask in self.ep.poll(timeout)]

    def error(self, handle: int) -> int:
        try:
            err = self.socks[handle].getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        except OSError as exc:
            err = exc.errno or 0
        if handle in self.connecting and (err or self.connected(handle)):
            self.connecting.discard(handle)
            with contextlib.suppress(OSError):
                self.ep.modify(handle, select.EPOLLIN)
        return err

    def connected(self, handle: int) -> bool:
        try:
            self.socks[handle].getpeername()
        except OSError:
            return False
        return True

    def send(self, handle: int, data: bytes) -> tuple[int, int]:
        try:
            return self.socks[handle].send(data, socket.MSG_NOSIGNAL), 0
        except OSError as exc:
            return 0, exc.errno or errno.EIO

    def recv(self, handle: int) -> tuple[bytes, int]:
        try:
            return self.socks[handle].recv(RECV_SIZE), 0
        except OSError as exc:
            return b"", exc.errno or errno.EIO

    def mute(self, handle: int) -> None:
        self.connecting.discard(handle)
        with contextlib.suppress(OSError, ValueError):
            self.ep.unregister(handle)

    def close(self, handle: int, reset: bool = False) -> None:
        # a plain close(), as nsock's: the service sees a FIN, as it does from nmap
        sock = self.socks.pop(handle, None)
        self.connecting.discard(handle)
        if sock is not None:
            if reset:
                arm_reset(sock)
            sock.close()

    def release(self) -> None:
        for fd in list(self.socks):
            self.close(fd)
        self.ep.close()


def client_context() -> ssl.SSLContext:
    """TLS as nmap's version detection wants it: any cipher, any version the
    library allows, no certificate or name checks (nsock's "max speed" mode)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with contextlib.suppress(ssl.SSLError, ValueError):
        ctx.set_ciphers("ALL:@SECLEVEL=0")
    with contextlib.suppress(ValueError, AttributeError):
        ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    return ctx


class TlsLayer:
    """The client side of one TLS connection over memory BIOs.

    The loop feeds it what the socket received (`feed`), takes what must go
    out (`outgoing`), and asks it for plaintext (`read`).  Errors come out as
    nmap sees them through nsock: EIO."""

    def __init__(self, ctx: ssl.SSLContext, server_hostname: str | None = None) -> None:
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.incoming, self.outgoing, server_side=False,
                                server_hostname=server_hostname)
        self.established = False

    def handshake(self) -> int:
        """Advance the handshake: 0 when done, EAGAIN while it needs more, EIO on failure."""
        try:
            self.obj.do_handshake()
        except ssl.SSLWantReadError:
            return errno.EAGAIN
        except (ssl.SSLError, OSError):
            return errno.EIO
        self.established = True
        return 0

    def feed(self, data: bytes) -> None:
        self.incoming.write(data)

    def feed_eof(self) -> None:
        self.incoming.write_eof()

    def write(self, data: bytes) -> int:
        try:
            self.obj.write(data)
        except (ssl.SSLError, OSError):
            return errno.EIO
        return 0

    def outgoing_bytes(self) -> bytes:
        return self.outgoing.read()

    def read(self) -> tuple[bytes, int]:
        """Plaintext available: (data, 0); (b"", 0) at the end of the TLS stream;
        (b"", EAGAIN) for none yet; (b"", EIO) on a TLS error."""
        chunks: list[bytes] = []
        while True:
            try:
                chunk = self.obj.read(RECV_SIZE)
            except ssl.SSLWantReadError:
                break
            except ssl.SSLZeroReturnError:
                if chunks:
                    break
                return b"", 0
            except ssl.SSLEOFError:
                if chunks:
                    break
                return b"", 0
            except (ssl.SSLError, OSError):
                if chunks:
                    break
                return b"", errno.EIO
            if not chunk:
                if chunks:
                    break
                return b"", 0
            chunks.append(chunk)
        if chunks:
            return b"".join(chunks), 0
        return b"", errno.EAGAIN
