"""The study's figures: error against N with fitted slopes, the cosine's quantiles against N,
and each estimator's variance per trajectory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pgexp.report.plots import finish_figure
from pgexp.report.stats import loglog_slope


def by_estimator(rows: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The rows of each estimator, in N order."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in sorted(rows, key=lambda r: r["N"]):
        groups.setdefault(row["estimator"], []).append(row)
    return groups


def slopes(rows: list[dict[str, Any]]) -> dict[str, float]:
    """Per estimator: the log-log slope of the relative RMS error against N (theory −1/2)."""
    return {
        name: loglog_slope([r["N"] for r in rs], [r["rel_rmse"] for r in rs])[0]
        for name, rs in by_estimator(rows).items()
    }


def error_vs_n(rows: list[dict[str, Any]], title: str, path: Path) -> Path:
    """Relative RMS error against N on log-log axes, one line per estimator, slope in the
    legend, and the 1/√N guide through the first estimator's first point."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    fitted = slopes(rows)
    for name, rs in by_estimator(rows).items():
        n = [r["N"] for r in rs]
        ax.loglog(n, [r["rel_rmse"] for r in rs], "o-", lw=1.5, ms=4,
                  label=f"{name}: slope {fitted[name]:.3f}")  # fmt: skip
    first = rows[0]
    grid = np.array(sorted({r["N"] for r in rows}), dtype=float)
    guide = first["rel_rmse"] * (grid / first["N"]) ** -0.5
    ax.loglog(grid, guide, "k:", lw=1, label="∝ N^(−1/2)")
    ax.set(xlabel="N (trajectories per estimate)", ylabel="√E‖ĝ − g‖² / ‖g‖")
    return finish_figure(fig, ax, title, path)


def cosine_vs_n(rows: list[dict[str, Any]], title: str, path: Path) -> Path:
    """The median cosine between estimate and target against N, with the band from the 10% to
    the 90% quantile, per estimator; the 0.9 line of the N-needed criterion."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for name, rs in by_estimator(rows).items():
        n = [r["N"] for r in rs]
        (line,) = ax.semilogx(n, [r["cos_q50"] for r in rs], "o-", lw=1.5, ms=4, label=name)
        ax.fill_between(n, [r["cos_q10"] for r in rs], [r["cos_q90"] for r in rs],
                        color=line.get_color(), alpha=0.15)  # fmt: skip
    ax.axhline(0.9, color="k", lw=0.8, ls=":")
    ax.set(xlabel="N (trajectories per estimate)", ylabel="cos(ĝ, g): median, 10%–90%",
           ylim=(-1.05, 1.05))  # fmt: skip
    return finish_figure(fig, ax, title, path)


def variance_bars(rows: list[dict[str, Any]], title: str, path: Path) -> Path:
    """N·tr Cov/‖g‖² (the relative variance one trajectory contributes) per estimator at the
    largest N (each against its own target: the natural gradient's is another vector)."""
    groups = by_estimator(rows)
    names = list(groups)
    last = [groups[name][-1] for name in names]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    relative = [r["N"] * r["trace_cov"] / r["target_norm"] ** 2 for r in last]
    ax.bar(names, relative, color="tab:blue", alpha=0.8)
    ax.set_yscale("log")
    ax.set(ylabel="N · tr Cov(ĝ) / ‖g‖²")
    ax.tick_params(axis="x", labelrotation=20)
    return finish_figure(fig, ax, f"{title}, N = {last[0]['N']}", path)
