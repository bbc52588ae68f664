"""The service scan's I/O loop: runs service.py's state machine over a Streams backend.

The loop carries out the machine's commands (Connect, Send, Close) on the
backend, reports back what the sockets do, and sleeps until the next answer
or the machine's next deadline.  A TLS connection (Connect with tls) is a
plain one with a TlsLayer on top: the handshake runs here, and the machine
hears "connected" only once it is done, as nsock's connect_ssl reports it.
The clock is the run's; the loop reads it, the machine never does.
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from pynmap.probes import INTENSITY_DEFAULT, ProbeDB
from pynmap.results import HostResult
from pynmap.timing import Timing

from .clock import SYSTEM, Clock, to_wall
from .events import Events
from .messages import ServicesScanning, ServiceTrace
from .service import Close, Connect, Run, Send, ServiceScan, ideal_parallelism
from .streams import EpollStreams, Streams, TlsLayer, client_context

_MAX_WAIT = 1.0


@dataclass
class _Conn:
    run: Run  # the probe run the connection carries
    handle: int
    phase: str = "tcp"  # "tcp": connect() under way; "tls": handshake; "up"
    tls: TlsLayer | None = None
    outbuf: bytearray = field(default_factory=bytearray)  # bytes the socket has not taken yet


class ServiceLoop:
    """Runs one ServiceScan to the end.  `targets[i]` is (family, address, scope)
    of the scan's host i; `tick` as the connect loop's (key presses, progress)."""

    def __init__(self, scan: ServiceScan, targets: Sequence[tuple[int, str, int]], *,
                 clock: Clock = SYSTEM, streams: Streams | None = None,
                 tick: Callable[[], float | None] | None = None,
                 tls_context: ssl.SSLContext | None = None,
                 hostnames: Sequence[str | None] | None = None) -> None:
        self.scan = scan
        self.targets = targets
        self.clock = clock
        self.streams: Streams = streams if streams is not None else EpollStreams()
        self.tick = tick
        self._ctx = tls_context
        # per host, the name the user gave: nmap sends it as the TLS server name (SNI)
        self.hostnames = hostnames
        self.conns: dict[int, _Conn] = {}  # handle -> connection
        self.by_run: dict[int, _Conn] = {}  # id(run) -> its connection

    def run(self) -> None:
        scan, streams = self.scan, self.streams
        try:
            while True:
                now = self.clock.now()
                scan.expire(now)
                if scan.quiet_due(now):
                    # what came while the loop was busy counts before a
                    # connection is called quiet
                    for handle in streams.poll(0.0):
                        conn = self.conns.get(handle)
                        if conn is not None:
                            self._ready(conn)
                            self._carry_out()
                    scan.arm(self.clock.now())
                scan.launch(now)
                self._carry_out()
                if scan.done:
                    break
                deadline = scan.next_deadline()
                wait = _MAX_WAIT if deadline is None else min(_MAX_WAIT, deadline - self.clock.now())
                if self.tick is not None:
                    patience = self.tick()
                    if patience is not None:
                        wait = min(wait, patience)
                ready = [c for h in streams.poll(max(0.0, wait))
                         if (c := self.conns.get(h)) is not None]
                # connects and handshakes first: a response's matching can take a
                # while (the first compiles the probe's patterns), and a probe's
                # wait counts from its send
                ready.sort(key=lambda c: c.phase == "up")
                for conn in ready:
                    if self.conns.get(conn.handle) is conn:
                        self._ready(conn)
                        self._carry_out()
        finally:
            for handle in list(self.conns):
                streams.close(handle)
            self.conns.clear()
            streams.release()

    # ---------------------------------------------------------------- commands

    def _carry_out(self) -> None:
        outbox = self.scan.outbox
        while outbox:
            command = outbox.popleft()
            if isinstance(command, Connect):
                self._connect(command.run, command.tls)
            elif isinstance(command, Send):
                conn = self.by_run.get(id(command.run))
                if conn is not None:
                    self._send(conn, command.data)
            elif isinstance(command, Close):
                conn = self.by_run.get(id(command.run))
                if conn is not None:
                    self._drop(conn)

    def _connect(self, run: Run, tls: bool) -> None:
        svc = run.svc
        family, address, scope = self.targets[svc.host]
        handle, err = self.streams.open(family)
        if handle < 0:
            self.scan.on_connect_failed(run, err, self.clock.now())
            return
        conn = _Conn(run, handle)
        if tls:
            if self._ctx is None:
                self._ctx = client_context()
            name = self.hostnames[svc.host] if self.hostnames is not None else None
            conn.tls = TlsLayer(self._ctx, name)
        self.conns[handle] = conn
        self.by_run[id(run)] = conn
        err = self.streams.connect(handle, address, svc.port, scope)
        if err == 0:
            self._tcp_done(conn)
        elif err != errno.EINPROGRESS:
            self.scan.on_connect_failed(run, err, self.clock.now())

    def _drop(self, conn: _Conn) -> None:
        self.conns.pop(conn.handle, None)
        self.by_run.pop(id(conn.run), None)
        self.streams.close(conn.handle)

    # ---------------------------------------------------------------- socket events

    def _ready(self, conn: _Conn) -> None:
        now = self.clock.now()
        if conn.phase == "tcp":
            err = self.streams.error(conn.handle)
            if err:
                self.scan.on_connect_failed(conn.run, err, now)
            elif self.streams.connected(conn.handle):
                self._tcp_done(conn)
            return
        self._flush(conn)
        if conn.handle not in self.conns:
            return
        data, err = self.streams.recv(conn.handle)
        if err == errno.EAGAIN:
            return
        if conn.tls is not None:
            if err or (conn.phase == "tls" and not data):
                if conn.phase == "tls":
                    self.scan.on_connect_failed(conn.run, err or errno.ECONNRESET, now)
                else:
                    self.scan.on_error(conn.run, err, now)
                return
            if data:
                conn.tls.feed(data)
            else:
                conn.tls.feed_eof()
            if conn.phase == "tls":
                self._handshake(conn)
                return
            data, err = conn.tls.read()
            self._flush(conn)
            if err == errno.EAGAIN:
                return
        if err:
            self.scan.on_error(conn.run, err, now)
        elif data:
            self.scan.on_data(conn.run, data, now)
        else:
            self.scan.on_eof(conn.run, now)

    def _tcp_done(self, conn: _Conn) -> None:
        if conn.tls is None:
            conn.phase = "up"
            self.scan.on_connected(conn.run, self.clock.now())
        else:
            conn.phase = "tls"
            self._handshake(conn)

    def _handshake(self, conn: _Conn) -> None:
        assert conn.tls is not None
        err = conn.tls.handshake()
        self._flush(conn)
        if err == errno.EAGAIN or conn.handle not in self.conns:
            return
        if err:
            # nsock's SSL connect failed: the service is aborted
            self.scan.on_connect_failed(conn.run, err, self.clock.now())
            return
        conn.phase = "up"
        self.scan.on_connected(conn.run, self.clock.now())
        # what came with the end of the handshake (a banner) is already in the
        # TLS layer: the socket will not say so again
        self._carry_out()
        if self.by_run.get(id(conn.run)) is conn:
            data, err = conn.tls.read()
            self._flush(conn)
            if err != errno.EAGAIN:
                now = self.clock.now()
                if err:
                    self.scan.on_error(conn.run, err, now)
                elif data:
                    self.scan.on_data(conn.run, data, now)
                else:
                    self.scan.on_eof(conn.run, now)

    def _send(self, conn: _Conn, data: bytes) -> None:
        if conn.tls is not None:
            if conn.tls.write(data):
                self.scan.on_write_failed(conn.run, self.clock.now())
                return
        else:
            conn.outbuf += data
        self._flush(conn)

    def _flush(self, conn: _Conn) -> None:
        """Push what waits to go out (the TLS layer's records, or plain bytes)."""
        if conn.tls is not None:
            conn.outbuf += conn.tls.outgoing_bytes()
        while conn.outbuf:
            sent, err = self.streams.send(conn.handle, bytes(conn.outbuf))
            if err == errno.EAGAIN:
                return
            if err:
                conn.outbuf.clear()
                self.scan.on_write_failed(conn.run, self.clock.now())
                return
            del conn.outbuf[:sent]


def service_scan(hosts: Sequence[HostResult], db: ProbeDB, timing: Timing, *,
                 names: Callable[[int], str | None], intensity: int = INTENSITY_DEFAULT,
                 allports: bool = False, trace: bool = False, events: Events | None = None,
                 clock: Clock = SYSTEM, streams: Streams | None = None,
                 source: str | None = None, device: str | None = None,
                 speculate: bool = True) -> tuple[int, int] | None:
    """Service-scan the open ports of one host group and set each PortResult.service.

    `names(port)` is the port's nmap-services name.  Returns (services
    finished, hosts timed out) for nmap's "Completed Service scan" line, or
    None when no port needed probing (nmap then prints no more than its
    "Initiating" line).  A host that runs out of --host-timeout here loses
    its ports (nmap skips its report).
    """
    to = events
    live = [h for h in hosts if not h.timed_out]
    targets = [(h.address, [p.port for p in h.ports if p.state == "open"]) for h in live]
    used = [max(0.0, (h.end_time or 0.0) - (h.start_time or 0.0)) for h in live]
    sink = None
    if trace and to is not None:
        def sink(text: str) -> None:
            to.handle(ServiceTrace(text), None)
    scan = ServiceScan(db, targets, intensity=intensity, allports=allports,
                       parallelism=ideal_parallelism(timing.level, timing.min_parallelism,
                                                     timing.max_parallelism),
                       host_timeout=timing.host_timeout / 1000, used=used, wall=clock.wall,
                       trace=sink, speculate=speculate)
    count = scan.to_probe
    if count:
        if to is not None:
            to.handle(ServicesScanning(count, _target_label(hosts)), None)

        def tick() -> float | None:
            return to.tick(scan.completion) if to is not None else None

        ServiceLoop(scan, [(h.family, h.address, h.scope_id) for h in live], clock=clock,
                    streams=streams if streams is not None else EpollStreams(source, device),
                    tick=tick, hostnames=[h.user_name for h in live]).run()
    opened = [{p.port: p for p in h.ports if p.state == "open"} for h in live]
    for svc in scan.services:
        opened[svc.host][svc.port].service = scan.result(svc, names(svc.port))
    for host, state in zip(live, scan.hosts, strict=True):
        if state.end is not None:
            host.end_time = to_wall(clock, state.end)
    timed_out = scan.timed_out_hosts()
    for index in timed_out:
        host = live[index]
        host.timed_out = True
        host.ports = []
    if not count:
        return None
    return len(scan.finished), len(timed_out) + len(hosts) - len(live)


def _target_label(hosts: Sequence[HostResult]) -> str:
    """nmap's NameIP() of the one host, or "N hosts"."""
    if len(hosts) != 1:
        return f"{len(hosts)} hosts"
    host = hosts[0]
    name = host.user_name or host.ptr_name
    return f"{name} ({host.address})" if name else host.address
