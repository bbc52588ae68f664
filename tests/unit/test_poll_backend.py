"""PollBackend's own bookkeeping, on socket pairs: no network, no root.

What poll() said of a descriptor spares the SO_ERROR read of a connect()
that succeeded; a descriptor's number comes back with the next socket, so
nothing of what was said about the old socket may be taken for the new one.
"""

from __future__ import annotations

import errno
import select
import socket
from collections.abc import Iterator

import pytest

from pynmap.engine.backend import PollBackend


class _Refused:
    """Stands in for a connect() socket whose SO_ERROR says the port refused."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.reads = 0

    def fileno(self) -> int:
        return self.fd

    def getsockopt(self, level: int, name: int) -> int:
        assert (level, name) == (socket.SOL_SOCKET, socket.SO_ERROR)
        self.reads += 1
        return errno.ECONNREFUSED

    def setsockopt(self, level: int, name: int, value: bytes) -> None:
        return None

    def close(self) -> None:
        return None


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def _watching(pair: tuple[socket.socket, socket.socket]) -> tuple[PollBackend, int, _Refused]:
    """A backend watching one end of the pair (writable at once) in a stand-in's name."""
    backend = PollBackend()
    fd = pair[0].fileno()
    stand_in = _Refused(fd)
    backend.socks[fd] = stand_in  # type: ignore[assignment]
    backend.watch(fd)
    return backend, fd, stand_in


def test_a_writable_socket_reads_as_connected_without_asking_the_kernel(
        pair: tuple[socket.socket, socket.socket]) -> None:
    backend, fd, stand_in = _watching(pair)
    assert backend.poll(1.0) == [fd]
    assert backend.masks[fd] == select.POLLOUT
    assert backend.error(fd) == 0
    assert stand_in.reads == 0


def test_what_poll_said_of_a_closed_socket_is_not_said_of_the_next_one(
        pair: tuple[socket.socket, socket.socket]) -> None:
    backend, fd, _ = _watching(pair)
    assert backend.poll(1.0) == [fd]
    backend.close(fd, reset=False)
    assert fd not in backend.watched
    # the next socket gets the same number and has not been polled yet
    again = _Refused(fd)
    backend.socks[fd] = again  # type: ignore[assignment]
    assert backend.error(fd) == errno.ECONNREFUSED
    assert again.reads == 1


def test_an_unwatched_socket_leaves_the_poll_set(
        pair: tuple[socket.socket, socket.socket]) -> None:
    backend, fd, _ = _watching(pair)
    backend.unwatch(fd)
    assert backend.poll(0.0) == []
    backend.close(fd, reset=False)  # closing it after does not unregister twice


@pytest.mark.parametrize("family", [socket.AF_INET, socket.AF_INET6])
def test_a_probe_socket_holds_back_its_handshakes_last_ack(family: int) -> None:
    # TCP_DEFER_ACCEPT on a connecting socket: the kernel delays that ACK, and the
    # loop's reset goes first (tests/lab/test_anyip.py counts the handshakes)
    backend = PollBackend()
    handle, err = backend.open(family)
    assert err == 0
    try:
        sock = backend.socks[handle]
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_DEFER_ACCEPT) > 0
    finally:
        backend.close(handle, reset=False)
        backend.release()
