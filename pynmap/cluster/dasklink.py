"""The one module of pynmap that imports Dask's distributed scheduler.

Narrow typed wrappers over what the driver uses of `distributed`: a
connection to a scheduler (a `Client`, and the `LocalCluster` this run
started, if it did), its workers' threads and pynmap versions, one task per
shard, the done callbacks that feed the driver's queue, progress events,
cancelling, closing.  Dask's own logging is kept quiet (its warnings would
otherwise land among nmap's lines on stderr) unless -d asks for it.

Imported only by pynmap.cluster.driver, which only --cluster imports: a
plain scan never loads Dask (tests/unit/test_cluster_options.py).
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from typing import Any

import dask as _dask
import distributed as _distributed
import distributed.comm.core as _comm
import distributed.security as _security

from pynmap.cluster.spec import ShardSpec
from pynmap.cluster.tls import Pems
from pynmap.cluster.worker import ShardResult, run_shard, worker_version
from pynmap.errors import Fatal

# How long connecting to a scheduler, and waiting for a first worker, may take (seconds).
CONNECT_TIMEOUT = 10.0
# The run's own worker set-up (pynmap.cluster.workersetup), before any configured preload.
SETUP_PRELOAD = "pynmap.cluster.workersetup"
_LOGGERS = ("distributed", "dask", "tornado")
# Dask's housekeeping, eased for a scan (a LocalCluster's workers get this process's
# configuration): the statistical profiler samples a worker's task threads every
# 10 ms and the event loops check their own health every 20 ms; on the benchmark's
# /16 the two cost a worker a third more CPU than the scan itself.  Memory and
# system statistics every second or two are still plenty for a scan's worker.
QUIET_DASK = {
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.system-monitor.interval": "2s",
}

# Dask is only partly annotated (many of its functions have no types): here its
# modules are Any, and every value that leaves this module is given a type of ours.
dask: Any = _dask
distributed: Any = _distributed
CommClosedError: Any = _comm.CommClosedError
Security: Any = _security.Security


def quiet_logs(debugging: int) -> int:
    """Dask's log level for this run: its errors only with -d, nothing without;
    and its housekeeping eased (QUIET_DASK)."""
    dask.config.set(QUIET_DASK)
    level = logging.WARNING if debugging > 1 else (
        logging.ERROR if debugging else logging.CRITICAL + 1)
    for name in _LOGGERS:
        logging.getLogger(name).setLevel(level)
    return level


def security(pems: Pems | None) -> Any:
    """Dask's Security for these PEMs (every role the same identity), or, for None,
    Dask's own configuration (distributed.comm.tls.*)."""
    if pems is None:
        return Security()
    return Security(require_encryption=True, tls_ca_file=pems.ca,
                    tls_client_cert=pems.cert, tls_client_key=pems.key,
                    tls_scheduler_cert=pems.cert, tls_scheduler_key=pems.key,
                    tls_worker_cert=pems.cert, tls_worker_key=pems.key)


def _preloads() -> list[str]:
    configured = dask.config.get("distributed.worker.preload", default=[]) or []
    if isinstance(configured, str):
        configured = [configured]
    return [SETUP_PRELOAD, *(str(p) for p in configured)]


class Task:
    """One shard's task: its spec and Dask's future for it."""

    def __init__(self, spec: ShardSpec, future: Any) -> None:
        self.spec = spec
        self._future = future

    def when_done(self, callback: Callable[[Task], None]) -> None:
        """`callback(task)` once the task has a result, an error or was cancelled
        (called in a thread of Dask's)."""
        self._future.add_done_callback(lambda _: callback(self))

    def outcome(self) -> ShardResult | BaseException:
        """The finished task's result, or the exception it failed with (Dask's
        KilledWorker when its workers kept dying, CancelledError...)."""
        try:
            result = self._future.result()
        except Exception as exc:
            return exc
        if not isinstance(result, ShardResult):
            return TypeError(f"the task returned {type(result).__name__}, not a ShardResult")
        return result


class Connection:
    """A client connected to a scheduler; `local` is the LocalCluster this run
    started (closed with the connection)."""

    def __init__(self, client: Any, local: Any) -> None:
        self._client = client
        self._local = local

    @property
    def scheduler(self) -> str:
        return str(self._client.scheduler.address)

    def threads(self) -> int:
        """Worker threads the scheduler has now, all workers together."""
        counts: dict[str, int] = self._client.nthreads()
        return sum(counts.values())

    def wait_for_workers(self, count: int, timeout: float) -> None:
        self._client.wait_for_workers(count, timeout=timeout)

    def worker_versions(self) -> dict[str, str | BaseException]:
        """Each worker's pynmap version, or why it could not say (no pynmap)."""
        try:
            found: dict[str, Any] = self._client.run(worker_version, on_error="return")
        except Exception as exc:  # the function could not even be sent
            return {"(all workers)": exc}
        return {str(w): v if isinstance(v, (str, BaseException)) else TypeError(repr(v))
                for w, v in found.items()}

    def submit(self, spec: ShardSpec, *, retries: int) -> Task:
        future = self._client.submit(run_shard, spec, key=spec.key, pure=False,
                                     retries=retries)
        return Task(spec, future)

    def subscribe(self, topic: str, handler: Callable[[dict[str, Any]], None]) -> None:
        """`handler(message)` for each event on `topic` (in Dask's client thread)."""
        def receive(event: tuple[float, Any]) -> None:
            message = event[1]
            if isinstance(message, dict):
                handler(message)

        self._client.subscribe_topic(topic, receive)

    def cancel(self, tasks: list[Task]) -> None:
        futures = [t._future for t in tasks]
        if futures:
            self._client.cancel(futures, force=True)

    def close(self) -> None:
        """Disconnect; stop the LocalCluster (its worker processes end with it)."""
        try:
            self._client.close(timeout=CONNECT_TIMEOUT)
        finally:
            if self._local is not None:
                self._local.close(timeout=CONNECT_TIMEOUT)


def start_local(workers: int, pems: Pems, *, debugging: int) -> Connection:
    """A LocalCluster of `workers` processes of one thread each, every listener on
    127.0.0.1, TLS with `pems`, no dashboard; Dask's nannies restart a worker
    process that dies."""
    level = quiet_logs(debugging)
    # workers are forks of the server pynmap.cluster.workersetup started (its docstring)
    dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"})
    cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                           host="127.0.0.1", protocol="tls://", security=security(pems),
                           dashboard_address=None, silence_logs=level,
                           preload=_preloads())
    try:
        client = distributed.Client(cluster, security=security(pems), timeout=CONNECT_TIMEOUT)
        connection = Connection(client, cluster)
        connection.wait_for_workers(workers, CONNECT_TIMEOUT * workers)
    except BaseException:
        cluster.close(timeout=CONNECT_TIMEOUT)
        raise
    return connection


def _reach(host: str, port: int, address: str) -> None:
    """A TCP connection to the scheduler's port, opened and closed: Dask's own
    connect retries until its timeout and then names no cause."""
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except TimeoutError:
        raise Fatal(f"Could not connect to the Dask scheduler at {address}: no answer in "
                    f"{CONNECT_TIMEOUT:g} seconds") from None
    except socket.gaierror as exc:
        raise Fatal(f"Could not connect to the Dask scheduler at {address}: "
                    f"{exc.strerror}") from None
    except OSError as exc:
        raise Fatal(f"Could not connect to the Dask scheduler at {address}: "
                    f"{exc.strerror or exc}") from None


def connect(address: str, host: str, port: int, pems: Pems | None, *, tls: bool,
            debugging: int) -> Connection:
    """A client of the scheduler at `address`; Fatal with the reason when it cannot
    be reached or refuses this client (TLS)."""
    quiet_logs(debugging)
    _reach(host, port, address)
    sec = security(pems) if tls else None
    if sec is not None and pems is None and not sec.tls_ca_file:
        raise Fatal(f"No TLS files for the Dask scheduler at {address}: give --cluster-ca, "
                    "--cluster-cert and --cluster-key, or set Dask's "
                    "distributed.comm.tls.ca-file, .client.cert and .client.key")
    try:
        client = distributed.Client(address, security=sec, timeout=CONNECT_TIMEOUT)
    except CommClosedError as exc:
        raise Fatal(f"The Dask scheduler at {address} refused this client: "
                    f"{_reason(exc, tls)}") from None
    except (OSError, TimeoutError) as exc:
        raise Fatal(f"Could not connect to the Dask scheduler at {address}: {exc}") from None
    connection = Connection(client, None)
    try:
        if not connection.threads():
            connection.wait_for_workers(1, CONNECT_TIMEOUT)
    except (OSError, TimeoutError):
        connection.close()
        raise Fatal(f"The Dask scheduler at {address} has no workers (waited "
                    f"{CONNECT_TIMEOUT:g} seconds)") from None
    return connection


def _reason(exc: Exception, tls: bool) -> str:
    """Why a scheduler turned the client away, in a user's words (Dask's text says
    it in OpenSSL's; which side gave up depends on the TLS version)."""
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "does not match" in text:
        return "its certificate is not signed by --cluster-ca (the CA this client trusts)"
    if "SSL" in text or "alert" in text.lower():
        return ("the TLS handshake failed: its CA did not sign this client's certificate "
                "(--cluster-cert)")
    if not tls and "reset" in text.lower():
        return "the connection was reset (a tls:// scheduler?)"
    return text
