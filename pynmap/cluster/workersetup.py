"""A Dask worker preload for the worker processes of `--cluster local:N`.

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


def dask_setup(worker: Any) -> None:
    for signo in (signal.SIGINT, signal.SIGQUIT, signal.SIGHUP):
        with contextlib.suppress(ValueError):  # not the main thread: nothing to do there
            signal.signal(signo, signal.SIG_IGN)
