"""Statistics of the report: t-intervals of means over seeds and log-log slopes."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

Numbers = Sequence[float] | npt.NDArray[np.floating]


def t_interval(values: Numbers, confidence: float = 0.95) -> tuple[float, float] | None:
    """Student-t confidence interval of the mean of ``values``; None below two values.

    Exact when the values are normally distributed, whatever their number; a bootstrap interval
    would claim its confidence only for large samples (with 3 seeds the percentile bootstrap is
    [min, max]).
    """
    from scipy import stats  # on first use: importing scipy.stats takes about a second

    x = np.asarray(values, dtype=np.float64)
    if x.size < 2:
        return None
    half = stats.t.ppf(0.5 + confidence / 2, df=x.size - 1) * x.std(ddof=1) / np.sqrt(x.size)
    return float(x.mean() - half), float(x.mean() + half)


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
