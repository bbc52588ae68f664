"""The worker processes of `--cluster local:N`: how they start, and their preload.

They are forked by a multiprocessing fork server (Dask's
multiprocessing-method "forkserver") that `start_forkserver` launches first
thing, before the client itself imports Dask: the server imports Dask and
the modules a shard's scan needs while the client does the same, and each
worker (and each worker a nanny restarts after a crash) is then a fork of a
process that has them all, without threads, open files or the client's
unwritten output.  Dask's default, a fresh interpreter per worker ("spawn"),
imports all of it again in every worker, one after the other on a busy
machine: that took 1 to 2 s where this takes 0.3 to 0.5 s (2 workers).

The workers are children of the pynmap that started them, in its process
group: a Ctrl-C on the terminal reaches them as well.  They ignore it (and
the terminal's SIGQUIT and SIGHUP): the client is the one that stops the
scan, cancels the tasks and closes the cluster, which ends the workers.
Dask calls `dask_setup` in each worker process as it starts, in the thread
that handles signals.
"""

from __future__ import annotations

import contextlib
import signal
from typing import Any

# What the fork server imports once for every worker it forks.
FORKSERVER_PRELOAD = ("distributed", "pynmap.cluster.worker", "pynmap.api", "pynmap.session",
                      "pynmap.engine.scan", "pynmap.output.render")


def start_forkserver() -> None:
    """Launch the fork server now (it imports FORKSERVER_PRELOAD on its own, in
    parallel with the caller); Dask's nannies fork their workers from it."""
    import multiprocessing
    import multiprocessing.forkserver

    multiprocessing.get_context("forkserver").set_forkserver_preload(list(FORKSERVER_PRELOAD))
    multiprocessing.forkserver.ensure_running()


def dask_setup(worker: Any) -> None:
    for signo in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread: nothing to do there
            signal.signal(signo, signal.SIG_IGN)
