"""The run's one clock, passed down to every part of the engine that needs the time.

No engine module reads the time on its own: the scheduler is handed `now`,
the loop and the phase driver ask the clock they were given.  So a test can
run the whole engine on a FakeClock (with engine/fake.py's backend, whose
poll() is what moves it forward) and a whole scan takes no real time.
"""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """`now()`: seconds on a clock that never steps back (deadlines, RTTs);
    `wall()`: seconds since the epoch (what reports print)."""

    def now(self) -> float: ...

    def wall(self) -> float: ...


class MonotonicClock:
    """The real clock.  The builtins themselves, not wrappers: now() is read
    several times per probe."""

    now = staticmethod(time.monotonic)
    wall = staticmethod(time.time)


SYSTEM = MonotonicClock()


class FakeClock:
    """A clock that moves only when told to (`advance`): by a fake backend's
    poll() standing for the time the loop sleeps."""

    def __init__(self, start: float = 1000.0, epoch: float = 1_700_000_000.0) -> None:
        self.t = start
        self._offset = epoch - start

    def now(self) -> float:
        return self.t

    def wall(self) -> float:
        return self.t + self._offset

    def advance(self, seconds: float) -> None:
        if seconds > 0:
            self.t += seconds


def to_wall(clock: Clock, mono: float | None) -> float | None:
    """A reading of clock.now() as seconds since the epoch."""
    if mono is None:
        return None
    return clock.wall() - (clock.now() - mono)
