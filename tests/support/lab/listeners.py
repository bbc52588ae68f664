"""The lab's open ports: one process holding listening sockets in many namespaces.

A socket stays in the network namespace it was made in, so this process
steps into each host's namespace with setns(2) just long enough to make its
listeners there, then returns to its own.  One process serves every host
(the /26 scenario has dozens), accepting and closing each connection at
once so that no accept queue ever fills up and turns an open port filtered.

    python -m tests.support.lab.listeners NETNS,ADDRESS,PORT ...
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import selectors
import signal
import socket
import sys
from collections.abc import Iterator

CLONE_NEWNET = 0x40000000
# Asks for the deepest queue: the kernel cuts it to net.core.somaxconn, which
# the lab sets in the namespaces that need one
BACKLOG = 65535
NETNS_RUN = "/run/netns"

_libc = ctypes.CDLL(None, use_errno=True)


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"setns: {os.strerror(errno)}")


@contextlib.contextmanager
def inside(netns: str) -> Iterator[None]:
    """Run the block in the named namespace (this thread only), then come back."""
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY)
    try:
        there = os.open(os.path.join(NETNS_RUN, netns), os.O_RDONLY)
        try:
            _setns(there)
        finally:
            os.close(there)
        try:
            yield
        finally:
            _setns(home)
    finally:
        os.close(home)


def listen(address: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if family == socket.AF_INET6:
        # "::" must leave IPv4 to its own wildcard listener
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
    sock.bind((address, port))
    sock.listen(BACKLOG)
    sock.setblocking(False)
    return sock


def serve(items: list[str]) -> None:
    selector = selectors.DefaultSelector()
    for item in items:
        netns, address, port = item.split(",")
        with inside(netns):
            selector.register(listen(address, int(port)), selectors.EVENT_READ)
    signal.signal(signal.SIGTERM, lambda _s, _f: sys.exit(0))
    print("ready", flush=True)
    while True:
        for key, _ in selector.select():
            sock = key.fileobj
            assert isinstance(sock, socket.socket)
            # the whole queue at each wake-up: a scan of a large AnyIP range fills it fast
            while True:
                try:
                    sock.accept()[0].close()
                except BlockingIOError:
                    break
                except ConnectionAbortedError:
                    continue  # that connection was reset while queued: the next one
                except OSError:
                    break  # e.g. out of descriptors: the next wake-up tries again


if __name__ == "__main__":
    serve(sys.argv[1:])
