"""Intervals on known inputs and the verdict's wording."""

from __future__ import annotations

import numpy as np
import pytest

from firstlast.insights.stats import Estimate, center, difference, proportion, verdict


def test_wilson_interval_matches_the_textbook_values() -> None:
    # Wilson score interval, z = 1.95996: 8/10 -> [0.4902, 0.9433]; 0/10 -> [0, 0.2775]
    est = proportion(8, 10)
    assert est.value == 0.8 and est.n == 10
    assert est.low == pytest.approx(0.4902, abs=1e-4) and est.high == pytest.approx(0.9433, abs=1e-4)
    zero = proportion(0, 10)
    assert zero.low == pytest.approx(0.0, abs=1e-9) and zero.high == pytest.approx(0.2775, abs=1e-4)
    assert proportion(0, 0) == Estimate(None, None, None, 0)
    with pytest.raises(ValueError, match="11 of 10"):
        proportion(11, 10)


def test_bootstrap_difference_of_proportions_is_close_to_the_normal_approximation() -> None:
    a = [1.0] * 60 + [0.0] * 40  # 0.60
    b = [1.0] * 40 + [0.0] * 60  # 0.40
    est = difference(a, b, "mean", seed=1)
    assert est.value == pytest.approx(0.2)
    half = 1.96 * np.sqrt(0.6 * 0.4 / 100 + 0.4 * 0.6 / 100)  # 0.136
    assert est.low == pytest.approx(0.2 - half, abs=0.03) and est.high == pytest.approx(0.2 + half, abs=0.03)
    assert difference(a, b, "mean", seed=1) == est  # seeded: the same interval every time


def test_median_interval_contains_the_median_and_degenerate_samples_have_no_width() -> None:
    values = list(range(1, 102))  # median 51
    est = center(values, "median", seed=0)
    assert est.value == 51 and est.low is not None and est.high is not None
    assert est.low < 51 < est.high and est.high - est.low < 30
    assert center([5.0, 5.0, 5.0]) == Estimate(5.0, 5.0, 5.0, 3)
    assert center([]) == Estimate(None, None, None, 0)
    same = difference([3.0, 3.0], [1.0, 1.0], "median")
    assert (same.value, same.low, same.high) == (2.0, 2.0, 2.0)


def test_the_verdict_says_when_the_sample_is_too_small_and_when_there_is_no_clear_difference() -> None:
    wide = Estimate(0.1, -0.05, 0.25, 60)
    assert verdict(wide, 12, 40, min_n=30).startswith("too small to tell: 12 bot / 40 control")
    assert verdict(wide, 30, 30, min_n=30).startswith("no clear difference (95% interval -0.05 to +0.25")
    assert verdict(Estimate(-12.0, -20.0, -4.0, 80), 40, 40, 30, " s").startswith("bot arm lower by 12 s")
