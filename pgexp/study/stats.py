"""What M draws of an estimator say about it, against the gradient it estimates."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from scipy import stats

QUANTILES = (0.1, 0.5, 0.9)
"""The cosine's quantiles reported (10% of draws have a cosine below the first)."""


def describe(samples: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """Statistics of M draws ``samples`` [M, P] of an estimate of ``target`` [P].

    ``target_norm`` ‖g‖; ``bias_norm`` ‖ḡ − g‖ and ``rel_bias`` over ‖g‖; ``hotelling_p``: the
    p-value of Hotelling's T² test of mean = g over the coordinates that vary (None when the
    draws cannot test it: M not above the number of varying coordinates, or a coordinate no
    draw moved differs from g, as when no trajectory reached the reward); ``trace_cov``
    Σ_i Var(g_i); ``mse`` E‖ĝ − g‖²; ``rel_rmse`` √mse / ‖g‖; ``rel_err`` E‖ĝ − g‖/‖g‖;
    ``cos_q10``, ``cos_q50``, ``cos_q90``: quantiles of cos(ĝ, g).
    """
    M = samples.shape[0]
    norm = float(np.linalg.norm(target))
    diff = samples - target
    bias = samples.mean(0) - target
    var = samples.var(0, ddof=1) if M > 1 else np.zeros_like(target)
    cos = samples @ target / np.maximum(np.linalg.norm(samples, axis=1) * norm, 1e-300)
    mse = float((diff**2).sum(1).mean())
    row: dict[str, Any] = {
        "target_norm": norm,
        "bias_norm": float(np.linalg.norm(bias)),
        "rel_bias": float(np.linalg.norm(bias)) / norm,
        "hotelling_p": hotelling_p(samples, target, var),
        "trace_cov": float(var.sum()),
        "mse": mse,
        "rel_rmse": math.sqrt(mse) / norm,
        "rel_err": float(np.linalg.norm(diff, axis=1).mean()) / norm,
    }
    for q, value in zip(QUANTILES, np.quantile(cos, QUANTILES), strict=True):
        row[f"cos_q{round(100 * q)}"] = float(value)
    return row


def hotelling_p(samples: np.ndarray, target: np.ndarray, var: np.ndarray) -> float | None:
    """p-value of Hotelling's one-sample T² test that the draws' mean is ``target``."""
    M = samples.shape[0]
    scale = max(float(np.abs(samples).max()), float(np.abs(target).max()), 1e-300)
    varies = var > (1e-12 * scale) ** 2
    if (np.abs(samples.mean(0) - target)[~varies] > 1e-9 * scale).any():
        return None  # a coordinate no draw moved misses g: these draws cannot test it
    P = int(varies.sum())
    if P == 0:
        return 1.0
    if M <= P:
        return None
    x = samples[:, varies]
    centered = x.mean(0) - target[varies]
    cov = np.cov(x, rowvar=False).reshape(P, P)
    t2 = M * float(centered @ np.linalg.lstsq(cov, centered, rcond=None)[0])
    f = (M - P) / (P * (M - 1)) * t2
    return float(stats.f.sf(f, P, M - P))


def n_needed(rows: list[dict[str, Any]], cos_at_least: float = 0.9) -> int | None:
    """The smallest N of ``rows`` (one estimator's, any order) whose 10% cosine quantile is at
    least ``cos_at_least`` (90% of draws as close to the target), None if no N of the grid."""
    good = [r["N"] for r in rows if r["cos_q10"] >= cos_at_least]
    return min(good) if good else None
