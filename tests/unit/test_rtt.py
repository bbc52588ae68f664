"""nmap's RTT estimator: values worked out by hand from reference 2.3's formulas."""

from __future__ import annotations

from pynmap.engine.rtt import RTTVAR_WARNING, RttEstimator, RttLimits
from pynmap.timing import TEMPLATES, Timing

DEFAULT = RttLimits.from_timing(Timing())


def test_limits_come_from_timing_in_microseconds() -> None:
    limits = (DEFAULT.initial, DEFAULT.minimum, DEFAULT.maximum, DEFAULT.scan_delay)
    assert limits == (1_000_000, 100_000, 10_000_000, 0)
    insane = RttLimits.from_timing(Timing(**TEMPLATES[5]))
    assert (insane.initial, insane.minimum, insane.maximum) == (250_000, 50_000, 300_000)


def test_before_any_sample() -> None:
    est = RttEstimator.fresh(DEFAULT)
    assert (est.srtt, est.rttvar, est.timeout) == (-1, -1, 1_000_000)
    assert not est.has_sample


def test_first_sample_sets_srtt_and_floors_rttvar_at_5ms() -> None:
    est = RttEstimator.fresh(DEFAULT)
    assert est.update(83, DEFAULT) is None
    # to = 83 + 4*5000 = 20083, raised to the 100 ms min-rtt-timeout (loopback's to="100000")
    assert (est.srtt, est.rttvar, est.timeout) == (83, 5000, 100_000)


def test_first_sample_caps_rttvar_at_2s_and_to_at_max_rtt() -> None:
    est = RttEstimator.fresh(DEFAULT)
    est.update(3_000_000, DEFAULT)
    # rttvar = max(5000, min(3e6, 2e6)); to = 3e6 + 8e6 = 11e6 -> max-rtt-timeout 10 s
    assert (est.srtt, est.rttvar, est.timeout) == (3_000_000, 2_000_000, 10_000_000)


def test_first_sample_between_the_bounds() -> None:
    est = RttEstimator.fresh(DEFAULT)
    est.update(40_000, DEFAULT)
    assert (est.srtt, est.rttvar, est.timeout) == (40_000, 40_000, 200_000)


def test_later_samples_use_eighth_and_quarter_shifts() -> None:
    est = RttEstimator(srtt=100_000, rttvar=40_000, timeout=260_000)
    est.update(180_000, DEFAULT)
    # rttdelta 80000: srtt += 10000; rttvar += (80000 - 40000) >> 2
    assert (est.srtt, est.rttvar) == (110_000, 50_000)
    assert est.timeout == 110_000 + 4 * 50_000


def test_shifts_round_toward_minus_infinity_like_c() -> None:
    # An arithmetic shift, not a division: -5 >> 3 is -1 (division would give 0).
    est = RttEstimator(srtt=1000, rttvar=5000, timeout=100_000)
    est.update(995, DEFAULT)
    assert est.srtt == 999
    # |-5| - 5000 = -4995; -4995 >> 2 = -1249 (floor of -1248.75)
    assert est.rttvar == 5000 - 1249


def test_timeout_is_clamped_to_min_and_max() -> None:
    low = RttEstimator(srtt=100, rttvar=100, timeout=100_000)
    low.update(100, DEFAULT)
    assert low.timeout == 100_000
    high = RttEstimator(srtt=3_000_000, rttvar=1_000_000, timeout=7_000_000)
    high.update(3_000_000, DEFAULT)
    # 3e6 + 4 * 750000 = 6e6: inside the bounds
    assert high.timeout == 6_000_000
    tight = RttLimits(initial=500_000, minimum=100_000, maximum=1_250_000)
    high2 = RttEstimator(srtt=3_000_000, rttvar=1_000_000, timeout=1_250_000)
    high2.update(3_000_000, tight)
    assert high2.timeout == 1_250_000


def test_scan_delay_raises_the_timeout() -> None:
    polite = RttLimits.from_timing(Timing(**TEMPLATES[2]))  # scan delay 400 ms
    est = RttEstimator.fresh(polite)
    est.update(100, polite)
    assert est.timeout == 400_000


def test_wild_samples_are_ignored_after_the_first() -> None:
    est = RttEstimator(srtt=1000, rttvar=5000, timeout=100_000)
    est.update(8_000_000, DEFAULT)  # >= 8 s: a clock problem
    assert (est.srtt, est.rttvar) == (1000, 5000)
    est.update(-60_000, DEFAULT)  # clearly negative
    assert (est.srtt, est.rttvar) == (1000, 5000)
    # rttdelta 1.6 s > 1.5 s and > 3*srtt + 2*rttvar: bogus
    est.update(1_601_000, DEFAULT)
    assert (est.srtt, est.rttvar) == (1000, 5000)


def test_small_negative_sample_counts_as_10ms() -> None:
    est = RttEstimator.fresh(DEFAULT)
    est.update(-100, DEFAULT)
    assert est.srtt == 10_000


def test_runaway_rttvar_is_reset_with_a_warning() -> None:
    est = RttEstimator(srtt=2_000_000, rttvar=2_000_000, timeout=10_000_000)
    # rttdelta 5.9e6 (not bogus: 3*2e6 + 2*2e6 = 10e6); rttvar -> 2e6 + 3.9e6/4 = 2975000
    warning = est.update(7_900_000, DEFAULT)
    assert warning == RTTVAR_WARNING == "RTTVAR has grown to over 2.3 seconds, decreasing to 2.0"
    assert est.srtt == 2_000_000 + (5_900_000 >> 3)
    assert est.rttvar == 2_000_000
    assert est.timeout == 10_000_000
