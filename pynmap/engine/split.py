"""A big port scan on two cores: a forked child scans every other port.

On a fast path (loopback, a LAN) a connect scan is bound by the CPU, and
most of that is the kernel's own work inside connect(), done on the calling
process's core.  Python cannot share one process's work between cores, so
for a host group with many ports pynmap forks once: the child runs the same
phase over every second port of the scan order and hands back, through a
pipe, what its scheduler learnt; the parent scans the rest and merges.  The
results are the same port table; only the order of -v lines changes (the
child's "Discovered open port" lines come when the phase ends).

Only pynmap's own pacing splits, and never where the split would show or
would break a promise: --packet-trace (one CONN line per probe, in order),
a user's parallelism, rate or scan-delay limit, or --host-timeout (each is
a bound on the whole scan, not on each half).

This module has the mechanics (when to split, the forked process); the phase
driver (events.py) runs the halves, replays the child's events and merges.
"""

from __future__ import annotations

import contextlib
import gc
import os
import pickle
import signal
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol, TypeVar

from pynmap.results import HostResult
from pynmap.signals import STOPPING as _STOPPING
from pynmap.timing import Timing

SPLIT_MIN_PORTS = 10000  # below this, forking costs more than it saves
_PR_SET_PDEATHSIG = 1  # linux/prctl.h

_Child = TypeVar("_Child")
_Parent = TypeVar("_Parent")


class _Tracing(Protocol):
    def tracing(self) -> bool: ...


def worth_splitting(hosts: Sequence[HostResult], ports: Sequence[int], timing: Timing,
                    events: _Tracing | None) -> bool:
    """Whether this port-scan group should run on two cores (`events`: the
    caller's, which may want a CONN line per probe)."""
    return (
        timing.pacing.split
        and len(ports) >= SPLIT_MIN_PORTS
        and len(hosts) > 0
        and _cores() >= 2
        # --min-rate is a floor, not a limit: the halves share it (half_timing)
        and not (timing.max_parallelism or timing.min_parallelism or timing.max_rate
                 or timing.scan_delay or timing.host_timeout)
        and not (events is not None and events.tracing())
    )


def half_timing(timing: Timing) -> Timing:
    """The timing each half scans with: --min-rate is a floor for the whole
    scan, so each of the two processes keeps up half of it."""
    return timing.with_(min_rate=timing.min_rate / 2) if timing.min_rate else timing


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def run_halves(child: Callable[[], _Child],
               parent: Callable[[], _Parent]) -> tuple[_Child | None, _Parent]:
    """Run `child()` in a forked process and `parent()` here at the same time;
    returns (child's result, parent's result).

    The child's result is None if it died without one (killed, or a result
    that would not pickle): the caller then does the child's part itself,
    so no port goes unscanned.  An exception the child raised is raised
    here once the parent's part is done; an exception here (Ctrl-C, a fatal
    error) kills the child.
    """
    read_fd, write_fd = os.pipe()
    # Everything made so far lives on in both processes: the cyclic garbage
    # collector stops walking it (each collection of the oldest generation
    # visited all of it, in each process) and so stops writing to its pages,
    # which the two processes share until one writes.  (As at start-up, see
    # cli/app.py: what is frozen is left to reference counting.)
    gc.freeze()
    # A signal that lands between fork() and the `try` below would end the
    # parent without killing the child (a Ctrl-C right as a host group
    # starts): the stopping signals wait until each side is ready for them.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
    parent_pid = os.getpid()
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    if pid == 0:  # pragma: no cover - the child's exit skips coverage
        _die_with_parent(parent_pid)
        _be_the_child(child, read_fd, write_fd, mask)
    reaped = False
    try:
        os.close(write_fd)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        mine = parent()
        with os.fdopen(read_fd, "rb") as pipe:
            read_fd = -1
            data = pipe.read()
        os.waitpid(pid, 0)
        reaped = True
    finally:
        if read_fd >= 0:
            os.close(read_fd)
        if not reaped:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
            with contextlib.suppress(OSError):
                os.waitpid(pid, 0)
    try:
        ok, value = pickle.loads(data)  # what _be_the_child sent: (True, child()) or (False, exc)
    except Exception:  # nothing (or garbage) came back
        return None, mine
    if not ok:
        raise value
    result: _Child = value
    return result, mine


def _die_with_parent(parent_pid: int) -> None:
    """A parent killed outright (SIGKILL, the OOM killer) runs no `finally`: the
    kernel then kills the child (PR_SET_PDEATHSIG), or it would scan on alone."""
    try:
        import ctypes  # here only: the child's start-up, not the scan path's

        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the parent's `finally` still kills it
        return
    if os.getppid() != parent_pid:  # the parent was gone before prctl took hold
        os._exit(1)


def _be_the_child(child: Callable[[], Any], read_fd: int, write_fd: int,
                  mask: Iterable[int]) -> None:
    # The parent handles the user's signals and owns every output; the child
    # dies of a signal at once (unless the parent ignores it too, as under
    # nohup or in a background job), and never flushes a buffer it shares.
    status = 1
    try:
        os.close(read_fd)
        for signo in (*_STOPPING, signal.SIGPIPE):
            if signal.getsignal(signo) is not signal.SIG_IGN:
                signal.signal(signo, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        try:
            payload = pickle.dumps((True, child()))
        except Exception as exc:  # sent to the parent, which raises it
            payload = pickle.dumps((False, exc))
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
        status = 0
    finally:
        os._exit(status)
