"""Intervals for the numbers a lead compares: Wilson intervals for proportions, bootstrap intervals
(scipy) for medians and for the difference between two arms, and a plain verdict that says when the
sample is too small to tell.

    proportion(41, 50)                  # Estimate(value=0.82, low=0.69, high=0.90, n=50)
    difference([1, 0, 1], [0, 0, 1])    # bot - control, with a 95% bootstrap interval
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
from scipy import stats

LEVEL = 0.95
RESAMPLES = 2000
Statistic = Literal["mean", "median"]


@dataclass(frozen=True)
class Estimate:
    """A value with its 95% interval; ``n`` observations behind it (value None when n is 0)."""

    value: float | None
    low: float | None
    high: float | None
    n: int


def proportion(successes: int, n: int, level: float = LEVEL) -> Estimate:
    """The share ``successes / n`` with its Wilson score interval (good at small n and near 0 or 1)."""
    if not 0 <= successes <= n:
        raise ValueError(f"successes must be in [0, n], got {successes} of {n}")
    if n == 0:
        return Estimate(None, None, None, 0)
    ci = stats.binomtest(successes, n).proportion_ci(confidence_level=level, method="wilson")
    return Estimate(successes / n, float(ci.low), float(ci.high), n)


def _stat(name: Statistic) -> object:
    return np.mean if name == "mean" else np.median


def center(values: Sequence[float], statistic: Statistic = "median", seed: int = 0) -> Estimate:
    """The mean or median of ``values`` with a percentile bootstrap interval."""
    data = np.asarray(values, dtype=float)
    if data.size == 0:
        return Estimate(None, None, None, 0)
    value = float(_stat(statistic)(data))  # type: ignore[operator]
    if data.size < 2 or np.all(data == data[0]):
        return Estimate(value, value, value, int(data.size))
    result = stats.bootstrap(
        (data,),
        _stat(statistic),  # type: ignore[arg-type]
        n_resamples=RESAMPLES,
        confidence_level=LEVEL,
        method="percentile",
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Estimate(value, float(ci.low), float(ci.high), int(data.size))


def difference(
    a: Sequence[float], b: Sequence[float], statistic: Statistic = "mean", seed: int = 0
) -> Estimate:
    """``statistic(a) - statistic(b)`` with a percentile bootstrap interval (the arms resampled
    independently). For 0/1 outcomes and ``mean`` this is the difference of two proportions."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.size == 0 or y.size == 0:
        return Estimate(None, None, None, int(min(x.size, y.size)))
    fn = _stat(statistic)
    value = float(fn(x) - fn(y))  # type: ignore[operator]
    if x.size < 2 or y.size < 2 or (np.all(x == x[0]) and np.all(y == y[0])):
        return Estimate(value, value, value, int(x.size + y.size))

    def diff(u: np.ndarray, v: np.ndarray, axis: int = -1) -> np.ndarray:
        return fn(u, axis=axis) - fn(v, axis=axis)  # type: ignore[no-any-return, operator]

    result = stats.bootstrap(
        (x, y),
        diff,
        n_resamples=RESAMPLES,
        confidence_level=LEVEL,
        method="percentile",
        paired=False,
        vectorized=True,
        rng=np.random.default_rng(seed),
    )
    ci = result.confidence_interval
    return Estimate(value, float(ci.low), float(ci.high), int(x.size + y.size))


def verdict(delta: Estimate, n_bot: int, n_control: int, min_n: int, unit: str = "") -> str:
    """What a lead can conclude from ``delta`` (bot arm minus control), in one sentence."""
    if min(n_bot, n_control) < min_n:
        return (
            f"too small to tell: {n_bot} bot / {n_control} control observations, "
            f"at least {min_n} per arm are needed"
        )
    if delta.value is None or delta.low is None or delta.high is None:
        return "no data"
    interval = f"95% interval {delta.low:+.3g} to {delta.high:+.3g}{unit}"
    if delta.low <= 0 <= delta.high:
        return f"no clear difference ({interval})"
    direction = "higher" if delta.value > 0 else "lower"
    return f"bot arm {direction} by {abs(delta.value):.3g}{unit} ({interval})"
