"""nmap's round-trip-time estimator (RFC 6298 in spirit), in microseconds.

Integer arithmetic and the same shifts as nmap, so srtt/rttvar/to come out
as nmap would print them in <times>.  Pure: the caller measures the delta.
"""

from __future__ import annotations

from pynmap.plain import FrozenData, PlainData
from pynmap.timing import Timing

# A sample this large (or negative) is a clock problem, not a round trip.
_MAX_SAMPLE = 8_000_000
# rttvar is reined in once it passes this, with a warning.
_RTTVAR_CEILING = 2_300_000
_RTTVAR_RESET = 2_000_000
RTTVAR_WARNING = "RTTVAR has grown to over 2.3 seconds, decreasing to 2.0"


class RttLimits(FrozenData):
    """The timing options the estimator obeys, in microseconds."""

    __match_args__ = ("initial", "minimum", "maximum", "scan_delay")
    __slots__ = __match_args__

    def __init__(self, initial: int = 1_000_000, minimum: int = 100_000,
                 maximum: int = 10_000_000, scan_delay: int = 0) -> None:
        self.initial = initial
        self.minimum = minimum
        self.maximum = maximum
        self.scan_delay = scan_delay

    @classmethod
    def from_timing(cls, timing: Timing) -> RttLimits:
        return cls(
            initial=timing.initial_rtt_timeout * 1000,
            minimum=timing.min_rtt_timeout * 1000,
            maximum=timing.max_rtt_timeout * 1000,
            scan_delay=timing.scan_delay * 1000,
        )


class RttEstimator(PlainData):
    """srtt, rttvar and the probe timeout `to`; -1 means "no sample yet"."""

    __match_args__ = ("srtt", "rttvar", "timeout")
    __slots__ = __match_args__

    def __init__(self, srtt: int = -1, rttvar: int = -1, timeout: int = 1_000_000) -> None:
        self.srtt = srtt
        self.rttvar = rttvar
        self.timeout = timeout

    @classmethod
    def fresh(cls, limits: RttLimits) -> RttEstimator:
        return cls(-1, -1, limits.initial)

    @property
    def has_sample(self) -> bool:
        return not (self.srtt == -1 and self.rttvar == -1)

    def update(self, delta: int, limits: RttLimits) -> str | None:
        """Fold in one round trip of `delta` µs; returns a warning text, if any."""
        # Runs twice per answer (the target's and the group's estimator): the
        # fields are read into locals once.
        if -50_000 < delta < 0:
            # Clocks that disagree a little; nmap substitutes 10 ms.
            delta = 10_000
        srtt = self.srtt
        rttvar = self.rttvar
        if srtt == -1 and rttvar == -1:  # no sample yet
            srtt = delta
            rttvar = max(5000, min(delta, 2_000_000))
        else:
            if delta >= _MAX_SAMPLE or delta < 0:
                return None
            rttdelta = delta - srtt
            # One wild sample must not blow the estimate up.
            if rttdelta > 1_500_000 and rttdelta > 3 * srtt + 2 * rttvar:
                return None
            srtt += rttdelta >> 3
            rttvar += (abs(rttdelta) - rttvar) >> 2
        timeout = srtt + (rttvar << 2)
        warning = None
        if rttvar > _RTTVAR_CEILING:
            warning = RTTVAR_WARNING
            rttvar = _RTTVAR_RESET
        if timeout < limits.minimum:
            timeout = limits.minimum
        if timeout > limits.maximum:
            timeout = limits.maximum
        if limits.scan_delay and timeout < limits.scan_delay:
            timeout = limits.scan_delay
        self.srtt = srtt
        self.rttvar = rttvar
        self.timeout = timeout
        return warning
