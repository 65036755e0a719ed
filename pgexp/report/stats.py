"""Statistics of the report: bootstrap confidence intervals and log-log slopes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Numbers = Sequence[float] | npt.NDArray[np.floating]


def bootstrap_ci(
    values: Numbers, confidence: float = 0.95, resamples: int = 10_000, seed: int = 0
) -> tuple[float, float]:
    """Percentile bootstrap confidence interval of the mean of ``values``.

    One value gives a zero-width interval at that value.
    """
    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return float(x.mean()), float(x.mean())
    rng = np.random.default_rng(seed)
    means = x[rng.integers(0, x.size, size=(resamples, x.size))].mean(axis=1)
    alpha = (1 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def loglog_slope(x: Numbers, y: Numbers) -> tuple[float, float]:
    """Least-squares ``(slope, intercept)`` of log10(y) against log10(x), positive values only."""
    xs, ys = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    keep = (xs > 0) & (ys > 0) & np.isfinite(ys)
    if keep.sum() < 2:
        return float("nan"), float("nan")
    slope, intercept = np.polyfit(np.log10(xs[keep]), np.log10(ys[keep]), 1)
    return float(slope), float(intercept)


def rms_with_rel_se(values: Numbers) -> tuple[float, float]:
    """Root mean square of ``values`` and the relative standard error of their mean square."""
    sq = np.asarray(values, dtype=np.float64) ** 2
    if sq.size == 0:
        return float("nan"), float("inf")
    mean = float(sq.mean())
    if sq.size < 2 or mean == 0:
        return float(np.sqrt(mean)), float("inf")
    return float(np.sqrt(mean)), float(sq.std(ddof=1) / np.sqrt(sq.size) / mean)
