"""A Dask worker preload for the cluster tests: faults and marks, injected from outside.

Loaded by path in every worker process (Dask's `distributed.worker.preload`,
which the tests set through DASK_DISTRIBUTED__WORKER__PRELOAD for a
`--cluster local:N` run, or `dask worker --preload` for a scheduler of their
own).  It changes nothing in pynmap's code: it wraps the task function Dask
looks up by name (pynmap.cluster.worker.run_shard) in this worker process,
as directed by environment variables the test sets:

* PYNMAP_TEST_MARKS=DIR: each shard task that starts leaves a file
  DIR/<pid>-<shard index> (the test learns which worker process runs what),
  and one named DIR/<pid>-<shard index>-end when it returns or raises;
* PYNMAP_TEST_FAIL_SHARD=I: shard I's task raises RuntimeError, every time;
* PYNMAP_TEST_DIE_SHARD=I: shard I's task ends its worker process, every time;
* PYNMAP_TEST_WORKER_VERSION=V: this worker claims pynmap version V.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pynmap
import pynmap.cluster.worker as worker_module

FAILURE = "injected failure"


def dask_setup(worker: Any) -> None:
    version = os.environ.get("PYNMAP_TEST_WORKER_VERSION")
    if version:
        pynmap.__version__ = version
    marks = os.environ.get("PYNMAP_TEST_MARKS")
    fail = os.environ.get("PYNMAP_TEST_FAIL_SHARD")
    die = os.environ.get("PYNMAP_TEST_DIE_SHARD")
    real = worker_module.run_shard

    def run_shard(spec: Any) -> Any:
        if marks:
            (Path(marks) / f"{os.getpid()}-{spec.index}").touch()
        try:
            if fail is not None and spec.index == int(fail):
                raise RuntimeError(FAILURE)
            if die is not None and spec.index == int(die):
                os._exit(70)
            return real(spec)
        finally:
            if marks:
                (Path(marks) / f"{os.getpid()}-{spec.index}-end").touch()

    worker_module.run_shard = run_shard  # type: ignore[assignment]
