"""One run of pynmap, in nmap's order of events.

1. the options come parsed (pynmap.command_line for the command line,
   pynmap.api for keywords): their errors come before any output, no banner,
   no file;
2. open the output files, print the banner;
3. build the port lists and check what needs them (errors here follow the
   banner; the XML file gets nmap's short error form);
4. write the report headers;
5. pull targets lazily, in host groups: discovery, reverse DNS, the connect
   scan, and each host's report as soon as its group is done;
6. the closing lines.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import random
import signal
import socket
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, TextIO

from pynmap import dns, ports, services, signals, targets
from pynmap.engine.clock import SYSTEM, Clock
from pynmap.errors import Cancelled, Fatal, Interrupted, NmapError, SystemFatal
from pynmap.options import Options
from pynmap.output.writers import OutputSpec, Reporter
from pynmap.pacing import ENV_VAR as PACING_VAR
from pynmap.pacing import choose_pacing
from pynmap.plain import PlainData
from pynmap.progress import ProgressMeter, StatsSchedule, status_line
from pynmap.results import HostResult, RunStats, Times
from pynmap.stdio import WriteFailed
from pynmap.tty import Keyboard

if TYPE_CHECKING:
    from pynmap.apiprogress import Progress
    from pynmap.engine.backend import Backend
    from pynmap.engine.bounce import Note, Relay
    from pynmap.engine.bounceloop import BounceLoop
    from pynmap.engine.messages import Event
    from pynmap.engine.proxy import ProxyStreams
    from pynmap.engine.scan import SocketSetup
    from pynmap.lan import LanFacts
    from pynmap.output.jsonout import ReportSink
    from pynmap.probes import ProbeDB, ReadAhead
    from pynmap.timing import Timing

_INTERRUPTED: dict[int, str] = {
    signal.SIGINT: "Scan interrupted by SIGINT (Ctrl-C)",
    signal.SIGTERM: "Scan interrupted by SIGTERM",
    signal.SIGHUP: "Scan interrupted by SIGHUP",
    signal.SIGQUIT: "Scan interrupted by SIGQUIT",
}

# How often the keyboard (or an API caller's cancel request) is looked at while
# a phase runs (seconds).
KEY_POLL = 0.2
CANCELLED = "Scan cancelled by the caller"
PROGRESS_EVERY = 1.0  # seconds between two of the API's Progress reports in a phase
KEY_HELP = (
    "Keys you can press while the scan runs:",
    "  v / V   more / less verbose output",
    "  d / D   more / less debugging output",
    "  p / P   packet tracing on / off",
    "  ?       this list",
    "  any other key prints the scan's status",
)

# nmap pulls up to this many targets ahead for discovery and reverse DNS
# (four times as many with --randomize-hosts, never fewer than --min-hostgroup).
PING_GROUP_SIZE = 4096


def host_batch_size(randomize_hosts: bool, min_hostgroup: int) -> int:
    return max(PING_GROUP_SIZE * 4 if randomize_hosts else PING_GROUP_SIZE, min_hostgroup)

# nmap 7.93's -sV loads its "version" scripts (Debian's nmap-common: 45, in two
# runlevels); pynmap runs none but prints the script engine's lines for them.
NSE_VERSION_SCRIPTS = 45
NSE_RUNLEVELS = 2

RAW_OPTIONS_NOTE = (
    "You have specified some options that require raw socket access.\n"
    "These options will not be honored without the necessary privileges."
)


def scan_group_size(hosts_done: int, port_count: int, timing_level: int,
                    min_group: int, max_group: int) -> int:
    """How many up hosts nmap port-scans together (its determineScanGroupSize)."""
    size = max(1024 // (port_count or 1), 64)
    if port_count > 1000 and timing_level <= 4:
        quick = 8 if timing_level == 4 else 4
        if hosts_done == 0:
            size = quick  # the first results come quickly
        elif hosts_done == quick and size > quick * 2:
            size -= quick  # keeps later groups on network boundaries
    return max(min_group, min(max_group, size))


class _Events:
    """What the engine reports while it runs (engine/messages.py), turned into
    nmap's lines (engine/wording.py) on nmap's outputs.  The engine's Events."""

    def __init__(self, session: Session) -> None:
        from pynmap.engine import messages, wording  # the engine loads with the first scan

        self.session = session
        self._lines = wording.lines
        self._heard = wording.heard
        self._host_up = messages.HostUp
        self._phase_done = messages.PhaseDone
        self._cap = messages.RetransmissionCap
        self._channels = wording.Channel

    def handle(self, event: Event, host: HostResult | None) -> None:
        session = self.session
        kind = type(event)
        if kind is self._host_up:
            if session.lan is not None and host is not None:
                # --privileged: its MAC address, which nmap's <hosthint> shows too
                session.lan.annotate(host)
            # nmap writes <hosthint> as each host answers, before reverse DNS, and
            # only when a port scan follows (with -sn the host report comes at once)
            if session.options.port_scan and host is not None:
                session.reporter.hosthint(host)
            return
        if isinstance(event, self._phase_done):
            session.phase_rate = event.probes_sent / event.seconds if event.seconds > 0 else 0.0
            return
        live = session.state
        for channel, text in self._lines(event, live.verbosity, live.debugging):
            if channel is self._channels.INTERACTIVE:
                if kind is self._cap:  # a warning nmap prints even without -v: the API keeps it
                    session.reporter.record_warning(text)
                session.reporter.interactive(text)
            elif channel is self._channels.PLAIN:
                session.reporter.plain(text)
            elif channel is self._channels.STDERR:
                session.warn(text)
            else:
                session.reporter.packet_trace(text)

    def conn_trace(self, host: HostResult, port: int, text: str, elapsed: float) -> None:
        """The Events protocol's hook for CONN events: never called here, handle()
        words them with the rest (the engine is not imported to subclass Events)."""

    def tracing(self) -> bool:
        """Whether CONN lines are wanted now (--packet-trace, -d3, the p/P keys)."""
        return self.session.reporter.spec.traces_packets

    def wants(self, kind: type[Event]) -> bool:
        """HostUp and PhaseDone always (handle() keeps their data); the rest
        only when they have lines at today's -v and -d."""
        if kind is self._host_up or kind is self._phase_done:
            return True
        live = self.session.state
        return self._heard(kind, live.verbosity, live.debugging)

    def tick(self, completion: Callable[[], float]) -> float | None:
        return self.session.tick(completion)


class RemoteScan(Protocol):
    """Where a run's targets are scanned when not by this process (pynmap.cluster's
    driver): called once the headers are written, in place of the target loop.  It
    reports the hosts through `session.reporter`, keeps `session.stats` (total, up)
    and `session.hosts_scanned` up to date, calls `session.tick` for the status
    lines, and raises an NmapError for a scan it could not complete."""

    def scan(self, session: Session, scan_type: str) -> None: ...


class RunState(PlainData):
    """What changes while a scan runs: nmap's v/V, d/D and p/P keys raise and
    lower these.  They start as the options give them; Options stay as parsed."""

    __match_args__ = ("verbosity", "debugging", "packet_trace")
    __slots__ = __match_args__

    def __init__(self, verbosity: int, debugging: int, packet_trace: bool) -> None:
        self.verbosity = verbosity
        self.debugging = debugging
        self.packet_trace = packet_trace


class Session:
    def __init__(self, options: Options, *, stdout: TextIO, stderr: TextIO,
                 sink: ReportSink | None = None, cancel: threading.Event | None = None,
                 split: bool = True,
                 progress: Callable[[Progress], None] | None = None,
                 outputs: Mapping[str, TextIO] | None = None,
                 milestone: Callable[[str], None] | None = None,
                 remote: RemoteScan | None = None) -> None:
        """Run what `options` ask for (read by pynmap.command_line.parse_command_line or
        parse_options); `sink` to receive the Report objects, `cancel` set to stop
        the run (raises Cancelled), `split` False to keep the engine from forking
        (a scan in a worker thread), `progress` to be called with each phase's
        Progress: the API's (pynmap.api).  `outputs`: streams that take the place
        of the output files the options name (OutputSpec field -> stream);
        `milestone("hosts")` is called once the headers (and -d's lines that
        follow them) are written, as the targets are about to be read, and
        `milestone("closing")` before the closing lines (pynmap.api.scan_outputs);
        `remote` scans the targets instead of this process (pynmap.cluster)."""
        self.options = options
        self._outputs = outputs
        self._milestone = milestone
        self._remote = remote
        self.state = RunState(options.verbosity, options.debugging, options.packet_trace)
        self._progress = progress
        self._progress_due = 0.0  # when the next Progress is due during a phase
        self._progress_floor = 0.0  # the phase's last percentage (Progress never goes down)
        self._sink = sink
        self._cancel = cancel
        self._split = split
        # the NmapError the run ended with (run() returns its exit code), and whether
        # it came before the first target was read: from checking the options
        # (the port lists, -e, the exclusions...), an OptionError to the API
        self.error: NmapError | None = None
        self.scanning_targets = False
        self.resume_excludes: targets.Excludes | None = None
        # --resume: targets up to and including this address were done by the earlier
        # run (None once that address has been passed)
        self.resume_after = options.resume_after
        self.phase_rate = 0.0
        self.clock: Clock = SYSTEM  # the engine's, passed down to every phase
        self.hosts_scanned = 0  # nmap's numhosts_scanned
        self.phase: ProgressMeter | None = None  # the scan phase under way
        self.scanning = 0  # hosts in that phase
        self.keyboard: Keyboard | None = None
        self.stats_schedule: StatsSchedule | None = None
        self.stdout = stdout
        self.stderr = stderr
        self.stats = RunStats()
        self.services: services.ServiceDB | None = None
        self.probes: ProbeDB | None = None  # nmap-service-probes, read by the first -sV scan
        self.probes_ahead: ReadAhead | None = None  # the same, read while the port scan runs
        self.xsl_path: str | None = None  # the default stylesheet found, if that is used
        self.lan: LanFacts | None = None  # --privileged: MAC addresses of LAN hosts
        # -b: the FTP relay's address, and its control connection (kept from group to group)
        self.relay_address: str | None = None
        self.bounce_loop: BounceLoop | None = None
        self._bounce_group = 0  # hosts in the group under a bounce scan (nmap's status line)

    # -- helpers -------------------------------------------------------------------------------
    def warn(self, line: str) -> None:
        self.reporter.warning(line)

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> int:
        o = self.options
        shows_probes = o.packet_trace or o.debugging >= 2
        pacing = choose_pacing(os.environ.get(PACING_VAR), shows_probes=shows_probes)
        if not self._split and pacing.split:
            pacing = dataclasses.replace(pacing, split=False)
        o = self.options = o.replace(timing=o.timing.with_(pacing=pacing))
        if o.stylesheet == "default":
            from pynmap.output.stylesheet import find_stylesheet

            self.xsl_path = find_stylesheet(o.datadir)
        self.reporter = Reporter(
            OutputSpec(normal=o.normal_file, grepable=o.grepable_file, xml=o.xml_file,
                       kiddie=o.kiddie_file, append=o.append_output,
                       stylesheet=_stylesheet(o.stylesheet, self.xsl_path), verbosity=o.verbosity,
                       debugging=o.debugging, reason=o.reason, open_only=o.open_only,
                       packet_trace=o.packet_trace, quiet=o.stdout_muted,
                       json=o.json_file, json_lines=o.json_lines_file,
                       service_scan=o.version_scan),
            self._service_name, stdout=self.stdout, stderr=self.stderr, sink=self._sink,
            streams=self._outputs)
        self.reporter.open_files()
        if not o.noninteractive:
            signals.take_interactive()  # nmap's handlers, installed with its terminal set-up
            self.keyboard = Keyboard.open()
        if o.stats_every > 0:
            self.stats_schedule = StatsSchedule.starting(o.start_time, o.stats_every)
        try:
            return self._run_opened()
        except WriteFailed as err:
            self.error = err
            # nmap's counts at that moment: the host being reported is up, not yet scanned
            self.reporter.fatal(err, stats=RunStats(total=self.hosts_scanned, up=self.stats.up))
            return err.exit_code
        except NmapError as err:
            self.error = err
            self.reporter.fatal(err, stats=self._stats_at_fatal())
            return err.exit_code
        except Cancelled:
            # the API's caller stopped it: the run closes as an interrupted one
            now = self.clock.wall()
            stats = self.stats
            stats.down = stats.total - stats.up
            self.reporter.interrupted(now, now - o.start_time, stats=stats, message=CANCELLED)
            raise
        except (KeyboardInterrupt, Interrupted) as stop:
            # Better than nmap, whose XML stops mid-file: every finished host
            # stays, and the XML is closed with the reason it ended.
            signo = stop.signo if isinstance(stop, Interrupted) else signal.SIGINT
            now = self.clock.wall()
            stats = self.stats
            stats.down = stats.total - stats.up
            self.reporter.interrupted(now, now - o.start_time, stats=stats,
                                      message=_INTERRUPTED[signo])
            raise Interrupted(signo) from None
        except Exception as exc:
            # A bug (the CLI prints it in one line): the XML is still closed,
            # with what happened, and the files keep what was written.
            with contextlib.suppress(Exception):
                now = self.clock.wall()
                self.reporter.interrupted(
                    now, now - o.start_time, stats=self.stats,
                    message=f"internal error: {type(exc).__name__}: {exc}")
            raise
        finally:
            if self.bounce_loop is not None:
                self.bounce_loop.close()
                self.bounce_loop = None
            if self.keyboard is not None:
                self.keyboard.close()
            if self.lan is not None:
                self.lan.close()

    def _stats_at_fatal(self) -> RunStats:
        """nmap's counters where a fatal error stops it: hosts found up so far
        and hosts finished (numhosts_scanned: not the group under way), so a
        -Pn host whose port scan fails is "1 host up" of "0 IP addresses"."""
        return RunStats(total=self.hosts_scanned, up=self.stats.up)

    def _service_name(self, port: int) -> str | None:
        return self.services.name(port, "tcp") if self.services is not None else None

    def _run_opened(self) -> int:
        o, rep = self.options, self.reporter
        rep.banner(o.start_time)
        if o.traceroute_requested:
            raise Fatal("Traceroute has to be run as root")
        if o.no_port_scan and (o.port_spec is not None or o.fast):
            raise Fatal("You cannot use -F (fast scan) or -p (explicit port selection) when not "
                        "doing a port scan")
        db = o.services
        if db is None or not db.loaded:
            requested = {services.SERVICES_FILE: o.servicedb} if o.servicedb is not None else {}
            if o.versiondb is not None:  # read only by -sV (pynmap.probes.find_probe_db)
                requested["nmap-service-probes"] = o.versiondb
            files = services.DataFiles(warn=self.warn, datadir=o.datadir, requested=requested,
                                       debugging=o.debugging, plain_log=rep.plain)
            db = services.ServiceDB.lazy(servicedb=o.servicedb, datadir=o.datadir,
                                         warn=self.warn, debugging=o.debugging, files=files)
        self.services = db
        if o.privileged:
            from pynmap.lan import LanFacts
            from pynmap.macs import load_vendors

            files = db.files
            self.lan = LanFacts(lambda: load_vendors(files))
        selected = ports.select_ports(
            spec=o.port_spec, exclude_spec=o.exclude_ports, fast=o.fast,
            top_level=o.top_port_level, services=db, ping_ports=self._ping_ports(),
            port_scan=o.port_scan, warn=self.warn, debugging=o.debugging,
            stdout=rep.interactive)
        scan_ports = selected.tcp if o.port_scan else ()
        self.ping_ports: tuple[int, ...] = tuple(selected.ping or ())
        if o.spoof_mac is not None:
            from pynmap.macs import spoof_mac_line

            rep.plain(spoof_mac_line(o.spoof_mac, db.files))
        # an empty -e names no device, as in nmap (it tests the first byte)
        if o.source_address is not None and not o.device and not _is_local(o.source_address):
            raise Fatal("Could not figure out what device to send the packet out on with the "
                        "source address you gave me!  If you are trying to sp00f your scan, this "
                        "is normal, just give the -e eth0 or -e ppp0 or whatever.  Otherwise you "
                        "can still use -e, but I find it kind of fishy.")
        if o.device and o.device not in {n for _, n in socket.if_nameindex()}:
            raise Fatal(f"I cannot figure out what source address to use for device {o.device}, "
                        "does it even exist?")
        exclude_stream = o.exclude_stream
        if exclude_stream is None and o.exclude_file is not None:
            try:
                exclude_stream = targets.open_word_file(o.exclude_file)
            except OSError as exc:
                raise SystemFatal(f"Failed to open exclude file {o.exclude_file} for reading",
                                  exc.errno or 2) from None
        if o.decoys is not None:
            from pynmap.rawopts import check_decoys

            check_decoys(o.decoys, o.af)
        if o.raw_scan_options:
            self.warn(RAW_OPTIONS_NOTE)
        for what in o.unsupported:
            self.warn(f"Warning: pynmap does not perform {what}; it is ignored.")
        if o.script_scan:
            self.warn("Warning: pynmap does not run NSE scripts (-sC/--script/-A); none were run.")

        scan_type = "list" if o.list_scan else ("ping" if o.no_port_scan else "connect")
        if o.bounce is not None:  # nmap makes sure of its relay before the XML header
            self.relay_address = self._resolve_relay(o.bounce)
        if self.xsl_path is not None and not o.resuming and o.debugging > 1:
            # nmap looks for its stylesheet as it starts the XML, -oX or not
            rep.plain(f"Fetchfile found {self.xsl_path}")
        rep.begin(args=o.args, start=o.start_time, scan_ports=scan_ports if o.port_scan else None,
                  scan_type=scan_type, resuming=o.resuming,
                  scan_kind="connect" if o.bounce is None else "bounce")
        if o.timing.max_parallelism:
            from pynmap.rawopts import descriptor_limit

            limit = descriptor_limit()
            if 0 < limit < o.timing.max_parallelism:
                self.warn(f"WARNING: Your specified max_parallel_sockets of "
                          f"{o.timing.max_parallelism}, but your system says it might only give "
                          f"us {limit}.  Trying anyway")
        if o.debugging > 1:
            rep.interactive(f"The max # of sockets we are using is: {o.timing.max_parallelism}",
                            flush=False)
        if o.debugging:
            for line in _timing_report(o):
                rep.plain(line)
        if self._version_scripts():
            from pynmap.engine.messages import NseLoaded

            _Events(self).handle(NseLoaded(NSE_VERSION_SCRIPTS), None)
        if self._milestone is not None:  # the headers, and the lines a scan begins with
            self._milestone("hosts")
        if self._remote is not None:
            if exclude_stream is not None:
                exclude_stream.close()  # opened for nmap's check; the workers read the words
            self.scanning_targets = True
            self._remote.scan(self, scan_type)
            return self._finish(scan_type)
        order = ports.scan_order(scan_ports, randomize=o.randomize_ports, rng=random.Random())

        excludes = None
        if exclude_stream is not None or o.exclude_spec is not None:
            # each word is added (and a name resolved) as it is read, as nmap does: a
            # bad word is reported before anything wrong further down the file
            def exclude_words() -> Iterator[str]:
                if exclude_stream is not None:
                    with exclude_stream:
                        yield from targets.read_target_words(exclude_stream, exclude_file=True)
                if o.exclude_spec is not None:
                    yield from targets.split_exclude_spec(o.exclude_spec)

            words_read = 0

            def counted(words: Iterator[str]) -> Iterator[str]:
                nonlocal words_read
                for word in words:
                    words_read += 1
                    yield word

            excludes = targets.parse_excludes(counted(exclude_words()),
                                              ipv6=o.af == socket.AF_INET6,
                                              resolve=targets.system_resolver, warn=self.warn,
                                              debugging=o.debugging)
            if not words_read:
                excludes = None

        self.resolver = dns.ReverseResolver(system=o.system_dns, dns_servers=o.dns_servers,
                                            warn=self.warn, reporter=rep,
                                            verbosity=o.verbosity, debugging=o.debugging,
                                            source=o.source_address, device=o.device)
        self.group_times = Times()  # the ping scan's timing carries over between groups
        if o.input_stream is not None:
            words: Iterator[str] = targets.read_target_words(o.input_stream)
        else:
            words = iter(o.targets)
        if self.resume_after is not None:
            # nmap looks for the resume address before it applies the exclusions, so an
            # excluded last host still marks the spot: exclude by hand while resuming
            self.resume_excludes, excludes = excludes, None
        expanded = targets.expand_targets(words, ipv6=o.af == socket.AF_INET6, excludes=excludes,
                                          resolve=targets.system_resolver, warn=self.warn,
                                          verbosity=o.verbosity, debugging=o.debugging,
                                          resolve_all=o.resolve_all, unique=o.unique,
                                          shard=o.shard)
        self.scanning_targets = True
        if scan_type == "connect" and o.version_scan and self.probes is None:
            from pynmap.probes import ReadAhead

            self.probes_ahead = ReadAhead(db.files)
        self._scan_all(expanded, scan_type, order)
        return self._finish(scan_type)

    def _ping_ports(self) -> tuple[int, ...] | None:
        """The connect-ping ports: -PS and -PA lists merged (unprivileged, both are connects)."""
        o = self.options
        if o.ping_none or not o.ping_connect:
            return None
        chosen = set(o.syn_ping_ports or ()) | set(o.ack_ping_ports or ())
        if not chosen:
            chosen = {80} if o.ping_icmp else {80, 443}
        return tuple(sorted(chosen))

    # -- targets, host groups, reports ------------------------------------------------------
    def _next_batch(self, items: Iterator[targets.Target | targets.Skipped]) -> list[HostResult]:
        """Up to a host batch of hosts; skipped words are reported on the way, in order."""
        batch: list[HostResult] = []
        o = self.options
        size = host_batch_size(o.randomize_hosts, o.timing.min_hostgroup)
        taken = 0  # a skipped word takes no place in the batch (nmap's next_target skips it)
        for item in items:
            if isinstance(item, targets.Skipped):
                for message in item.messages:
                    self.warn(message)
                if item.invalid:
                    self.reporter.skipped_target(item.spec)
                continue
            taken += 1
            if self.resume_after is not None:
                if item.address == self.resume_after:
                    self.resume_after = None
            elif self.resume_excludes is None or item.address not in self.resume_excludes:
                batch.append(HostResult(address=item.address, family=item.family,
                                        user_name=item.user_name,
                                        other_addresses=item.other_addresses,
                                        scope_id=item.scope_id))
            if taken == size:
                break
        return batch

    def _refresh(self, stream: targets.TargetStream, scan_type: str) -> list[HostResult]:
        """nmap's host-batch refresh: the next targets, discovered and named.

        Once the words have run out nmap still asks its target list again at
        every refresh, and a trailing name that did not resolve is looked up
        (and reported) once more each time; `requery()` reproduces that.
        """
        if stream.exhausted:
            batch = self._next_batch(stream.requery())
        else:
            items = iter(stream)
            batch = self._next_batch(items)
            # --resume may have passed over a whole batch: go on until a target or the end
            while not batch and not stream.exhausted:
                batch = self._next_batch(items)
        if not batch:
            return batch
        self.stats.total += len(batch)
        o = self.options
        if o.randomize_hosts:  # nmap shuffles each batch once it is filled, before pinging it
            random.shuffle(batch)
        if scan_type == "list":
            for host in batch:
                host.status, host.reason = "unknown", "user-set"
            self._reverse_dns(batch)
        else:
            self._discover(batch)
            self._reverse_dns([h for h in batch if h.status == "up" or o.always_resolve])
        return batch

    def _scan_all(self, stream: targets.TargetStream, scan_type: str,
                  order: Sequence[int]) -> None:
        if scan_type == "connect":
            self._connect_scan_all(stream, order)
            return
        # List and ping scans report each host as it comes; whole batches keep it fast.
        while batch := self._refresh(stream, scan_type):
            self.check_cancel()
            for host in batch:
                if host.status == "up":
                    self.stats.up += 1
                self.reporter.host(host, scan_type=scan_type)
                self.hosts_scanned += 1

    def _connect_scan_all(self, stream: targets.TargetStream, order: Sequence[int]) -> None:
        """nmap's main loop: fill a scan group host by host, scan it, report it, repeat."""
        o = self.options
        batch: list[HostResult] = []
        position = 0
        while True:
            size = scan_group_size(self.hosts_scanned, len(order), o.timing.level,
                                   o.timing.min_hostgroup, o.timing.max_hostgroup)
            group: list[HostResult] = []
            while len(group) < size:
                if position >= len(batch):
                    batch, position = self._refresh(stream, "connect"), 0
                    if not batch:
                        break
                host = batch[position]
                position += 1
                if host.status != "up":
                    self.reporter.host(host, scan_type="connect")
                    self.hosts_scanned += 1
                    continue
                self.stats.up += 1
                group.append(host)
            if not group:
                return
            self.check_cancel()
            self._port_scan_group(group, order)
            self.reporter.group_end()
            self.hosts_scanned += len(group)

    def _discover(self, batch: list[HostResult]) -> None:
        o = self.options
        from pynmap.engine.scan import assume_up, discover

        if o.ping_none:
            assume_up(batch, o.timing)
            return
        task = "Ping Scan"
        self._phase_begins(task, len(batch))
        echo = o.ping_echo
        if self.state.verbosity:
            probes = len(self.ping_ports) + echo  # nmap counts its echo request too
            self.reporter.interactive(f"Scanning {_scanning_label(batch, probes)}", flush=False)
        discover(batch, self.ping_ports, self._scan_timing(), _Events(self), t0=o.start_time,
                 setup=self._socket_setup(), backend=self._proxy_backend(),
                 group_times=self.group_times, clock=self.clock, echo=echo)
        self._phase_ends()
        self.reporter.task_end(task, self.clock.wall(), f"{len(batch)} total hosts")
        self._log_rate()

    def _reverse_dns(self, hosts: list[HostResult]) -> None:
        """Names for the batch's hosts; the resolver prints nmap's DNS task lines itself."""
        if self.options.no_resolve:
            return
        found = self.resolver.lookup(h.address for h in hosts)
        for host in hosts:
            host.ptr_name = found.names.get(host.address)

    # -- runtime interaction -------------------------------------------------------------------
    def _phase_begins(self, task: str, hosts: int) -> None:
        now = self.clock.wall()
        self.reporter.task_begin(task, now)
        self.phase = ProgressMeter(task, now)
        self.scanning = hosts
        if self._progress is not None:
            self._progress_floor = 0.0
            self._progress_due = now + PROGRESS_EVERY
            self._report_progress(0.0, now)

    def _phase_ends(self) -> None:
        """The phase under way is over: its last Progress (100%)."""
        if self._progress is not None and self.phase is not None:
            self._report_progress(1.0, self.clock.wall())
        self.phase = None

    def _report_progress(self, fraction: float, now: float) -> None:
        from pynmap.apiprogress import progress_of

        assert self._progress is not None and self.phase is not None
        p = progress_of(self.phase.task, fraction, self.phase.begun, now,
                        floor=self._progress_floor, elapsed=now - self.options.start_time,
                        completed=self.hosts_scanned, up=self.stats.up, scanning=self.scanning)
        self._progress_floor = p.percent
        self._progress(p)

    def tick(self, completion: Callable[[], float]) -> float | None:
        """Between two rounds of the I/O loop: key presses, --stats-every, -v estimates."""
        self.check_cancel()
        phase, o, state = self.phase, self.options, self.state
        if phase is None:
            return None
        now = self.clock.wall()
        status = False
        if self.keyboard is not None:
            key = self.keyboard.read_key()
            if key is not None:
                status = self._key_pressed(key)
        if self.stats_schedule is not None and self.stats_schedule.due(now):
            status = True
        fraction: float | None = None  # completion(), asked at most once a round
        if status:
            self.reporter.interactive(status_line(now - o.start_time, self.hosts_scanned,
                                                  self.stats.up, self.scanning, phase.task))
            fraction = completion()
            self.reporter.task_progress(phase.task, now, *phase.report(fraction, now))
        elif state.verbosity and phase.automatic_due(completion, now, debugging=state.debugging):
            fraction = completion()
            self.reporter.task_progress(phase.task, now, *phase.report(fraction, now))
        waits = [KEY_POLL] if self.keyboard is not None or self._cancel is not None else []
        if self.stats_schedule is not None:
            waits.append(max(0.0, self.stats_schedule.next_due - now))
        if self._progress is not None:
            # the API's Progress: each second, and with the numbers of every status line
            if fraction is not None or now >= self._progress_due:
                self._progress_due = now + PROGRESS_EVERY
                self._report_progress(completion() if fraction is None else fraction, now)
            waits.append(max(0.0, self._progress_due - now))
        return min(waits) if waits else None

    def check_cancel(self) -> None:
        """Raise Cancelled once the API's caller has asked the run to stop."""
        if self._cancel is not None and self._cancel.is_set():
            raise Cancelled

    def _key_pressed(self, key: str) -> bool:
        """nmap's keys; True when the key asks for the status lines."""
        state, rep = self.state, self.reporter
        if key in "vV":
            state.verbosity = (min(state.verbosity + 1, 10) if key == "v"
                               else max(state.verbosity - 1, 0))
            rep.adjust(verbosity=state.verbosity)
            rep.interactive(f"Verbosity {'Increased' if key == 'v' else 'Decreased'} "
                            f"to {state.verbosity}.")
        elif key in "dD":
            state.debugging = (min(state.debugging + 1, 10) if key == "d"
                               else max(state.debugging - 1, 0))
            rep.adjust(debugging=state.debugging)
            rep.interactive(f"Debugging {'Increased' if key == 'd' else 'Decreased'} "
                            f"to {state.debugging}.")
        elif key in "pP":
            state.packet_trace = key == "p"
            rep.adjust(packet_trace=state.packet_trace)
            rep.interactive(f"Packet Tracing {'enabled' if key == 'p' else 'disabled'}.")
        elif key == "?":
            for line in KEY_HELP:
                rep.interactive(line)
        else:
            return True
        return False

    # --proxies (engine/proxy.py): every connection of every phase goes through the chain
    def _scan_timing(self) -> Timing:
        """The port scan's and discovery's timing: through proxies, fewer connections
        in flight at once unless --max-parallelism says how many."""
        o = self.options
        if not o.proxies or o.timing.max_parallelism:
            return o.timing
        from pynmap.engine.proxy import PROXY_PARALLELISM

        return o.timing.with_(max_parallelism=max(PROXY_PARALLELISM, o.timing.min_parallelism))

    def _proxy_streams(self) -> ProxyStreams | None:
        o = self.options
        if not o.proxies:
            return None
        from pynmap.engine.proxy import GIVE_UP, ProxyStreams, check_chain
        from pynmap.engine.streams import EpollStreams

        check_chain(o.proxies, o.af)
        window = self._scan_timing().max_parallelism
        return ProxyStreams(EpollStreams(o.source_address, o.device), o.proxies, self.clock,
                            give_up=max(GIVE_UP, 2 * window))

    def _proxy_backend(self) -> Backend | None:
        streams = self._proxy_streams()
        if streams is None:
            return None
        from pynmap.engine.proxy import ProxyBackend

        return ProxyBackend(streams)

    def _socket_setup(self) -> SocketSetup:
        from pynmap.engine.scan import SocketSetup

        o = self.options
        return SocketSetup(source=o.source_address, device=o.device, ttl=o.ttl)

    def _log_rate(self) -> None:
        """-d: the phase's probes per second, on stdout only (nmap's LOG_STDOUT)."""
        if self.state.debugging:
            self.reporter.interactive(f"Overall sending rates: {self.phase_rate:.2f} packets / s.",
                                     flush=False)

    def _port_scan_group(self, group: list[HostResult], order: Sequence[int]) -> None:
        o = self.options
        from pynmap.engine.scan import connect_scan

        if order and o.bounce is not None:
            self._bounce_scan_group(group, order)
        elif order:
            self._phase_begins("Connect Scan", len(group))
            if self.state.verbosity:
                self.reporter.interactive(f"Scanning {_scanning_label(group, len(order))}",
                                         flush=False)
            connect_scan(group, order, self._scan_timing(), _Events(self), t0=o.start_time,
                         setup=self._socket_setup(), clock=self.clock,
                         backend=self._proxy_backend())
            self._phase_ends()
            self.reporter.task_end("Connect Scan", self.clock.wall(),
                                   f"{len(order) * len(group)} total ports")
            self._log_rate()
            if o.version_scan:
                self._service_scan_group(group)
        for host in group:
            self.reporter.host(host, scan_type="connect")

    # -- the FTP bounce scan (-b) ----------------------------------------------------------
    def _resolve_relay(self, relay: Relay) -> str:
        """The relay's IPv4 address (nmap's resolve(): getaddrinfo, names too)."""
        try:
            found = socket.getaddrinfo(os.fsencode(relay.server), None, socket.AF_INET,
                                       socket.SOCK_DGRAM)
        except (socket.gaierror, UnicodeError, ValueError):
            found = []
        if not found:
            raise Fatal(f"Failed to resolve FTP bounce proxy hostname/IP: {relay.server}")
        address = str(found[0][4][0])
        if self.options.verbosity:
            self.reporter.interactive(f"Resolved FTP bounce attack proxy to {relay.server} "
                                      f"({address}).")
        return address

    def _bounce_scan_group(self, group: list[HostResult], order: Sequence[int]) -> None:
        """nmap's bounce scan of a host group: one target after the other through
        the relay (pynmap.engine.bounce), then -sV as after a connect scan."""
        from pynmap.engine.bounce import BounceScan
        from pynmap.engine.bounceloop import BounceLoop, fill_ports

        o = self.options
        assert o.bounce is not None and self.relay_address is not None
        loop = self.bounce_loop
        if loop is None:
            scan = BounceScan(o.bounce, emit=self._bounce_event)
            # through --proxies' chain when there is one, as every other connection
            loop = self.bounce_loop = BounceLoop(
                scan, (self.relay_address, o.bounce.port), clock=self.clock,
                streams=self._proxy_streams(), tick=lambda: self.tick(scan.completion))
        self._bounce_group = len(group)
        for index, host in enumerate(group):
            self.check_cancel()
            states = loop.scan_target(index, host.address, order)
            fill_ports(host, order, states)
        if o.version_scan:
            self._service_scan_group(group)

    def _bounce_event(self, event: Event | Note) -> None:
        """What the bounce scan reports: its Initiating/Completed lines, nmap's
        lines about the relay, and the ports' states (engine PortState)."""
        from pynmap.engine.bounce import TASK, Note, Say, lines

        if not isinstance(event, Note):
            _Events(self).handle(event, None)
            return
        rep = self.reporter
        if event.kind == "task-begin":
            self._phase_begins(TASK, self._bounce_group)
            return
        if event.kind == "task-end":
            self._phase_ends()
            rep.task_end(TASK, self.clock.wall(), event.text)
            return
        for where, text in lines(event, self.state.verbosity, self.state.debugging):
            if where is Say.STDOUT:
                rep.stdout_text(text)
            elif where is Say.PLAIN:
                rep.plain(text)
            elif where is Say.ERROR:
                self.warn(text)
            else:
                rep.perror(text)

    def _version_scripts(self) -> bool:
        """-sV without scripts: nmap runs its version scripts (NSE), which pynmap
        does not; it prints the script engine's lines for them."""
        o = self.options
        return o.version_scan and not o.script_scan and o.port_scan and not o.no_port_scan

    def _service_scan_group(self, group: list[HostResult]) -> None:
        """-sV on the group's open ports (pynmap.engine.service), with nmap's task lines."""
        from pynmap.engine.messages import NseRunlevel, NseScanning
        from pynmap.engine.serviceloop import service_scan
        from pynmap.probes import find_probe_db

        o = self.options
        if self.probes is None:
            assert self.services is not None
            self.probes = find_probe_db(self.services.files, self.probes_ahead)
            self.probes_ahead = None
        task = "Service scan"
        self._phase_begins(task, len(group))
        events = _Events(self)
        done = service_scan(group, self.probes, o.timing, names=self._service_name,
                            intensity=o.version_intensity, allports=o.all_ports,
                            trace=o.version_trace or self.state.debugging > 1, events=events,
                            clock=self.clock, source=o.source_address, device=o.device,
                            streams=self._proxy_streams())
        self._phase_ends()
        if done is not None:
            finished, timed_out = done
            if timed_out:
                extra = f"{timed_out} {'host' if timed_out == 1 else 'hosts'} timed out"
            else:
                extra = (f"{finished} {'service' if finished == 1 else 'services'} on "
                         f"{len(group)} {'host' if len(group) == 1 else 'hosts'}")
            self.reporter.task_end(task, self.clock.wall(), extra)
        if self._version_scripts():
            live = [h for h in group if not h.timed_out]
            if live:
                events.handle(NseScanning(live[0].address if len(live) == 1
                                          else f"{len(live)} hosts"), None)
                for level in range(1, NSE_RUNLEVELS + 1):
                    events.handle(NseRunlevel(level, NSE_RUNLEVELS), None)
                    now = self.clock.wall()
                    self.reporter.task_begin("NSE", now)
                    self.reporter.task_end("NSE", now)

    def _finish(self, scan_type: str) -> int:
        o = self.options
        if self._milestone is not None:
            self._milestone("closing")
        stats = self.stats
        stats.down = stats.total - stats.up
        loaded = self.services.files.loaded if self.services is not None else {}
        lines = services.describe_loaded_files(loaded, verbose=self.state.verbosity,
                                               debugging=self.state.debugging)
        end = self.clock.wall()
        self.reporter.finish(stats=stats, end=end, elapsed=end - o.start_time,
                             pre_done_lines=lines, ping_disabled=o.ping_none)
        return 0


def _is_local(address: str) -> bool:
    """Is `address` (-S) configured on one of this machine's interfaces?"""
    from pynmap.interfaces import interface_addresses

    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    try:
        canonical = socket.inet_ntop(family, socket.inet_pton(family, address))
    except (OSError, ValueError):
        return False  # a name: nmap resolves it first; pynmap takes addresses only
    return canonical in interface_addresses()


def _scanning_label(hosts: list[HostResult], port_count: int) -> str:
    unit = "port" if port_count == 1 else "ports"
    if len(hosts) == 1:
        host = hosts[0]
        name = host.user_name or host.ptr_name
        label = f"{name} ({host.address})" if name else host.address
        return f"{label} [{port_count} {unit}]"
    return f"{len(hosts)} hosts [{port_count} {unit}/host]"


def _stylesheet(value: str | None, found: str | None) -> str | None:
    """The XML stylesheet href: the option's value, or the default nmap.xsl `found`."""
    if value != "default":
        return value
    from pynmap.output.stylesheet import filename_to_url

    return "nmap.xsl" if found is None else filename_to_url(found)


def _timing_report(o: Options) -> list[str]:
    t = o.timing
    return [
        "--------------- Timing report ---------------",
        f"  hostgroups: min {t.min_hostgroup}, max {t.max_hostgroup}",
        f"  rtt-timeouts: init {t.initial_rtt_timeout}, min {t.min_rtt_timeout}, "
        f"max {t.max_rtt_timeout}",
        f"  max-scan-delay: TCP {t.max_scan_delay}, UDP {t.max_udp_scan_delay}, "
        f"SCTP {t.max_scan_delay}",
        f"  parallelism: min {t.min_parallelism}, max {t.max_parallelism}",
        f"  max-retries: {t.max_retries}, host-timeout: {t.host_timeout}",
        f"  min-rate: {t.min_rate:g}, max-rate: {t.max_rate:g}",
        "---------------------------------------------",
    ]
