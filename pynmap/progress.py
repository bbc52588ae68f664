"""When a scan phase reports its progress, and what it says (no I/O, no clock of its own).

Three things make nmap print a phase's progress: a key press on the
terminal, the --stats-every schedule, and, with -v, its own judgement that
a long phase deserves an estimate.  The last one follows nmap's rules: not
in the first 30 s of a phase, not more than once per 30 s, not when under
30 s remain, and a new estimate only once the previous one has passed or
moved by over 15 s and 5% of the phase's estimated length (always, with -d).
Times are wall-clock seconds, passed in.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from pynmap.plain import PlainData


def estimate_left(fraction: float, begun: float, now: float) -> float:
    """Seconds left if the phase keeps its pace; nmap counts whole elapsed seconds."""
    used = float(int(now) - int(begun))
    return used / fraction - used


def elapsed_text(seconds: float) -> str:
    whole = int(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


class ProgressMeter(PlainData):
    """One phase's progress reports ("Connect Scan Timing: About ...")."""

    __match_args__ = ("task", "begun", "last_print", "last_test", "last_etc")
    __slots__ = __match_args__

    def __init__(self, task: str, begun: float, last_print: float | None = None,
                 last_test: float | None = None, last_etc: float | None = None) -> None:
        self.task = task
        self.begun = begun
        self.last_print = last_print  # when an estimate was last printed
        self.last_test = last_test  # when the -v rule was last consulted
        self.last_etc = last_etc  # the completion time last announced

    def automatic_due(self, completion: Callable[[], float], now: float, *,
                      debugging: int) -> bool:
        """With -v: is an unprompted estimate due now?  (Call only when verbose.)

        `completion` is asked only once the time rules allow a line: it is
        the costly part on a big host group.
        """
        if self.last_print is None:
            if now - self.begun <= 30:
                return False
        else:
            if self.last_test is not None and now - self.last_test < 3:
                return False
            if now - self.last_print < 30:
                return False
        self.last_test = now
        fraction = completion()
        if fraction <= 0.003:
            return False
        left = estimate_left(fraction, self.begun, now)
        if left < 30:
            return False
        if self.last_etc is None or now > self.last_etc:
            return True
        assert self.last_print is not None
        previous_total = self.last_etc - self.begun
        previous_left = self.last_etc - self.last_print
        change = abs(previous_left - left)
        return bool(debugging) or (change > 15 and change > 0.05 * previous_total)

    def report(self, fraction: float, now: float) -> tuple[float, float | None]:
        """An estimate is printed now: (fraction, seconds left or None below 1%)."""
        self.last_print = now
        if fraction < 0.01:
            return fraction, None
        left = estimate_left(fraction, self.begun, now)
        self.last_etc = math.floor(now) + math.floor(left + 0.5)
        return fraction, left


class StatsSchedule(PlainData):
    """--stats-every: due times counted from the start of the run."""

    __match_args__ = ("interval", "next_due")
    __slots__ = __match_args__

    def __init__(self, interval: float, next_due: float) -> None:
        self.interval = interval
        self.next_due = next_due

    @classmethod
    def starting(cls, start: float, interval: float) -> StatsSchedule:
        return cls(interval, start + interval)

    def due(self, now: float) -> bool:
        if now <= self.next_due:
            return False
        self.next_due += self.interval
        if now > self.next_due:
            # fell behind: catch up, with half a second so two lines never come back to back
            self.next_due = now + 0.5
        return True


def status_line(elapsed: float, completed: int, up: int, scanning: int, task: str) -> str:
    """The "Stats:" line a key press or --stats-every prints."""
    return (f"Stats: {elapsed_text(elapsed)} elapsed; {completed} hosts completed ({up} up), "
            f"{scanning} undergoing {task}")
