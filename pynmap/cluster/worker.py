"""A worker's side of a cluster run: `run_shard(spec)`, one shard scanned.

The task Dask runs is `run_shard`: it checks that this worker's pynmap is
the client's, runs the spec's command line through the public API
(`pynmap.api.scan_outputs`: the same Session as the command line, its
outputs rendered into strings, nothing written to any file), and returns
those texts.  It is idempotent: the spec is the whole input, the result is
the whole output, and nothing else is left behind, so Dask may run it again
elsewhere when a worker dies, or twice.

While it runs, its progress (the counts and percentage of nmap's status
lines) goes to the client as Dask events on the run's topic, at most
PROGRESS_EVERY seconds apart: `Worker.log_event` rides the worker's
existing batched stream to the scheduler, which pushes it to the one client
subscribed (`Client.subscribe_topic`); nothing is polled and nothing is
stored but the scheduler's bounded event log.  A Dask Queue or Variable
would need a scheduler round trip per update, and a pub/sub channel needs a
connection from every worker to the client.  The same check, once a
second, stops the scan when its task is no longer wanted (the client
cancelled it, or went away).

Without a Dask worker around (a test calling it directly), the scan runs
the same and reports no progress.
"""

from __future__ import annotations

import contextlib
import io
import threading
import time
from typing import TYPE_CHECKING, Any

import pynmap
from pynmap.cluster.spec import ShardSpec
from pynmap.plain import FrozenData

if TYPE_CHECKING:
    from pynmap.api import Outputs
    from pynmap.apiprogress import Progress

PROGRESS_EVERY = 0.5  # seconds between two progress events of a shard


class VersionMismatch(Exception):
    """This worker's pynmap is not the client's: its scan could differ."""

    def __init__(self, worker: str, mine: str, wanted: str) -> None:
        super().__init__(worker, mine, wanted)
        self.worker = worker
        self.mine = mine
        self.wanted = wanted

    def __str__(self) -> str:
        return (f"the worker {self.worker} has pynmap {self.mine}, the client {self.wanted}: "
                f"install pynmap {self.wanted} on every worker")


class ShardResult(FrozenData):
    """What a shard's task returns: its outputs (pynmap.api.Outputs: each asked-for
    format's text, where its host reports are, warnings, counts), and which worker
    ran it."""

    __match_args__ = ("index", "outputs", "worker")
    __slots__ = __match_args__

    def __init__(self, index: int, outputs: Outputs, worker: str) -> None:
        self.index = index
        self.outputs = outputs
        self.worker = worker


def worker_version() -> str:
    """This worker's pynmap version (the client asks every worker before it submits)."""
    return pynmap.__version__


def run_shard(spec: ShardSpec) -> ShardResult:
    """Scan one shard (see the module docstring)."""
    from pynmap.api import parse, scan_outputs

    link = _WorkerLink.find()
    where = link.address if link is not None else "(no Dask worker)"
    if spec.version != pynmap.__version__:
        raise VersionMismatch(where, pynmap.__version__, spec.version)
    options = parse(["pynmap", *spec.args])
    if spec.input_words is not None:
        options = options.replace(input_name="-", input_stream=io.StringIO(spec.input_words))
    if spec.exclude_words is not None:
        options = options.replace(exclude_file="-",
                                  exclude_stream=io.StringIO(spec.exclude_words))
    reporter = _Reporter(spec, link)
    outputs = scan_outputs(options, spec.formats, progress=reporter.progress,
                           cancel=reporter.cancel)
    return ShardResult(spec.index, outputs, where)


class _WorkerLink:
    """The Dask worker running this task, as far as run_shard needs it."""

    def __init__(self, worker: Any, key: Any) -> None:
        self._worker = worker
        self._key = key
        self.address = str(worker.address)

    @classmethod
    def find(cls) -> _WorkerLink | None:
        try:
            from distributed import get_worker
        except ImportError:
            return None
        try:
            worker = get_worker()
            key = worker.get_current_task()
        except (ValueError, KeyError):  # not in a worker's task
            return None
        return cls(worker, key)

    def send(self, topic: str, message: dict[str, Any]) -> None:
        self._worker.log_event(topic, message)

    def wanted(self) -> bool:
        """Whether the scheduler still wants this task's result (cancelled tasks,
        and those of a client that went away, are released)."""
        task = self._worker.state.tasks.get(self._key)
        return task is not None and task.state != "cancelled"


class _Reporter:
    """The shard's progress callback: events to the client, and the stop check."""

    def __init__(self, spec: ShardSpec, link: _WorkerLink | None) -> None:
        self._spec = spec
        self._link = link
        self._last = 0.0
        self.cancel = threading.Event()

    def progress(self, p: Progress) -> None:
        link = self._link
        if link is None:
            return
        now = time.monotonic()
        if now - self._last < PROGRESS_EVERY:
            return
        self._last = now
        if not link.wanted():
            self.cancel.set()
            return
        with contextlib.suppress(Exception):  # progress is a courtesy: never fails a scan
            link.send(self._spec.topic, {
                "shard": self._spec.index, "task": p.task, "percent": p.percent,
                "completed": p.hosts_completed, "up": p.hosts_up, "in_task": p.hosts_in_task})
