"""The client's side of a cluster run: `pynmap --cluster ... ARGS`.

`run_cluster` is what the command line runs when --cluster is given:

1. Dask importable, or one line naming the pip command (exit 1);
2. the warning for a tcp:// scheduler off loopback (once, on stderr);
3. the cluster: `local:N` starts a LocalCluster (TLS with a key made for the
   run); `tls://`/`tcp://` connect to a scheduler (a plain TCP connection
   first, so an unreachable one fails at once with the system's reason);
   every worker must have this pynmap version;
4. a Session of the user's options, as a plain run has, which opens the
   output files, prints the banner and writes the headers, and then hands
   the targets to `ClusterScan` instead of scanning them;
5. the cluster is closed whatever happened (a LocalCluster's workers end).

`ClusterScan` submits one task per shard (pynmap.cluster.worker.run_shard)
and writes each shard's host reports, rendered by the worker, to this run's
outputs as the shard finishes (in the order shards finish, each in its own
scan order); the totals, closing lines and XML runstats are this run's.
While they run it keeps the status lines (--stats-every, a key, -v's
estimates) fed with the shards' latest progress events.

Faults: Dask runs a task again when its worker dies (a LocalCluster's nanny
starts a new worker process), and a shard's task is idempotent, so a killed
worker costs time, not results.  A shard that fails for good (its task
raised twice, or Dask gave up on it with KilledWorker after its workers died
three times, or a worker with another pynmap) is named on stderr and in -oN
as it fails; the run goes on with the other shards, then ends as a fatal
error: the XML's <finished exit="error" errormsg="..."> names the shards
lost, and the exit status is 1.  Ctrl-C (or SIGTERM...) cancels the tasks,
closes the outputs with what was merged so far (the XML with exit="error"),
closes the cluster, and pynmap dies of the signal as a plain run does.
"""

from __future__ import annotations

import collections
import contextlib
import importlib.util
import json
import queue
import secrets
from typing import TYPE_CHECKING, Any, TextIO

import pynmap
from pynmap.cluster.spec import ShardSpec, shard_count, shard_rates, worker_args
from pynmap.cluster.where import ClusterOptions, warning_for
from pynmap.errors import Fatal, PlainExit
from pynmap.progress import ProgressMeter

if TYPE_CHECKING:
    from pynmap.cluster.dasklink import Connection, Task
    from pynmap.cluster.worker import ShardResult
    from pynmap.options import Options
    from pynmap.report import Host
    from pynmap.session import Session

NO_DASK = ("pynmap: --cluster needs Dask's distributed scheduler, which is not installed: "
           "pip install 'pynmap[cluster]'\n")
# Dask runs a task that raised once more (on any worker) before the shard counts as failed.
RETRIES = 1
TICK = 0.2  # seconds between two looks at the keyboard and the status schedule


def dask_missing() -> bool:
    try:
        return (importlib.util.find_spec("distributed") is None
                or importlib.util.find_spec("dask") is None)
    except ImportError:
        return True


def run_cluster(options: Options, stdout: TextIO, stderr: TextIO) -> int:
    """Run `options` (with --cluster) on the cluster; the exit status (see the module
    docstring).  NmapErrors are raised for the caller to print, as run_cli does."""
    from pynmap.session import Session

    cluster = options.cluster
    assert cluster is not None
    if dask_missing():
        raise PlainExit(NO_DASK, 1)
    if options.resuming:
        raise Fatal("--resume cannot resume a --cluster scan")
    warning = warning_for(cluster.where)
    if warning is not None:
        stdout.flush()
        stderr.write(warning + "\n")
        stderr.flush()
    connection = _connect(cluster, options.debugging)
    try:
        if cluster.where.kind != "local":  # a local worker is a fork of this installation
            _check_versions(connection)
        return Session(options, stdout=stdout, stderr=stderr,
                       remote=ClusterScan(connection, cluster)).run()
    finally:
        connection.close()


def _connect(cluster: ClusterOptions, debugging: int) -> Connection:
    where = cluster.where
    if where.kind == "local":
        from pynmap.cluster.workersetup import start_forkserver

        start_forkserver()  # before this process imports Dask: both import at once
    from pynmap.cluster import dasklink
    from pynmap.cluster.tls import ephemeral_pems, file_pems

    pems = None
    if cluster.ca is not None:
        pems = file_pems(cluster.ca, cluster.cert, cluster.key)
    if where.kind == "local":
        return dasklink.start_local(where.workers, pems or ephemeral_pems(),
                                    debugging=debugging)
    return dasklink.connect(where.address, where.host, where.port, pems,
                            tls=where.kind == "tls", debugging=debugging)


def _check_versions(connection: Connection) -> None:
    """Every worker runs this pynmap, or the run stops before it scans."""
    for worker, version in sorted(connection.worker_versions().items()):
        if isinstance(version, BaseException):
            raise Fatal(f"The Dask worker {worker} cannot run pynmap "
                        f"({type(version).__name__}: {version}): install pynmap "
                        f"{pynmap.__version__} on every worker")
        if version != pynmap.__version__:
            raise Fatal(f"The Dask worker {worker} has pynmap {version}, this client "
                        f"{pynmap.__version__}: install pynmap {pynmap.__version__} on every "
                        "worker")


def _formats(o: Options) -> tuple[str, ...]:
    """The renderings the client needs from each shard."""
    wanted = []
    if not o.stdout_muted:
        wanted.append("stdout")
    if o.normal_file is not None or o.kiddie_file is not None:
        wanted.append("normal")
    if o.grepable_file is not None:
        wanted.append("grepable")
    if o.xml_file is not None:
        wanted.append("xml")
    if o.json_file is not None or o.json_lines_file is not None:
        wanted.append("json_lines")
    return tuple(wanted)


def _read_words(o: Options) -> tuple[str | None, str | None]:
    """-iL's and --excludefile's text, read here: a worker need not have the files."""
    from pynmap import targets

    inputs = excludes = None
    if o.input_stream is not None:
        with o.input_stream:
            inputs = o.input_stream.read()
    if o.exclude_file is not None:
        try:
            with targets.open_word_file(o.exclude_file) as f:
                excludes = f.read()
        except OSError as exc:  # the session opened it a moment ago: nmap's message
            from pynmap.errors import SystemFatal

            raise SystemFatal(f"Failed to open exclude file {o.exclude_file} for reading",
                              exc.errno or 2) from None
    return inputs, excludes


def _failure_text(error: BaseException) -> str:
    name = type(error).__name__
    if name == "KilledWorker":
        return "its workers died while scanning it, too many times (Dask's KilledWorker)"
    if name == "CancelledError":
        return "its task was cancelled"
    text = getattr(error, "message", None) or str(error)
    return f"{name}: {text}" if text else name


class ClusterScan:
    """The Session's RemoteScan for a cluster run (see the module docstring)."""

    def __init__(self, connection: Connection, cluster: ClusterOptions) -> None:
        self._connection = connection
        self._cluster = cluster
        self._done: queue.SimpleQueue[Task] = queue.SimpleQueue()
        self._latest: dict[int, dict[str, Any]] = {}  # shard -> its last progress event
        self._finished: set[int] = set()
        # what the run has said once: warning lines, XML <target> lines, ("json", word)
        self._warned: set[object] = set()

    def scan(self, session: Session, scan_type: str) -> None:
        o = session.options
        threads = max(1, self._connection.threads())
        count = shard_count(threads, self._cluster.shards)
        seed = self._cluster.seed
        run = secrets.token_hex(8)
        inputs, excludes = _read_words(o)
        extra = ["--noninteractive", "--seed", str(seed),
                 *shard_rates(o.timing.min_rate, o.timing.max_rate, count, threads)]
        formats = _formats(o)
        specs = [ShardSpec(run, i, count, seed,
                           tuple(worker_args(o.given_args or o.args,
                                             ["--shard", f"{i}/{count}", *extra])),
                           formats, pynmap.__version__, inputs, excludes)
                 for i in range(count)]
        if o.verbosity or o.debugging:
            session.reporter.interactive(
                f"Cluster: {count} shards (seed {seed}) on {threads} worker threads "
                f"of {self._connection.scheduler}")
        self._connection.subscribe(specs[0].topic, self._progress)
        tasks = [self._connection.submit(spec, retries=RETRIES) for spec in specs]
        for task in tasks:
            task.when_done(self._done.put)
        done_total = done_up = 0
        sizes: list[int] = []  # the finished shards' host counts
        failed: list[str] = []
        session.phase = ProgressMeter("Connect Scan" if scan_type == "connect" else
                                      "Ping Scan", o.start_time)
        try:
            while len(self._finished) < count:
                try:
                    task = self._done.get(timeout=TICK)
                except queue.Empty:
                    self._status(session, count, sizes)
                    continue
                outcome = task.outcome()
                self._finished.add(task.spec.index)
                session.hosts_scanned, session.stats.up = done_total, done_up
                if isinstance(outcome, BaseException):
                    reason = _failure_text(outcome)
                    failed.append(f"{task.spec.name}: {reason}")
                    session.warn(f"WARNING: {task.spec.name} failed: {reason}")
                    continue
                self._write(session, outcome)
                done_total += outcome.outputs.total
                done_up += outcome.outputs.up
                sizes.append(outcome.outputs.total)
                session.stats.total = done_total
                session.hosts_scanned, session.stats.up = done_total, done_up
        finally:
            # what the run's closing lines and XML count: the shards merged, no more
            session.hosts_scanned, session.stats.up = done_total, done_up
            session.stats.total = done_total
            session.phase = None
            if len(self._finished) < count:  # stopped early (a signal): nothing goes on
                with contextlib.suppress(Exception):
                    self._connection.cancel(tasks)
        if failed:
            raise Fatal(f"{len(failed)} of {count} shards failed (their hosts are not in this "
                        f"report): {'; '.join(failed)}")

    def _write(self, session: Session, result: ShardResult) -> None:
        """A finished shard's host reports, to every output of this run.  Every
        shard expands every target word, so what a word makes a run say (a name
        that does not resolve, a <target> that cannot be split) comes from each
        shard: it is said once, as the first shard to finish says it."""
        out = result.outputs
        said = set(out.scan_warnings)
        for line in out.scan_warnings:
            if line not in self._warned:
                self._warned.add(line)
                session.warn(line)  # stderr and -oN, as the shard wrote it
        texts = {f: out.hosts(f) for f in out.texts}
        if said and "normal" in texts:  # the shard's copies of those lines
            texts["normal"] = "".join(line for line in texts["normal"].splitlines(keepends=True)
                                      if line.rstrip("\n") not in said)
        if "<target " in texts.get("xml", ""):
            kept = []
            for line in texts["xml"].splitlines(keepends=True):
                if line.startswith("<target "):
                    if line in self._warned:
                        continue
                    self._warned.add(line)
                kept.append(line)
            texts["xml"] = "".join(kept)
        hosts: list[Host] = []
        skipped: list[str] = []
        if "json_lines" in texts:
            from pynmap.report import Host

            hosts = [Host.from_dict(json.loads(line)) for line in texts["json_lines"].splitlines()
                     if line.strip()]
            # the shard's summary line, after its hosts, lists the words it skipped
            summary = json.loads(out.texts["json_lines"].rstrip("\n").rpartition("\n")[2])
            for target in summary.get("targets", ()):
                spec = str(target.get("specification"))
                if ("json", spec) not in self._warned:
                    self._warned.add(("json", spec))
                    skipped.append(spec)
        session.reporter.rendered_hosts(console=texts.get("stdout", ""),
                                        normal=texts.get("normal", ""),
                                        grepable=texts.get("grepable", ""),
                                        xml=texts.get("xml", ""), hosts=hosts, skipped=skipped)

    # -- progress ---------------------------------------------------------------------------
    def _progress(self, message: dict[str, Any]) -> None:
        """A shard's progress event (called in Dask's client thread)."""
        shard = message.get("shard")
        if isinstance(shard, int) and shard not in self._finished:
            self._latest[shard] = message

    def _status(self, session: Session, count: int, sizes: list[int]) -> None:
        """The status lines, with the shards' numbers summed: hosts completed and
        up, and hosts in the phase of the running shards.  The percentage is of
        the whole scan once a shard has finished: shards cut by a hash are alike
        in size, so each running shard counts as its hosts completed over the
        finished shards' mean size; before that it is the mean of the running
        shards' own phases (their current host groups, as nmap's is)."""
        phase = session.phase
        if phase is None:
            return
        done_total, done_up = session.hosts_scanned, session.stats.up
        running = [m for s, m in list(self._latest.items()) if s not in self._finished]
        tasks = collections.Counter(str(m.get("task", "")) for m in running)
        if tasks:
            phase.task = tasks.most_common(1)[0][0]
        session.hosts_scanned = done_total + sum(int(m.get("completed", 0)) for m in running)
        session.stats.up = done_up + sum(int(m.get("up", 0)) for m in running)
        session.scanning = sum(int(m.get("in_task", 0)) for m in running)
        if sizes:
            size = max(1.0, sum(sizes) / len(sizes))
            share = (len(sizes) + sum(min(0.99, int(m.get("completed", 0)) / size)
                                      for m in running)) / count
        else:
            share = (sum(float(m.get("percent", 0.0)) for m in running)
                     / (100.0 * max(1, len(running))))
        try:
            session.tick(lambda: share)
        finally:
            session.hosts_scanned, session.stats.up = done_total, done_up
