"""Congestion windows: how many probes may be in flight, per target and per host group.

TCP-style, as nmap does it: slow start up to ssthresh, then congestion
avoidance; a detected drop sends the window back down.  The numbers are
nmap's (its scan_performance_vars).  Pure: callers say when a reply or a drop
happened.
"""

from __future__ import annotations

from dataclasses import dataclass

from pynmap.timing import Timing

# nmap's ceiling on a dynamic window; --max-parallelism replaces it.
DEFAULT_MAX_CWND = 300


@dataclass(frozen=True, slots=True)
class CongestionParams:
    low_cwnd: int = 1  # a drop never takes the window below this (--min-parallelism)
    max_cwnd: int = DEFAULT_MAX_CWND
    initial_cwnd: int = 10
    initial_ssthresh: int = 75
    slow_incr: float = 1.0
    ca_incr: float = 1.0
    cc_scale_max: float = 50.0
    group_drop_cwnd_divisor: float = 2.0
    ssthresh_divisor: float = 1.5

    @classmethod
    def from_timing(cls, timing: Timing) -> CongestionParams:
        pacing = timing.pacing
        low = timing.min_parallelism or 1
        high = max(low, timing.max_parallelism or pacing.max_cwnd)
        if timing.level <= 3:
            divisor = 3 / 2
        elif timing.level == 4:
            divisor = 4 / 3
        else:
            divisor = 5 / 4
        return cls(
            low_cwnd=low,
            max_cwnd=high,
            initial_cwnd=min(max(pacing.initial_cwnd, low), high),
            initial_ssthresh=pacing.initial_ssthresh,
            # Aggressive templates open the window faster once past slow start.
            ca_incr=1.0 if timing.level < 4 else 2.0,
            ssthresh_divisor=divisor,
        )


@dataclass(slots=True)
class Window:
    """One congestion window (a target's or a host group's)."""

    cwnd: float
    ssthresh: int
    expected: int = 0  # answers we should have had (every reply or timeout counted)
    received: int = 0  # answers we had
    updates: int = 0
    last_drop: float = float("-inf")  # when the window last shrank (scheduler clock)

    @classmethod
    def initial(cls, params: CongestionParams) -> Window:
        return cls(float(params.initial_cwnd), params.initial_ssthresh)

    def expect(self) -> None:
        """A probe was resolved (answered or given up on)."""
        self.expected += 1
        self.updates += 1

    def ack(self, params: CongestionParams, scale: float = 1.0) -> None:
        """An answer arrived: open the window."""
        self.received = received = self.received + 1
        # When many probes went unanswered, each answer is worth more: it
        # stands for the ones we never heard back from.
        worth = self.expected / received
        if worth > params.cc_scale_max:
            worth = params.cc_scale_max
        cwnd = self.cwnd
        if cwnd < self.ssthresh:
            cwnd += params.slow_incr * worth * scale
            if cwnd > self.ssthresh:
                cwnd = float(self.ssthresh)
        else:
            cwnd += params.ca_incr / cwnd * worth * scale
        if cwnd > params.max_cwnd:
            cwnd = float(params.max_cwnd)
        self.cwnd = cwnd

    def drop(self, in_flight: int, params: CongestionParams, now: float) -> None:
        """A target lost a probe: back to the lowest window, as TCP does on a timeout."""
        self.cwnd = float(params.low_cwnd)
        self.ssthresh = int(max(in_flight / params.ssthresh_divisor, 2))
        self.last_drop = now

    def drop_group(self, in_flight: int, params: CongestionParams, now: float) -> None:
        """The group saw a drop: halve rather than collapse (one target may be the cause)."""
        self.cwnd = max(float(params.low_cwnd), self.cwnd / params.group_drop_cwnd_divisor)
        self.ssthresh = int(max(in_flight / params.ssthresh_divisor, 2))
        self.last_drop = now
