"""nmap's rules for progress lines: when an estimate is due and what it says."""

from __future__ import annotations

import dataclasses

import pytest

from pynmap.apiprogress import Progress, progress_of
from pynmap.progress import (
    ProgressMeter,
    StatsSchedule,
    elapsed_text,
    estimate_left,
    status_line,
)


def test_status_line_counts_and_elapsed() -> None:
    assert (status_line(3725.9, 4, 7, 2, "Connect Scan")
            == "Stats: 1:02:05 elapsed; 4 hosts completed (7 up), 2 undergoing Connect Scan")
    assert elapsed_text(59.99) == "0:00:59"


def test_estimate_counts_whole_seconds() -> None:
    # 10 s used (whole seconds of the two clocks), a quarter done: 30 s to go
    assert estimate_left(0.25, 100.9, 110.1) == pytest.approx(30.0)


def test_no_automatic_estimate_in_the_first_30_seconds() -> None:
    meter = ProgressMeter("Connect Scan", 1000.0)
    assert not meter.automatic_due(lambda: 0.5, 1030.0, debugging=0)
    assert meter.automatic_due(lambda: 0.1, 1031.0, debugging=0)


def test_no_automatic_estimate_when_almost_done_or_too_early_to_tell() -> None:
    meter = ProgressMeter("Connect Scan", 1000.0)
    assert not meter.automatic_due(lambda: 0.9, 1040.0, debugging=0)  # 4 s left
    meter = ProgressMeter("Connect Scan", 1000.0)
    assert not meter.automatic_due(lambda: 0.002, 1040.0, debugging=0)


def test_completion_is_not_asked_while_the_clock_rules_say_no() -> None:
    meter = ProgressMeter("Connect Scan", 1000.0)

    def completion() -> float:
        raise AssertionError("asked too early")

    assert not meter.automatic_due(completion, 1010.0, debugging=0)


def test_at_most_one_automatic_estimate_per_30_seconds() -> None:
    meter = ProgressMeter("Connect Scan", 1000.0)
    assert meter.automatic_due(lambda: 0.1, 1040.0, debugging=0)
    meter.report(0.1, 1040.0)  # 40 s used, 360 s left
    assert not meter.automatic_due(lambda: 0.1, 1060.0, debugging=0)
    # 30 s later the estimate barely moved: not worth a line ...
    assert not meter.automatic_due(lambda: 70 / 420, 1070.0, debugging=0)  # 350 s left
    # ... unless debugging
    assert meter.automatic_due(lambda: 80 / 430, 1080.0, debugging=1)


def test_a_moved_estimate_is_printed_again() -> None:
    meter = ProgressMeter("Connect Scan", 1000.0)
    meter.report(0.1, 1040.0)  # ETC 1400
    # at 1080 with 40% done: 120 s left instead of 320: moved by far more than 15 s and 5%
    assert meter.automatic_due(lambda: 0.4, 1080.0, debugging=0)


def test_report_below_one_percent_has_no_estimate() -> None:
    meter = ProgressMeter("Connect Scan", 1000.0)
    assert meter.report(0.005, 1002.0) == (0.005, None)
    fraction, left = meter.report(0.5, 1010.0)
    assert (fraction, left) == (0.5, 10.0)
    assert meter.last_etc == 1020


def test_stats_schedule_counts_from_the_start_and_catches_up() -> None:
    schedule = StatsSchedule.starting(100.0, 2.0)
    assert not schedule.due(101.9)
    assert schedule.due(102.1)
    assert not schedule.due(103.9)
    assert schedule.due(104.1)
    # a long stall: one line, then the next one half a second later, not a burst
    assert schedule.due(120.0)
    assert schedule.next_due == pytest.approx(120.5)
    assert not schedule.due(120.4)


def _progress(fraction: float, now: float, floor: float = 0.0) -> Progress:
    return progress_of("Connect Scan", fraction, 1000.4, now, floor=floor, elapsed=now - 990,
                       completed=2, up=1, scanning=3)


def test_progress_has_the_timing_lines_estimate() -> None:
    """The ETC and time left of the line Reporter.task_progress prints for the
    same numbers (10 whole seconds used, a quarter done: 30 s left)."""
    p = _progress(0.25, 1010.6)
    assert (p.task, p.percent, p.hosts_completed, p.hosts_up, p.hosts_in_task) == (
        "Connect Scan", 25.0, 2, 1, 3)
    assert p.remaining == pytest.approx(30.0)
    assert p.etc == 1010 + 30
    assert not p.done
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.percent = 1.0  # type: ignore[misc]


def test_progress_below_one_percent_has_no_estimate_and_the_end_has_none_left() -> None:
    assert (_progress(0.005, 1010.0).etc, _progress(0.005, 1010.0).remaining) == (None, None)
    end = _progress(1.0, 1012.7)
    assert (end.percent, end.etc, end.remaining, end.done) == (100.0, 1012, 0.0, True)


def test_progress_never_goes_down() -> None:
    """nmap's fraction dips when a host is allowed another try: the floor holds."""
    assert _progress(0.40, 1010.0, floor=42.5).percent == 42.5
    assert _progress(0.45, 1010.0, floor=42.5).percent == 45.0
