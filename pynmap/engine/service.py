"""The service scan (-sV): nmap's version detection as a sans-I/O state machine.

Theory of operation
-------------------
Every open port of the host group becomes one `ServiceProbe`, nmap's
ServiceNFO: a conversation with the service made of *probes*, each on a TCP
connection of its own, read until the probe's `totalwaitms` runs out.  The
state machine never touches a socket and never reads a clock: the driver
(serviceloop.py) tells it what happened (`on_connected`, `on_data`,
`on_eof`, `on_error`, `on_connect_failed`), hands it the time (`now`) with
every call and asks it what is due (`expire(now)`, `next_deadline()`); what
the machine wants done comes out as commands (`Connect`, `Send`, `Close`) in
`ServiceScan.outbox`, which the driver carries out in order.

The rules, as nmap 7.93's service_scan.cc applies them:

* The probes of a port come in nmap's order (pynmap.probes.probe_sequence):
  the NULL probe (send nothing, wait for a banner), the probes whose
  `ports` (`sslports` through SSL) list the port, then the others of rarity
  <= --version-intensity.  A softmatch of service S narrows what is left to
  probes with a match for S, whatever their rarity (all of them at 9).
* What a probe's connection returns is accumulated and matched, at each
  arrival, against the probe's matches, then its fallbacks' (NULL last).  A
  hard match ends the port.  A softmatch keeps the first service named.
* A probe ends when its `totalwaitms` has passed since it was sent, or when
  4096 bytes have come without a match, or when the service closes or
  resets.  The NULL probe that simply ran out of time leaves its connection
  open: the next probe is sent on it, and its banner stays at the start of
  that probe's response.  Every other end closes the connection; the next
  probe gets a new one.
* A service that closes (or resets) the NULL probe's connection without
  sending anything, within that probe's `tcpwrappedms`, is `tcpwrapped`.
  So is, by nmap's bookkeeping, a port whose first connection never got
  through (nothing disproved the wrapper).
* Each probe's response that matched nothing is added to the port's
  fingerprint (`servicefp`), given when no hard match came.
* A hard match of service `ssl` (or of a name starting with `ssl/`) means a
  TLS tunnel: the port starts over, probes from the NULL one again, over TLS
  (`Connect(tls=True)`; the driver runs the handshake), with `sslports`; the
  result gets `tunnel="ssl"`.  Only one tunnel deep.
* Ports excluded by the file's Exclude directive are not probed unless
  --allports: they keep their nmap-services name with nmap's product
  "Excluded from version scan".
* At most `ideal_parallelism` ports are probed at once (1 at -T0..-T2, 20 at
  -T3, 30 at -T4, 40 at -T5, boxed by --min/--max-parallelism, as nmap's
  ServiceGroup), hosts in order, ports in ascending order.
* --host-timeout counts the time the host already spent in the port scan;
  a host that runs out is dropped (its ports are not reported, as nmap).

`result()` then gives each port its report.Service exactly as nmap's
setServiceProbeResults() does: probed with conf 10 for a match, probed with
conf 8 for tcpwrapped, from the table with conf 3 otherwise.

Speculative runs (the speed-up; nmap's results stay the authority)
------------------------------------------------------------------
Every probe of a port is a `Run`: one probe on one connection.  The port's
*interpreter* (the rules above, unchanged) walks the probes in nmap's order
and reads one run at a time (`svc.run`), live.  Once a NULL probe's
connection has been connected and quiet for SPECULATE_AFTER (or two
connect times, on a slow path), the next SPECULATE_WINDOW probes of the
walk start early, each on a connection of its own, and record what happens
(data with its arrival time, close, reset, connect failure) until they end
as the interpreter's probe would (totalwaitms from their send, a hard
match, 4096 bytes, close or reset).  When the interpreter reaches a probe
whose run exists, it reads that run instead of opening a connection: the
recorded events happen at once, at their recorded times relative to the
run's own send (so totalwaitms, tcpwrappedms and the 4096-byte rule read the
same), and the rest, if the run is still going, comes live.  A softmatch
drops the runs the narrowed walk no longer reaches.  An early run that
hard-matches `ssl` starts the NULL probe through TLS at once (and, once it
is quiet, the probes after it); on a port some probe lists in `sslports`
(443, 993, ...) it starts with the plain NULL probe itself.  The TLS
restart overlaps the plain NULL probe's wait; the TLS run is read only if
the interpreter restarts through TLS, and dropped if the port ends first.
A TLS NULL probe's run that hears nothing in its wait does what nmap does
then: it sends the next probe of the walk through TLS on its connection and
records on (`Run.null_sent`), so its wait may end before the plain walk has
reached its ssl match without a second wait through TLS.  The
--version-trace lines come from the interpreter, in nmap's order.

What this assumes of a service, and what guards each assumption:
* It answers a probe on a new connection as it would on a connection that
  has sat idle through the NULL probe's wait.  nmap sends the probe after
  the NULL probe on the NULL probe's own connection, where a banner slower
  than the wait ends up in that probe's response: that probe is always sent
  there, nmap's way (its early run only serves to spot `ssl` early).  The
  later probes get new connections in nmap too.
* It serves a second connection while the first is open.  A server that
  accepts but serves one client at a time leaves an early run with nothing
  at all (no data, no close, the full wait), or it fails to connect: such a
  run is not believed.  The interpreter sends its probe again, nmap's way,
  on a new connection, and the port goes serial (its other early runs are
  closed).  A TLS NULL probe's run is believed once its handshake finished
  (the server answered it), and so is the probe it went on with on that
  connection.  On an `sslports` port the TLS connection opens with the
  plain one, before the plain one has shown it is quiet: a service that
  speaks first still answers on the plain connection, where a banner that
  matches ends the port and drops the TLS run.
* Time as nmap would spend it is not needed by any rule but --host-timeout:
  with a --host-timeout there is no speculation (nor at parallelism 1,
  -T0..-T2: serial means serial).
"""

from __future__ import annotations

import errno as errnos
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from pynmap.probes import (
    INTENSITY_DEFAULT,
    Match,
    Probe,
    ProbeDB,
    VersionInfo,
    version_info,
)
from pynmap.report import Service

__all__ = ["Close", "Connect", "Outcome", "Run", "Send", "ServiceProbe", "ServiceScan",
           "ideal_parallelism"]

NMAP_VERSION = "7.93"
NMAP_PLATFORM = "x86_64-pc-linux-gnu"
CONNECT_TIMEOUT = 5.0  # nmap's DEFAULT_CONNECT_TIMEOUT (ms / 1000)
CONNECT_SSL_TIMEOUT = 8.0  # DEFAULT_CONNECT_SSL_TIMEOUT: connect() and the TLS handshake
READ_LIMIT = 4096  # a probe's response is not read further once this long
# speculation: how long a NULL probe's connection stays quiet before the next
# probes start on connections of their own, how many probes ahead, and how
# many runs at once per unit of parallelism
SPECULATE_AFTER = 0.15
SPECULATE_WINDOW = 3
SPECULATE_BUDGET = 3
_FP_WRAP = 74  # fingerprint characters per line
_FP_ENOUGH = 2200  # a fingerprint this long takes no more responses
_FP_PER_RESPONSE = 900  # bytes of each response a fingerprint shows
_FP_SPECIAL = b'\\?"[]().*+$^|'
# errors on a connected socket that mean "the service hung up on this probe"
_HUNG_UP = frozenset({errnos.ECONNRESET, errnos.ECONNREFUSED, errnos.ECONNABORTED})
# errors after which nmap simply tries the next probe
_NEXT_PROBE = frozenset({errnos.ENOPROTOOPT, errnos.EMSGSIZE, errnos.EOPNOTSUPP, errnos.EPIPE,
                         errnos.ENETRESET, errnos.EPROTO, errnos.EIO})


class Outcome(Enum):
    """How a port's probing ended (nmap's serviceprobestate)."""

    HARDMATCHED = "hardmatched"
    SOFTMATCHED = "softmatched"
    NOMATCH = "nomatch"
    TCPWRAPPED = "tcpwrapped"
    INCOMPLETE = "incomplete"
    EXCLUDED = "excluded"


@dataclass(eq=False)
class ServiceProbe:
    """One port's conversation (nmap's ServiceNFO), as the interpreter sees it."""

    host: int  # index into the scan's host list
    address: str
    port: int
    tunnel: bool = False  # through TLS
    outcome: Outcome | None = None  # set once the port is finished
    # what matched: the service name and the version fields
    matched: str | None = None
    soft: bool = False
    found: VersionInfo = field(default_factory=VersionInfo)  # what the matches so far filled
    fingerprint: str = ""  # nmap's servicefp as built (wrapped, without its ';')
    tcpwrap_possible: bool = True
    # the probe under way
    probe: Probe | None = None
    response: bytearray = field(default_factory=bytearray)
    sent_at: float = 0.0  # when the current probe was sent (its totalwaitms counts from it)
    connecting_since: float | None = None  # a connect() (and TLS handshake) under way
    run: Run | None = None  # the connection the interpreter reads (None: none held)
    # the walk (nmap's nextProbe): candidates in order, and the position in them
    cands: list[tuple[Probe, bool]] = field(default_factory=list)
    pos: int = 0
    _started: bool = False
    # speculation: runs of later probes, by (through TLS, probe name)
    spec: dict[tuple[bool, str], Run] = field(default_factory=dict)
    armed: set[bool] = field(default_factory=set)  # levels (TLS or not) whose NULL was quiet
    may_speculate: bool = True  # False once a run said nothing to be trusted: serial from then

    @property
    def deadline(self) -> float | None:
        if self.outcome is not None or self.probe is None or self.run is None:
            return None
        if self.connecting_since is not None:
            return self.connecting_since + (CONNECT_SSL_TIMEOUT if self.tunnel
                                            else CONNECT_TIMEOUT)
        return self.sent_at + self.probe.totalwaitms / 1000


@dataclass(eq=False)
class Run:
    """One probe on one connection.  The interpreter's own (`svc.run`) is
    read live; a speculative one records what happens, times relative to
    its own send, until the interpreter reaches its probe."""

    svc: ServiceProbe
    probe: Probe
    tls: bool
    started: float  # connect() began
    speculative: bool = False
    connecting: bool = True
    sent_at: float | None = None
    events: list[tuple[float, str, bytes | int]] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    done: bool = False  # a speculative run that ended (nothing more is recorded)
    open: bool = True  # holds a connection (the driver's)
    traced: bool = False
    # a TLS NULL probe's run that stayed silent through its wait carries on
    # with the next probe on its connection, as nmap does: `null_sent` is when
    # the NULL probe went out, `probe` and `sent_at` are the next probe's;
    # `ahead` while the interpreter has not yet reached that send
    null_sent: float | None = None
    ahead: bool = False

    @property
    def deadline(self) -> float:
        if self.connecting:
            return self.started + (CONNECT_SSL_TIMEOUT if self.tls else CONNECT_TIMEOUT)
        assert self.sent_at is not None
        return self.sent_at + self.probe.totalwaitms / 1000


@dataclass(frozen=True, slots=True)
class Connect:
    """Open a new connection for `run` (through TLS if `tls`); report its end
    with on_connected or on_connect_failed."""

    run: Run
    tls: bool


@dataclass(frozen=True, slots=True)
class Send:
    run: Run
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    """Drop the connection of `run` (no more events for it)."""

    run: Run


Command = Connect | Send | Close


def ideal_parallelism(level: int, min_parallelism: int, max_parallelism: int) -> int:
    """How many ports nmap's service scan probes at once (ServiceGroup's ideal_parallelism)."""
    desired = {3: 20, 4: 30}.get(level, 40 if level >= 5 else 1)
    high = max(min_parallelism, max_parallelism or 100)
    return max(min_parallelism, min(high, desired))


@dataclass
class _Host:
    used: float  # seconds of --host-timeout already spent (the port scan)
    clock_start: float | None = None
    end: float | None = None  # when its last port finished (nmap's host_end)
    timed_out: bool = False


class ServiceScan:
    """The service scan of one host group (nmap's ServiceGroup); see the module docstring.

    `targets` are (address, open ports) per host; `used` the seconds each host
    already spent (for --host-timeout, in seconds, 0 for none); `wall` gives
    the wall-clock time for a fingerprint's date fields (the run's clock; the
    state machine never calls it otherwise); `speculate` allows speculative
    runs (they stay off at parallelism 1 and with a --host-timeout).
    """

    def __init__(self, db: ProbeDB, targets: Sequence[tuple[str, Sequence[int]]], *,
                 intensity: int = INTENSITY_DEFAULT, allports: bool = False,
                 parallelism: int = 20, host_timeout: float = 0.0,
                 used: Sequence[float] | None = None,
                 wall: Callable[[], float],
                 trace: Callable[[str], None] | None = None,
                 speculate: bool = True) -> None:
        self.db = db
        self.intensity = intensity
        self.parallelism = max(1, parallelism)
        self.host_timeout = host_timeout
        self.wall = wall
        self.trace = trace
        self.speculative = speculate and self.parallelism > 1 and host_timeout <= 0
        self.outbox: deque[Command] = deque()
        self.hosts = [_Host(used[i] if used is not None else 0.0) for i in range(len(targets))]
        self.services: list[ServiceProbe] = []
        self.remaining: deque[ServiceProbe] = deque()
        self.in_progress: list[ServiceProbe] = []
        self.finished: list[ServiceProbe] = []
        self._now = 0.0  # the latest time the driver gave (replays run in recorded time)
        self._ssl_ports: frozenset[int] | None = None
        for index, (address, ports) in enumerate(targets):
            for port in sorted(ports):
                svc = ServiceProbe(index, address, port)
                self.services.append(svc)
                if not allports and db.is_excluded(port, "TCP"):
                    svc.outcome = Outcome.EXCLUDED
                    self.finished.append(svc)
                else:
                    self.remaining.append(svc)

    # ---------------------------------------------------------------- questions

    @property
    def to_probe(self) -> int:
        """Ports that get probed (not excluded): nmap's "Scanning N services"."""
        return sum(1 for s in self.services if s.outcome is not Outcome.EXCLUDED)

    @property
    def done(self) -> bool:
        return not self.remaining and not self.in_progress

    def completion(self) -> float:
        return len(self.finished) / len(self.services) if self.services else 1.0

    def next_deadline(self) -> float | None:
        """The earliest time expire() has something to do (None: nothing waits on time)."""
        times = [d for s in self.in_progress if (d := s.deadline) is not None]
        for svc in self.in_progress:
            times.extend(r.deadline for r in svc.spec.values() if not r.done)
            times.extend(t for r in self._quiet_candidates(svc)
                         if (t := self._quiet_at(r)) is not None)
        if self.host_timeout > 0:
            for svc in self.in_progress:
                h = self.hosts[svc.host]
                if h.clock_start is not None:
                    # the host is out of time once past its timeout (a millisecond on)
                    times.append(h.clock_start + self.host_timeout - h.used + 0.001)
        return min(times) if times else None

    def timed_out_hosts(self) -> list[int]:
        return [i for i, h in enumerate(self.hosts) if h.timed_out]

    # ---------------------------------------------------------------- driving

    def launch(self, now: float) -> None:
        """Start ports while fewer than the parallelism are under way (launchSomeServiceProbes)."""
        self._now = now
        while len(self.in_progress) < self.parallelism and self.remaining:
            svc = self.remaining.popleft()
            if self._timed_out(svc.host, now):
                self._end(svc, Outcome.INCOMPLETE, now)
                continue
            h = self.hosts[svc.host]
            if h.clock_start is None:
                h.clock_start = now
            self.in_progress.append(svc)
            self._next_probe(svc, now, restart=True)
            if self.speculative and svc.outcome is None and self._ssl_port(svc.port):
                # a port nmap's file lists as an SSL one: its NULL probe through
                # TLS starts with the plain one, so that the two waits overlap
                # whole (it is read only if the plain probes end in an ssl match)
                self._start_tls_null(svc, now)

    def expire(self, now: float) -> None:
        """Probes whose time is up, connects that took too long, hosts out of time;
        speculative runs that end, NULL probes quiet long enough to speculate."""
        self._now = now
        for svc in list(self.in_progress):
            if svc.outcome is not None:
                continue
            for run in list(svc.spec.values()):
                if run.open and not run.done and now >= run.deadline:
                    if run.connecting:
                        self._record(run, now, "cfail", errnos.ETIMEDOUT)
                    else:
                        self._record(run, now, "timeout", 0)
            if svc.outcome is not None:
                continue
            if self._timed_out(svc.host, now):
                if svc.connecting_since is None:
                    svc.tcpwrap_possible = False
                self._end(svc, Outcome.INCOMPLETE, now)
                continue
            deadline = svc.deadline
            if deadline is None or now < deadline:
                continue
            self._i_timeout(svc, now)

    def quiet_due(self, now: float) -> bool:
        """Whether some NULL probe's connection has been quiet long enough:
        the driver first reads what came meanwhile, then calls arm()."""
        return any(at is not None and now >= at for svc in self.in_progress
                   for run in self._quiet_candidates(svc) if (at := self._quiet_at(run)))

    def arm(self, now: float) -> None:
        """Start the next probes early where a NULL probe's connection stayed quiet."""
        self._now = now
        for svc in list(self.in_progress):
            for run in self._quiet_candidates(svc):
                at = self._quiet_at(run)
                if at is not None and now >= at and svc.outcome is None:
                    svc.armed.add(run.tls)
                    self._speculate(svc)

    # ---------------------------------------------------------------- events from the driver

    def on_connected(self, run: Run, now: float) -> None:
        self._now = now
        svc = run.svc
        if not run.open or svc.outcome is not None:
            return
        if svc.run is not run:
            if run.done:
                return
            run.connecting = False
            run.sent_at = now
            if run.probe.payload:
                self.outbox.append(Send(run, run.probe.payload))
            return
        if self._timed_out(svc.host, now):
            self._end(svc, Outcome.INCOMPLETE, now)
            return
        run.connecting = False
        svc.connecting_since = None
        self._send_probe(svc, now)

    def on_connect_failed(self, run: Run, err: int, now: float) -> None:
        self._now = now
        self._event(run, now, "cfail", err)

    def on_data(self, run: Run, data: bytes, now: float) -> None:
        self._now = now
        if data:
            self._event(run, now, "data", data)

    def on_write_failed(self, run: Run, now: float) -> None:
        """Sending the probe failed: nmap aborts the service."""
        self._now = now
        self._event(run, now, "wfail", 0)

    def on_eof(self, run: Run, now: float) -> None:
        """The service closed the connection (FIN)."""
        self._now = now
        self._event(run, now, "eof", 0)

    def on_error(self, run: Run, err: int, now: float) -> None:
        """A read (or write) on the connection failed with `err` (EIO: a TLS error)."""
        self._now = now
        self._event(run, now, "error", err)

    def _event(self, run: Run, now: float, kind: str, value: bytes | int) -> None:
        svc = run.svc
        if not run.open or svc.outcome is not None:
            return
        if svc.run is run:
            self._deliver(svc, now, kind, value)
        elif not run.done:
            self._record(run, now, kind, value)

    # ---------------------------------------------------------------- speculative runs

    def _record(self, run: Run, now: float, kind: str, value: bytes | int) -> None:
        """What a speculative run heard; it ends as the interpreter's probe would.
        A TLS NULL probe's run that heard nothing in its wait goes on, nmap's
        way, with the next probe on its connection (`Run.null_sent`): started
        with the plain NULL probe, its wait ends about when the plain walk
        reaches its ssl match, often before."""
        if kind == "timeout" and run.probe.is_null and run.tls and not run.events:
            following = self._tls_walk(run.svc)
            if following:
                run.events.append((now, kind, value))
                run.null_sent, run.sent_at = run.sent_at, now
                run.probe, run.ahead = following[0], True
                if run.probe.payload:
                    self.outbox.append(Send(run, run.probe.payload))
                return
        run.events.append((now, kind, value))
        if kind == "data":
            assert isinstance(value, bytes)
            run.data += value
            assert run.sent_at is not None
            first = self._first_match(run.probe, bytes(run.data))
            if first is not None and not first.soft:
                run.done = True
                if first.service == "ssl" and not run.tls:
                    self._start_tls_null(run.svc, now)
            elif (len(run.data) >= READ_LIMIT
                  or int((now - run.sent_at) * 1000) >= run.probe.totalwaitms):
                run.done = True
        else:
            run.done = True
        if run.done:
            self._close(run)

    def _first_match(self, probe: Probe, data: bytes) -> Match | None:
        """The match _match() would act on first (it stops at the first that fits)."""
        chain = self.db.fallbacks.get((probe.protocol, probe.name), (probe,))
        folded = data.lower()
        for candidate in chain:
            for index, match in enumerate(candidate.matches):
                if candidate.search(index, data, folded) is not None:
                    return match
        return None

    def _quiet_candidates(self, svc: ServiceProbe) -> list[Run]:
        """NULL-probe runs whose quiet would let the next probes start early."""
        if not self.speculative or not svc.may_speculate:
            return []
        runs = [svc.run, svc.spec.get((True, "NULL"))]
        return [r for r in runs if r is not None and r.probe.is_null and r.tls not in svc.armed]

    def _quiet_at(self, run: Run) -> float | None:
        """When a NULL probe's connection, silent since its send, has been quiet enough:
        SPECULATE_AFTER, or two connect times (up to a second) on a slow path."""
        heard = run.data or run.events or (run is run.svc.run and run.svc.response)
        if run.sent_at is None or heard or not run.open:
            return None
        return run.sent_at + max(SPECULATE_AFTER, min(2 * (run.sent_at - run.started), 1.0))

    def _start_tls_null(self, svc: ServiceProbe, now: float) -> None:
        if (not svc.tunnel and (True, "NULL") not in svc.spec and self.db.null_probe is not None
                and svc.may_speculate and self._budget()):
            self._spawn(svc, self.db.null_probe, True)

    def _ssl_port(self, port: int) -> bool:
        if self._ssl_ports is None:
            self._ssl_ports = frozenset().union(*(p.sslports for p in self.db.probes))
        return port in self._ssl_ports

    def _budget(self) -> bool:
        return sum(len(s.spec) for s in self.in_progress) < SPECULATE_BUDGET * self.parallelism

    def _spawn(self, svc: ServiceProbe, probe: Probe, tls: bool) -> None:
        run = Run(svc, probe, tls, self._now, speculative=True)
        svc.spec[(tls, probe.name)] = run
        self.outbox.append(Connect(run, tls))

    def _close(self, run: Run) -> None:
        if run.open:
            run.open = False
            self.outbox.append(Close(run))

    def _drop(self, svc: ServiceProbe, key: tuple[bool, str]) -> None:
        run = svc.spec.pop(key, None)
        if run is not None:
            self._close(run)

    def _serialize(self, svc: ServiceProbe) -> None:
        """A run said nothing that can stand for nmap's: no more speculation on this port."""
        svc.may_speculate = False
        for key in list(svc.spec):
            self._drop(svc, key)

    def _speculate(self, svc: ServiceProbe) -> None:
        """Drop runs the walk no longer reaches; start the next few probes' runs."""
        if svc.outcome is not None or (not svc.spec and not self.speculative):
            return
        if not svc.may_speculate or not self.speculative:
            self._serialize(svc)
            return
        ahead = self._rest(svc)
        names = {p.name for p in ahead}
        for key in list(svc.spec):
            if key[0] == svc.tunnel and key[1] not in names:
                self._drop(svc, key)
        if svc.tunnel in svc.armed:
            if not svc.tunnel and self._ssl_port(svc.port):
                # a port nmap's file lists as an SSL one: the TLS NULL probe need
                # not wait for the ssl match (it is read only after one)
                self._start_tls_null(svc, self._now)
            for p in ahead[:SPECULATE_WINDOW]:
                if (svc.tunnel, p.name) not in svc.spec and self._budget():
                    self._spawn(svc, p, svc.tunnel)
        if not svc.tunnel and True in svc.armed and (True, "NULL") in svc.spec:
            for p in self._tls_walk(svc)[:SPECULATE_WINDOW]:
                if (True, p.name) not in svc.spec and self._budget():
                    self._spawn(svc, p, True)

    def _tls_walk(self, svc: ServiceProbe) -> list[Probe]:
        """The probes after NULL of the walk that starts over through TLS."""
        return [p for p, probable in self._candidates(svc.port, True)
                if self._possible(p, probable, False, None) and not p.is_null]

    def _take(self, svc: ServiceProbe, probe: Probe) -> Run | None:
        """The speculative run that can stand for `probe` now, if any (see the guards)."""
        run = svc.spec.pop((svc.tunnel, probe.name), None)
        if run is None:
            return None
        # (a run that went on from the NULL probe went on with the probe this walk
        # sends next: both start over through TLS with nothing matched, _tls_walk)
        if probe.is_null and run.done and run.events and run.events[-1][1] == "timeout":
            self._close(run)  # its connection is gone: the next probe needs it
            return None
        return run

    # ---------------------------------------------------------------- the interpreter

    def _deliver(self, svc: ServiceProbe, now: float, kind: str, value: bytes | int) -> None:
        if kind == "data":
            assert isinstance(value, bytes)
            self._i_data(svc, value, now)
        elif kind == "eof":
            self._i_eof(svc, now)
        elif kind == "error":
            assert isinstance(value, int)
            self._i_error(svc, value, now)
        elif kind in ("cfail", "wfail"):
            run = svc.run
            if run is not None and run.speculative:
                self._rerun(svc)  # the guard: nmap's connection might have fared better
            else:
                self._end(svc, Outcome.INCOMPLETE, now)
        elif kind == "timeout":
            self._i_timeout(svc, now)

    def _consume(self, svc: ServiceProbe, run: Run) -> None:
        """The interpreter reaches a probe that has a run: what it recorded
        happens now in order, at its recorded times; the rest comes live."""
        svc.run = run
        self._speculate(svc)
        run.traced = True
        self._trace_send(svc)
        if run.connecting:
            svc.connecting_since = run.started
            return
        svc.connecting_since = None
        assert run.sent_at is not None
        svc.sent_at = run.sent_at if run.null_sent is None else run.null_sent
        for t, kind, value in list(run.events):
            if svc.run is not run or svc.outcome is not None:
                return
            self._deliver(svc, t, kind, value)

    @staticmethod
    def _believed(svc: ServiceProbe, run: Run) -> bool:
        """A speculative run that stands for nmap's even when it heard nothing:
        a TLS NULL probe's once connected (the server answered the handshake),
        and the probe it went on with on that connection."""
        return run.tls and (run.null_sent is not None
                            or (svc.probe is not None and svc.probe.is_null))

    def _rerun(self, svc: ServiceProbe) -> None:
        """The guard: a speculative run that said nothing is done again, nmap's way,
        alone on a new connection."""
        run = svc.run
        assert run is not None and svc.probe is not None
        self._close(run)
        self._serialize(svc)
        svc.response = bytearray()
        svc.run = Run(svc, svc.probe, svc.tunnel, self._now)
        svc.connecting_since = self._now
        self.outbox.append(Connect(svc.run, svc.tunnel))

    def _i_timeout(self, svc: ServiceProbe, now: float) -> None:
        run = svc.run
        if svc.connecting_since is not None:
            if run is not None and run.speculative:
                self._rerun(svc)
                return
            # nmap: a connect() timing out aborts the service
            self._end(svc, Outcome.INCOMPLETE, now)
            return
        if (run is not None and run.speculative and not svc.response
                and not self._believed(svc, run)):
            self._rerun(svc)
            return
        # the probe ran out of time: what came is part of the fingerprint
        svc.tcpwrap_possible = False
        if svc.response and svc.probe is not None:
            self._add_fingerprint(svc, svc.probe.name, bytes(svc.response))
        self._next_probe(svc, now, restart=False)

    def _i_data(self, svc: ServiceProbe, data: bytes, now: float) -> None:
        if svc.probe is None:
            return
        if self._timed_out(svc.host, now):
            svc.tcpwrap_possible = False
            self._end(svc, Outcome.INCOMPLETE, now)
            return
        probe = svc.probe
        svc.tcpwrap_possible = False
        svc.response += data
        got = bytes(svc.response)
        if self._match(svc, probe, got):
            if self._tunnel(svc):
                self._next_probe(svc, now, restart=True)
            else:
                self._end(svc, Outcome.HARDMATCHED, now)
            return
        if self._time_left(svc, now) and len(got) < READ_LIMIT:
            self._speculate(svc)  # a softmatch narrows what is ahead
            return  # reading on may bring what matches
        self._add_fingerprint(svc, probe.name, got)
        self._next_probe(svc, now, restart=False)

    def _i_eof(self, svc: ServiceProbe, now: float) -> None:
        if svc.probe is None:
            return
        probe = svc.probe
        if self._timed_out(svc.host, now):
            svc.tcpwrap_possible = False
            self._end(svc, Outcome.INCOMPLETE, now)
            return
        if svc.response:
            self._add_fingerprint(svc, probe.name, bytes(svc.response))
            svc.tcpwrap_possible = False
        if self._wrapped(svc, probe, now) and not svc.response:
            self._end(svc, Outcome.TCPWRAPPED, now)
        else:
            self._next_probe(svc, now, restart=True)

    def _i_error(self, svc: ServiceProbe, err: int, now: float) -> None:
        if svc.probe is None:
            return
        if self._timed_out(svc.host, now):
            svc.tcpwrap_possible = False
            self._end(svc, Outcome.INCOMPLETE, now)
        elif err in _HUNG_UP:
            if self._wrapped(svc, svc.probe, now):
                self._end(svc, Outcome.TCPWRAPPED, now)
            else:
                self._next_probe(svc, now, restart=True)
        elif err in _NEXT_PROBE:
            self._next_probe(svc, now, restart=True)
        else:
            svc.tcpwrap_possible = False
            self._end(svc, Outcome.INCOMPLETE, now)

    # ---------------------------------------------------------------- the rules

    def _timed_out(self, host: int, now: float) -> bool:
        h = self.hosts[host]
        if h.timed_out:
            return True
        if self.host_timeout <= 0 or h.clock_start is None:
            return False
        if h.used + (now - h.clock_start) > self.host_timeout:
            h.timed_out = True
        return h.timed_out

    def _time_left(self, svc: ServiceProbe, now: float) -> bool:
        assert svc.probe is not None
        # nmap counts whole milliseconds
        return int((now - svc.sent_at) * 1000) < svc.probe.totalwaitms

    def _wrapped(self, svc: ServiceProbe, probe: Probe, now: float) -> bool:
        """Closed on the NULL probe, with nothing said, soon enough: a TCP wrapper."""
        return (svc.tcpwrap_possible and probe.is_null
                and int((now - svc.sent_at) * 1000) < probe.tcpwrappedms)

    def _candidates(self, port: int, ssl: bool) -> list[tuple[Probe, bool]]:
        """nmap's nextProbe() order: NULL, the probes that list the port, the others;
        each with whether it lists the port (the softmatch filters them apart)."""
        db = self.db
        out: list[tuple[Probe, bool]] = []
        if db.null_probe is not None:
            out.append((db.null_probe, True))
        tcp = [p for p in db.probes if p.protocol == "TCP"]
        out.extend((p, True) for p in tcp if p.port_is_probable(port, ssl))
        out.extend((p, False) for p in tcp if not p.port_is_probable(port, ssl))
        return out

    def _possible(self, p: Probe, probable: bool, soft: bool, matched: str | None) -> bool:
        """Whether the walk takes `p`, given the softmatch so far (read as it goes)."""
        if p.is_null:
            return True
        fits = not soft or self.intensity >= 9 or (matched is not None and matched in p.services)
        if probable:
            return fits
        return p.rarity <= self.intensity if not soft else fits

    def _advance(self, svc: ServiceProbe) -> Probe | None:
        while svc.pos < len(svc.cands):
            p, probable = svc.cands[svc.pos]
            svc.pos += 1
            if self._possible(p, probable, svc.soft, svc.matched):
                return p
        return None

    def _rest(self, svc: ServiceProbe) -> list[Probe]:
        """The probes the walk would take from here, as things stand."""
        return [p for p, probable in svc.cands[svc.pos:]
                if self._possible(p, probable, svc.soft, svc.matched)]

    def _next_probe(self, svc: ServiceProbe, now: float, *, restart: bool) -> None:
        """nmap's startNextProbe(): the next probe on the same connection (after a
        NULL probe that ran out of time) or on a new one."""
        if not svc._started:
            svc._started = True
            svc.cands = self._candidates(svc.port, svc.tunnel)
            svc.pos = 0
        elif not restart and svc.probe is not None and svc.probe.is_null and svc.run is not None:
            following = self._advance(svc)
            if following is None:
                self._finish_unmatched(svc, now)
                return
            # always on the NULL probe's connection, as nmap: what comes late
            # (a banner slower than the NULL probe's wait) is part of its response.
            # Its early run (if any) has done its part: an ssl match there
            # already started the TLS NULL probe.
            self._drop(svc, (svc.tunnel, following.name))
            svc.probe = following
            svc.run.probe = following
            self._speculate(svc)
            self._send_probe(svc, now)  # the banner stays: the response starts with it
            return
        if svc.run is not None:
            self._close(svc.run)
            svc.run = None
        probe = self._advance(svc)
        if probe is None:
            self._finish_unmatched(svc, now)
            return
        svc.probe = probe
        svc.response = bytearray()
        taken = self._take(svc, probe) if svc.may_speculate else None
        if taken is not None:
            self._consume(svc, taken)
            return
        svc.run = Run(svc, probe, svc.tunnel, self._now)
        svc.connecting_since = self._now
        self.outbox.append(Connect(svc.run, svc.tunnel))
        self._speculate(svc)

    def _trace_send(self, svc: ServiceProbe) -> None:
        if self.trace is not None and svc.probe is not None:
            self.trace(f"Service scan sending probe {svc.probe.name} to {svc.address}:"
                       f"{svc.port} (tcp)")

    def _send_probe(self, svc: ServiceProbe, now: float) -> None:
        probe, run = svc.probe, svc.run
        assert probe is not None and run is not None
        if not (run.traced and run.sent_at is None):  # (adopted: traced when reached)
            self._trace_send(svc)
        run.traced = True
        if run.ahead:
            # its early run sent it on this connection when the NULL probe's wait ran out
            run.ahead = False
            assert run.sent_at is not None
            svc.sent_at = run.sent_at
            return
        svc.sent_at = now
        run.sent_at = now
        if probe.payload:
            self.outbox.append(Send(run, probe.payload))

    def _finish_unmatched(self, svc: ServiceProbe, now: float) -> None:
        self._end(svc, Outcome.SOFTMATCHED if svc.soft else Outcome.NOMATCH, now)

    def _match(self, svc: ServiceProbe, probe: Probe, data: bytes) -> bool:
        """Test the response against the probe's matches, then its fallbacks';
        True for a new hard match (nmap's processMatch)."""
        chain = self.db.fallbacks.get((probe.protocol, probe.name), (probe,))
        folded = data.lower()
        for candidate in chain:
            for index, match in enumerate(candidate.matches):
                m = candidate.search(index, data, folded)
                if m is None:
                    continue
                if match.soft and svc.matched is not None:
                    return False  # nmap keeps the first softmatch (and a second one warns)
                info = version_info(match, m)
                if self.trace is not None:
                    self.trace(
                        f"Service scan {'soft' if match.soft else 'hard'} match (Probe "
                        f"{probe.name} matched with {candidate.name} line {match.line}): "
                        f"{svc.address}:{svc.port} is {'SSL/' if svc.tunnel else ''}"
                        f"{match.service}.  Version: |{_text(info.product) or ''}|"
                        f"{_text(info.version) or ''}|{_text(info.info) or ''}|")
                svc.matched = match.service
                svc.tcpwrap_possible = False
                svc.found = info.over(svc.found)
                svc.soft = match.soft
                return not match.soft
        return False

    def _tunnel(self, svc: ServiceProbe) -> bool:
        """nmap's scanThroughTunnel(): True when the port starts over through TLS."""
        if svc.matched is not None and svc.matched.startswith("ssl/"):
            svc.tunnel = True
            svc.matched = svc.matched[4:]
            return False
        if svc.tunnel or svc.matched not in ("ssl", "dtls"):
            return False
        svc.tunnel = True
        svc.matched = None
        svc.soft = False
        svc.found = VersionInfo()
        svc.fingerprint = ""
        svc._started = False  # the probes start over, NULL first, with sslports
        for key in [k for k in svc.spec if not k[0]]:
            self._drop(svc, key)  # what was ahead in the clear is not reached
        return True

    def _end(self, svc: ServiceProbe, outcome: Outcome, now: float) -> None:
        """nmap's end_svcprobe(): a port nothing disproved to be wrapped is tcpwrapped."""
        svc.outcome = Outcome.TCPWRAPPED if svc.tcpwrap_possible else outcome
        svc.connecting_since = None
        if svc.run is not None:
            self._close(svc.run)
            svc.run = None
        for key in list(svc.spec):
            self._drop(svc, key)
        if svc in self.in_progress:
            self.in_progress.remove(svc)
        elif svc in self.remaining:
            self.remaining.remove(svc)
        self.finished.append(svc)
        h = self.hosts[svc.host]
        if h.clock_start is not None and not any(
                s.host == svc.host for s in (*self.in_progress, *self.remaining)):
            h.end = max(now, self._now)  # nmap stops the host's timeout clock: its end time

    # ---------------------------------------------------------------- the fingerprint

    def _add_fingerprint(self, svc: ServiceProbe, name: str, response: bytes) -> None:
        """nmap's addToServiceFingerprint(): the response, escaped, wrapped at 74 columns."""
        fp = svc.fingerprint
        if len(fp) > _FP_ENOUGH:
            return
        out = list(fp)
        if not fp:
            t = int(self.wall())
            local = time.localtime(t)
            head = (f"SF-Port{svc.port}-TCP:V={NMAP_VERSION}{'%T=SSL' if svc.tunnel else ''}"
                    f"%I={self.intensity}%D={local.tm_mon}/{local.tm_mday}%Time={t:X}"
                    f"%P={NMAP_PLATFORM}")
            _append(out, head)
        _append(out, f'%r({name},{len(response):X},"')
        _append(out, _escape(response[:_FP_PER_RESPONSE]))
        _append(out, '")')
        svc.fingerprint = "".join(out)

    # ---------------------------------------------------------------- the result

    def result(self, svc: ServiceProbe, table_name: str | None) -> Service:
        """The port's <service> as nmap's setServiceProbeResults() fills it;
        `table_name` is the port's nmap-services name (None: none)."""
        return service_of(svc, table_name, self.intensity)


def service_of(svc: ServiceProbe, table_name: str | None, intensity: int) -> Service:
    outcome = svc.outcome
    tunnel = "ssl" if svc.tunnel else None
    fp = svc.fingerprint + ";" if svc.fingerprint else None
    if outcome is Outcome.NOMATCH:
        return Service(name=table_name or "unknown", method="table", conf=3, tunnel=tunnel,
                       servicefp=_unwrap(fp))
    if outcome is Outcome.EXCLUDED:
        return Service(name=table_name or "unknown", method="table", conf=3,
                       product="Excluded from version scan")
    name = svc.matched
    if outcome in (Outcome.HARDMATCHED, Outcome.SOFTMATCHED):
        method, conf = "probed", 10
    elif outcome is Outcome.TCPWRAPPED:
        method, conf = "probed", 8
        name = name or "tcpwrapped"
    else:  # INCOMPLETE
        method, conf = "table", 3
        name = name or table_name
    show_fp = outcome is not Outcome.HARDMATCHED and intensity >= 7
    found = svc.found
    cpes = tuple(t for c in found.cpes if (t := _text(c, 80)) is not None)
    return Service(
        name=name or "unknown", method=method, conf=conf,
        product=_text(found.product, 80), version=_text(found.version, 80),
        extrainfo=_text(found.info, 256), tunnel=tunnel, hostname=_text(found.hostname, 80),
        ostype=_text(found.ostype, 32), devicetype=_text(found.devicetype, 32),
        servicefp=_unwrap(fp) if show_fp else None, cpe=cpes)


def _text(value: bytes, limit: int = 1 << 20) -> str | None:
    """nmap's cstringSanityCheck(): up to the first NUL, at most `limit` bytes,
    unprintable bytes as '.'; None for empty."""
    value = value.split(b"\0", 1)[0][:limit]
    if not value:
        return None
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in value)


def _append(out: list[str], text: str) -> None:
    """nmap's addServiceChar(): a new "\\nSF:" line each time a line is full.
    (The position counts the whole string, the inserted "\\nSF:" included.)"""
    for ch in text:
        if len(out) % (_FP_WRAP + 1) == _FP_WRAP:
            out.extend("\nSF:")
        out.append(ch)


def _escape(data: bytes) -> str:
    """A response as nmap writes it in a fingerprint (C-locale isalnum/ispunct)."""
    out: list[str] = []
    n = len(data)
    for i, b in enumerate(data):
        c = chr(b)
        if c.isascii() and c.isalnum():
            out.append(c)
        elif b == 0:
            # \0 before a digit would read as an octal escape: spell it out
            out.append("\\x00" if i + 1 < n and 0x30 <= data[i + 1] <= 0x39 else "\\0")
        elif b in _FP_SPECIAL:
            out.append("\\" + c)
        elif 0x21 <= b <= 0x7E:
            out.append(c)
        elif b == 0x0D:
            out.append("\\r")
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        else:
            out.append(f"\\x{b:02x}")
    return "".join(out)


def _unwrap(fp: str | None) -> str | None:
    """The fingerprint as nmap's XML shows it: without its "\\nSF:" line breaks."""
    return None if fp is None else fp.replace("\nSF:", "")

