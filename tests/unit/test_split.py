"""The two-process port scan's plumbing (pynmap/engine/split.py), without sockets.

The real scan through it is tests/lab/test_scenarios.py::test_loopback (-p-).
"""

from __future__ import annotations

import inspect
import os
import pickle
import signal
import socket
import time

import pytest

from pynmap.engine import events, split
from pynmap.engine.events import Events
from pynmap.engine.messages import DelayRaised, Event, PortState
from pynmap.errors import Fatal, SystemFatal
from pynmap.pacing import NMAP, PYNMAP
from pynmap.results import HostResult
from pynmap.timing import Timing


def test_both_halves_run_in_two_processes() -> None:
    child, parent = split.run_halves(lambda: ("child", os.getpid()), lambda: os.getpid())
    assert child[0] == "child"
    assert child[1] != parent == os.getpid()


def test_a_large_result_comes_back_whole() -> None:
    # far more than a pipe's buffer: the child blocks until the parent reads
    answers = {port: ("closed", "conn-refused") for port in range(1, 65536)}
    child, _ = split.run_halves(lambda: answers, lambda: None)
    assert child == answers


def test_the_childs_scan_error_is_raised_after_the_parents_part() -> None:
    done = []

    def child() -> None:
        raise SystemFatal("Socket creation in sendConnectScanProbe", 24)

    with pytest.raises(SystemFatal) as caught:
        split.run_halves(child, lambda: done.append(True))
    assert done == [True]
    assert caught.value.text == "Socket creation in sendConnectScanProbe: Too many open files (24)\n"


def test_a_child_that_dies_gives_no_result() -> None:
    def child() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    assert split.run_halves(child, lambda: "mine") == (None, "mine")


def test_an_error_here_kills_the_child() -> None:
    pids = []

    def parent() -> None:
        # the child is the only process this one has started since
        time.sleep(0.05)
        pids.extend(int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == os.getpid())
        raise Fatal("Strange SO_ERROR from connection to 127.0.0.1 (100 - 'Network is down') "
                    "-- bailing scan")

    with pytest.raises(Fatal):
        split.run_halves(lambda: time.sleep(60), parent)
    assert pids
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}")  # killed and reaped



class _Stop(Exception):
    pass


def test_a_signal_as_the_child_is_forked_still_kills_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Ctrl-C that lands while fork() returns (a host group just starting) must
    not leave the child scanning on its own after the parent is gone."""
    real_fork = os.fork
    children = []

    def fork_then_signal() -> int:
        pid = real_fork()
        if pid:
            children.append(pid)
            os.kill(os.getpid(), signal.SIGUSR1)  # the user's signal, right after fork
        return pid

    def stop(signo: int, frame: object) -> None:
        raise _Stop

    previous = signal.signal(signal.SIGUSR1, stop)
    monkeypatch.setattr(split, "_STOPPING", (*split._STOPPING, signal.SIGUSR1))
    monkeypatch.setattr(split.os, "fork", fork_then_signal)
    try:
        with pytest.raises(_Stop):
            split.run_halves(lambda: time.sleep(60), lambda: time.sleep(60))
    finally:
        signal.signal(signal.SIGUSR1, previous)
        for pid in children:
            if os.path.exists(f"/proc/{pid}") and _ppid(pid) == os.getpid():
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
                pytest.fail("the child outlived the parent's run_halves")


def test_a_parent_killed_outright_takes_the_child_with_it() -> None:
    """SIGKILL runs no `finally`: the child must not go on scanning alone."""
    import subprocess
    import sys

    script = (
        "import os, sys, time\n"
        "from pynmap.engine import split\n"
        "def parent():\n"
        "    print(os.getpid(), flush=True)\n"
        "    time.sleep(60)\n"
        "split.run_halves(lambda: time.sleep(60), parent)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pid = int(proc.stdout.readline())
        children = [int(p) for p in os.listdir("/proc") if p.isdigit() and _ppid(int(p)) == pid]
        assert children
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 10
        while any(_alive(c) for c in children):
            if time.monotonic() > deadline:
                for c in children:
                    os.kill(c, signal.SIGKILL)
                pytest.fail("the child outlived a parent killed with SIGKILL")
            time.sleep(0.02)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _alive(pid: int) -> bool:
    """Running, not a zombie waiting for whoever inherited it to reap it."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _ppid(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return -1


class _Said(Events):
    def __init__(self) -> None:
        self.got: list[tuple[Event, HostResult | None]] = []

    def handle(self, event: Event, host: HostResult | None) -> None:
        self.got.append((event, host))


def test_the_childs_events_are_replayed_on_the_parents_targets() -> None:
    hosts = [HostResult("127.0.0.1", socket.AF_INET), HostResult("127.0.0.2", socket.AF_INET)]
    recorder = events.Recorder()
    # PortStates are kept as columns, the rest as they come: the replay must
    # still give every event, in order, on the right target
    sent = [
        (PortState(1, "127.0.0.2", 22, "open", "syn-ack"), hosts[1]),
        (DelayRaised(1, "127.0.0.2", 0, 5, bad=11, total=11), hosts[1]),
        (PortState(0, "127.0.0.1", 65535, "closed", "conn-refused"), hosts[0]),
        (PortState(1, "127.0.0.2", 80, "filtered", "no-response"), hosts[1]),
        (PortState(1, "127.0.0.2", 80, "open", "syn-ack"), hosts[1]),
        (DelayRaised(0, "127.0.0.1", 5, 10, tryno=3), hosts[0]),
        (PortState(0, "127.0.0.1", 1, "closed", "conn-refused"), hosts[0]),
    ]
    for event, host in sent:
        recorder.handle(event, host)
    assert not recorder.tracing()  # the parent keeps the CONN lines and the keyboard
    child, _ = split.run_halves(lambda: recorder, lambda: None)
    assert child is not None
    said = _Said()
    for event in child:  # pickled across the pipe: equal, not the same objects
        events._deliver(hosts, said, event)
    assert said.got == sent


class _Tracing:
    def __init__(self, on: bool) -> None:
        self.on = on

    def tracing(self) -> bool:
        return self.on


@pytest.mark.parametrize(
    ("timing", "ports", "events", "wanted"),
    [
        (Timing(pacing=PYNMAP), 65535, None, True),
        (Timing(pacing=PYNMAP), 1000, None, False),
        (Timing(pacing=NMAP), 65535, None, False),
        (Timing(pacing=PYNMAP), 65535, _Tracing(True), False),
        (Timing(pacing=PYNMAP), 65535, _Tracing(False), True),
        (Timing(pacing=PYNMAP, max_parallelism=100), 65535, None, False),
        (Timing(pacing=PYNMAP, max_rate=1000.0), 65535, None, False),
        (Timing(pacing=PYNMAP, min_rate=10000.0), 65535, None, True),  # a floor, shared
        (Timing(pacing=PYNMAP, scan_delay=10), 65535, None, False),
        (Timing(pacing=PYNMAP, host_timeout=60000), 65535, None, False),
    ],
)
def test_only_pynmap_pacing_without_user_limits_splits(
    timing: Timing, ports: int, events: object, wanted: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(split, "_cores", lambda: 2)
    hosts = [HostResult("127.0.0.1", socket.AF_INET)]
    assert split.worth_splitting(hosts, range(1, ports + 1), timing, events) is wanted


def test_one_core_never_splits(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(split, "_cores", lambda: 1)
    hosts = [HostResult("127.0.0.1", socket.AF_INET)]
    assert not split.worth_splitting(hosts, range(1, 65536), Timing(pacing=PYNMAP), None)



def test_the_other_half_merges_into_a_target_state() -> None:
    from pynmap.engine.scheduler import Scheduler

    here, fresh = Scheduler(["198.18.0.1", "198.18.0.2"], [1, 2], Timing()).hosts
    here.answers[1] = ("open", "syn-ack")
    here.clock_start, here.end = 10.0, 20.0
    here.merge_half({2: ("closed", "conn-refused")}, True, 9.0, 25.0)
    assert here.answers == {1: ("open", "syn-ack"), 2: ("closed", "conn-refused")}
    assert here.timed_out
    assert (here.clock_start, here.end) == (9.0, 25.0)  # the earlier start, the later end
    here.merge_half({}, False, 11.0, 21.0)
    assert here.timed_out and (here.clock_start, here.end) == (9.0, 25.0)
    # a state that had no clock yet takes the other half's
    fresh.merge_half({}, False, 5.0, 6.0)
    assert (fresh.clock_start, fresh.end) == (5.0, 6.0) and not fresh.timed_out


def test_the_halves_share_the_minimum_rate() -> None:
    """Two processes each keeping up half of --min-rate keep up all of it."""
    timing = Timing(pacing=PYNMAP, min_rate=10000.0, max_retries=6)
    half = split.half_timing(timing)
    assert half.min_rate == 5000.0
    assert half.with_(min_rate=timing.min_rate) == timing  # nothing else changes
    assert split.half_timing(Timing(pacing=PYNMAP)) == Timing(pacing=PYNMAP)


def _event_classes() -> list[type[Event]]:
    found: list[type[Event]] = []
    todo = [Event]
    while todo:
        cls = todo.pop()
        found.append(cls)
        todo.extend(cls.__subclasses__())
    return [cls for cls in found if cls.__match_args__]


@pytest.mark.parametrize("cls", _event_classes(), ids=lambda cls: cls.__name__)
def test_every_event_is_rebuilt_from_its_fields_across_the_pipe(cls: type[Event]) -> None:
    # Every event may cross the pipe of a split scan; each names its fields
    # in __match_args__, in its __init__'s order (plain.replace() and match
    # patterns rely on that too).
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    assert [p.name for p in params] == list(cls.__match_args__)
    assert all(p.kind is p.POSITIONAL_OR_KEYWORD for p in params)
    values = [f"{name}-{i}" for i, name in enumerate(cls.__match_args__)]
    event = cls(*values)
    again = pickle.loads(pickle.dumps(event))
    assert again == event and again._field_values() == tuple(values)
