"""The bounce scan's I/O loop: runs bounce.py's machine over a Streams backend.

One control connection to the FTP relay, kept from target to target as
nmap keeps it.  The loop carries out the machine's commands (Connect, Send,
Close) on the backend (engine/streams.py: epoll sockets, or fake.py's
scripted services), reports what the socket does, and sleeps until the
socket has something or the machine's next deadline.  A Send is reported
at once, as nmap's blocking send() returns at once.  A connect has no
deadline of the machine's: it waits for the kernel's answer, as nmap's
blocking connect() does.  The clock is the run's; the machine never reads it.
"""

from __future__ import annotations

import errno
import socket
from collections.abc import Callable, Sequence

from pynmap.results import HostResult, PortResult

from .bounce import BounceScan, Close, Connect, Send
from .clock import SYSTEM, Clock
from .streams import EpollStreams, Streams

_MAX_WAIT = 1.0


class BounceLoop:
    """Drives one BounceScan against the relay at `server` (address, port).

    `scan_target(index, address, ports)` runs one target to its end; the
    connection stays for the next one until `close()`.  `tick` as the
    other loops' (key presses, progress), asked once per round."""

    def __init__(self, scan: BounceScan, server: tuple[str, int], *, clock: Clock = SYSTEM,
                 streams: Streams | None = None,
                 tick: Callable[[], float | None] | None = None) -> None:
        self.scan = scan
        self.server = server
        self.clock = clock
        self.streams: Streams = streams if streams is not None else EpollStreams()
        self.tick = tick
        self.handle: int | None = None
        self.connecting = False
        self.ended = False  # the relay closed (or reset) the connection

    def scan_target(self, index: int, address: str, ports: Sequence[int]) -> dict[int, str]:
        """Bounce-scan `ports` (in this order) of `address`; returns their states."""
        scan = self.scan
        scan.scan_host(address, ports, self.clock.now(), host_index=index)
        self._carry_out()
        while scan.busy:
            scan.expire(self.clock.now())
            self._carry_out()
            if not scan.busy:
                break
            deadline = scan.next_deadline()
            now = self.clock.now()
            wait = _MAX_WAIT if deadline is None else min(_MAX_WAIT, deadline - now)
            if self.tick is not None:
                patience = self.tick()
                if patience is not None:
                    wait = min(wait, patience)
            # after the end of the stream every read of the machine's is answered
            # at once: it never waits on that socket again (no busy poll on it)
            assert not self.ended or self.connecting
            for handle in self.streams.poll(max(0.0, wait)):
                if handle == self.handle:
                    self._ready()
                    self._carry_out()
        return scan.states

    def close(self) -> None:
        if self.handle is not None:
            self.streams.close(self.handle)
            self.handle = None
        self.streams.release()

    # ---------------------------------------------------------------- commands

    def _carry_out(self) -> None:
        outbox = self.scan.outbox
        while outbox:
            command = outbox.popleft()
            if isinstance(command, Connect):
                self._connect()
            elif isinstance(command, Send):
                self._send(command.data)
            elif isinstance(command, Close) and self.handle is not None:
                self.streams.close(self.handle)
                self.handle = None

    def _connect(self) -> None:
        scan, now = self.scan, self.clock.now()
        handle, err = self.streams.open(socket.AF_INET)
        if handle < 0:
            scan.on_connect_failed(err, now)
            return
        self.handle, self.ended = handle, False
        address, port = self.server
        err = self.streams.connect(handle, address, port, 0)
        if err == 0:
            scan.on_connected(now)
        elif err == errno.EINPROGRESS:
            self.connecting = True
        else:
            self._drop()
            scan.on_connect_failed(err, now)

    def _send(self, data: bytes) -> None:
        if self.handle is None:
            self.scan.on_sent(errno.EBADF, self.clock.now())
            return
        sent, err = self.streams.send(self.handle, data)
        if err == errno.EAGAIN or (not err and sent < len(data)):
            # a few bytes on an idle connection: the socket's buffer always takes them
            err = 0
        self.scan.on_sent(err, self.clock.now())

    def _drop(self) -> None:
        if self.handle is not None:
            self.streams.close(self.handle)
        self.handle = None
        self.connecting = False

    # ---------------------------------------------------------------- socket events

    def _ready(self) -> None:
        assert self.handle is not None
        scan, now = self.scan, self.clock.now()
        if self.connecting:
            err = self.streams.error(self.handle)
            if err:
                self._drop()
                scan.on_connect_failed(err, now)
            elif self.streams.connected(self.handle):
                self.connecting = False
                scan.on_connected(now)
            return
        data, err = self.streams.recv(self.handle)
        if err == errno.EAGAIN:
            return
        if err:
            self.ended = True
            scan.on_error(err, now)
        elif data:
            scan.on_data(data, now)
        else:
            self.ended = True
            scan.on_eof(now)


def fill_ports(host: HostResult, ports: Sequence[int], states: dict[int, str]) -> None:
    """The target's port table as nmap reports it after a bounce scan: every
    port scanned, `unknown` where no state was found, reason no-response."""
    host.scanned_ports = len(ports)
    host.ports = [PortResult(port, states.get(port, "unknown"), "no-response")
                  for port in sorted(ports)]
