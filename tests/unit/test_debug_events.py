"""nmap's -d2 engine lines: when the scheduler reports them, and their wording.

The rules are nmap 7.93's (scan_engine.cc): a host-discovery answer logs
ultrascan_host_probe_update with the status before and after; only an
answer that proves the host up (or, in the port scan, a port that is not
filtered) may become the target's timing ping, and only while it has none;
a finished host becomes the "global ping host" when it has a timing ping.
The wording is checked against the debug2 capture and live nmap runs.
"""

from __future__ import annotations

import errno

from pynmap.engine.messages import Dropped, Event, HostAnswer, PingProbe, PortState, Untimed
from pynmap.engine.probe import CLOSED, OPEN, Outcome, classify
from pynmap.engine.scheduler import Scheduler
from pynmap.engine.wording import PLAIN, lines
from pynmap.timing import Timing

T0 = 50.0
RTT = 0.0001
HOST_UNREACH: Outcome = classify(errno.EHOSTUNREACH)


class Recorder:
    """The scheduler's `emit`: its debugging events, as tuples."""

    def __init__(self) -> None:
        self.seen: list[tuple[object, ...]] = []

    def __call__(self, event: Event) -> None:
        match event:
            case HostAnswer(host, _, before, up, tryno, _):
                self.seen.append(("host_answer", host, before, up, tryno))
            case PingProbe(host, _, port):
                self.seen.append(("ping_probe", host, port))
            case PortState(host, _, port, state, _):
                self.seen.append(("port_state", host, port, state))
            case Untimed(host, _, state):
                self.seen.append(("untimed", host, state))
            case Dropped(host, _):
                self.seen.append(("dropped", host))


def _answer(sched: Scheduler, outcomes: dict[int, Outcome]) -> None:
    """Send the first round and answer its probes, in port order given by `outcomes`."""
    sent = {p.port: p for p in sched.next_probes(T0)}
    for port, outcome in outcomes.items():
        sched.on_outcome(sent[port], outcome, T0 + RTT)


def test_discovery_logs_each_answer_and_takes_the_first_up_port_as_timing_ping() -> None:
    rec = Recorder()
    sched = Scheduler(["127.0.0.1"], [80, 443], Timing(), ping_scan=True, emit=rec)
    _answer(sched, {80: HOST_UNREACH, 443: CLOSED})
    # an ICMP error says down but never picks the ping technique; the RST then says up
    assert rec.seen == [
        ("host_answer", 0, None, False, 0),
        ("host_answer", 0, "down", True, 0),
        ("ping_probe", 0, 443),
    ]


def test_port_scan_without_timing_ping_takes_the_first_unfiltered_answer() -> None:
    rec = Recorder()
    sched = Scheduler(["127.0.0.1"], [44445, 21, 22], Timing(), emit=rec)
    _answer(sched, {44445: HOST_UNREACH, 21: CLOSED, 22: OPEN})
    # every state is reported (nmap's -d2 "Discovered <state> port"), the
    # ping technique changes once, right after the port that made it
    assert rec.seen == [
        ("port_state", 0, 44445, "filtered"),
        ("port_state", 0, 21, "closed"),
        ("ping_probe", 0, 21),
        ("port_state", 0, 22, "open"),
    ]


def test_port_scan_keeps_the_timing_ping_from_discovery() -> None:
    rec = Recorder()
    sched = Scheduler(["127.0.0.1"], [21, 22], Timing(), ping_ports=[80], emit=rec)
    _answer(sched, {21: CLOSED, 22: OPEN})
    assert ("ping_probe", 0, 21) not in rec.seen


def said(event: Event) -> tuple[str, int, bool]:
    """The line nmap prints for `event`, the -d level that shows it, and whether it
    goes to the normal output too (LOG_PLAIN)."""
    for level in range(5):
        found = lines(event, 0, level)
        if found:
            [(channel, text)] = found
            return text, level, channel is PLAIN
    raise AssertionError(f"{event} is never shown")


def test_lines_are_worded_as_nmap_words_them() -> None:
    # cases/debug2 and nmap's format strings; only LOG_STDOUT lines are not plain
    assert [said(e) for e in (HostAnswer(0, "127.0.0.1", None, True, 0, 0.000122),
                              PingProbe(0, "127.0.0.1", 80),
                              Untimed(0, "127.0.0.1", "filtered"),
                              Dropped(0, "127.0.0.1"))] == [
        ("ultrascan_host_probe_update called for machine 127.0.0.1 state UNKNOWN -> HOST_UP "
         "(trynum 0 time: 122)", 2, False),
        ("Changing ping technique for 127.0.0.1 to connect to port 80", 2, True),
        ("Response for 127.0.0.1 means new state is filtered; not adjusting timing.", 2, True),
        ("Ultrascan DROPPED probe packet to 127.0.0.1 detected", 2, True),
    ]
    text, _, _ = said(HostAnswer(0, "127.0.0.1", "down", False, 1, 0.1000823))
    assert text.endswith("state HOST_DOWN -> HOST_DOWN (trynum 1 time: 100082)")


def test_each_finished_host_with_a_timing_ping_becomes_the_global_ping_host() -> None:
    # nmap -d2 -p 21-23,44445 127.0.0.1-6: four hosts up, .5 and .6 down
    addresses = [f"127.0.0.{i}" for i in range(1, 7)]
    emitted: list[Event] = []
    sched = Scheduler(addresses, [21], Timing(), ping_ports=[80, 80, 80, 80, None, None],
                      emit=emitted.append)
    for host in (5, 0, 1, 4, 2, 3):
        sched._host_done(sched.hosts[host])
    shown = [said(e) for e in emitted]
    changes = [text for text, level, _ in shown if level == 2]
    assert changes == [f"Changing global ping host to 127.0.0.{i}." for i in (1, 2, 3, 4)]
    moving = [text for text, level, _ in shown if level == 3]
    assert moving[0] == "Moving 127.0.0.6 to completed hosts list with 0 outstanding probes."
