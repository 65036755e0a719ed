"""The report's figures (matplotlib, Agg backend, PNG)."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np

from pgexp.report.frontier import path as frontier_path
from pgexp.report.runs import Run
from pgexp.report.stats import loglog_slope, rms_with_rel_se
from pgexp.report.table import grad_errors

MAX_REL_SE = 0.25

X_AXES = {
    "iter": ("iteration k", "curves_vs_iter.png"),
    "env_steps": ("environment steps (cumulative)", "curves_vs_env_steps.png"),
    "time_s": ("wall-clock seconds (estimate + update)", "curves_vs_time.png"),
}


def _objective(run: Run) -> tuple[str, list[float]]:
    """J per iteration when the env is a finite MDP, else the sampled mean return."""
    if all(r.J is not None for r in run.metrics):
        return "J(θ) (exact objective)", [float(r.J or 0.0) for r in run.metrics]
    return "mean sampled return", [
        math.nan if r.return_mean is None else r.return_mean for r in run.metrics
    ]


def curves(groups: dict[str, list[Run]], x_key: str, out: Path) -> Path:
    """Objective against ``x_key`` per group: mean over seeds, band from min to max.

    Against env steps, runs that sampled nothing (the exact estimator) are left out.
    """
    xlabel, name = X_AXES[x_key]
    fig, ax = plt.subplots(figsize=(7, 4.5))
    ylabel = "J(θ)"
    for label, runs in groups.items():
        length = min(len(r.metrics) for r in runs)
        x = np.mean([[getattr(rec, x_key) for rec in r.metrics[:length]] for r in runs], axis=0)
        if x_key == "env_steps" and x[-1] == 0:
            continue
        ys = []
        for run in runs:
            ylabel, y = _objective(run)
            ys.append(y[:length])
        y_arr = np.array(ys)
        (line,) = ax.plot(x, y_arr.mean(0), label=f"{label} (n={len(runs)})", lw=1.5)
        if len(runs) > 1:
            ax.fill_between(x, y_arr.min(0), y_arr.max(0), color=line.get_color(), alpha=0.15)
    if x_key == "env_steps":
        ax.set_xscale("log")
    ax.set(
        xlabel=xlabel, ylabel=ylabel, title=f"{ylabel.split(' (')[0]} vs {xlabel.split(' (')[0]}"
    )
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:  # against env steps, exact runs draw nothing
        ax.legend(fontsize=7, title="mean over n seeds, band: min–max", title_fontsize=7)
    return save_figure(fig, out / name)


def grad_error_vs_n(
    runs_by_n: dict[float, list[Run]], out: Path, reference: str = "exact"
) -> tuple[Path, float]:
    """RMS relative gradient error against N on log-log axes, with the fitted slope.

    ``reference`` is what the runs measured the error against (their summaries'
    ``grad_reference``): ``exact``, or an estimate, which the y label then names.

    The slope is fitted on the N whose mean squared error is estimated to a relative standard
    error below ``MAX_REL_SE`` (rare successes make small-N estimates heavy-tailed); the other
    points are drawn hollow.
    """
    ns = sorted(runs_by_n)
    points = [rms_with_rel_se([e for r in runs_by_n[n] for e in grad_errors(r)]) for n in ns]
    errs = [rms for rms, _ in points]
    reliable = [rel_se < MAX_REL_SE for _, rel_se in points]
    fit_ns = [n for n, ok in zip(ns, reliable, strict=True) if ok]
    slope, intercept = loglog_slope(fit_ns, [e for e, ok in zip(errs, reliable, strict=True) if ok])
    seeds = seeds_text([len(runs_by_n[n]) for n in ns])
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for ok in (True, False):
        sel = [i for i, r in enumerate(reliable) if r == ok]
        if not sel:
            continue
        note = "" if ok else f" (rel. s.e. ≥ {MAX_REL_SE:.0%}, not fitted)"
        label = f"RMS over iterations and {seeds} per N{note}"
        ax.loglog(
            [ns[i] for i in sel], [errs[i] for i in sel], "o", ls="none", color="C0",
            fillstyle="full" if ok else "none", label=label,
        )  # fmt: skip
    if math.isfinite(slope):
        fit = [10**intercept * n**slope for n in ns]
        ax.loglog(ns, fit, "-", color="C1", label=f"fit: slope {slope:.3f} (theory −0.5)")
    ylabel = (
        "‖ĝ − ∇J‖ / ‖∇J‖" if reference == "exact" else f"‖ĝ − ĝ_ref‖ / ‖ĝ_ref‖, ĝ_ref: {reference}"
    )
    ax.set(xlabel="N (trajectories per gradient)", ylabel=ylabel)
    return finish_figure(fig, ax, "Gradient error vs N", out / "grad_error_vs_N.png"), slope


def seeds_text(counts: list[int]) -> str:
    """``n=3 seeds``, or ``n=2–3 seeds`` when groups differ."""
    low, high = min(counts), max(counts)
    return f"n={low} seeds" if low == high else f"n={low}–{high} seeds"


def heatmap(final: dict[tuple[float, float], list[float]], out: Path) -> Path:
    """Mean J_final over the N × learning-rate grid (``final``: the runs' J_final per cell)."""
    ns = sorted({n for n, _ in final})
    lrs = sorted({lr for _, lr in final})
    grid = np.array([[np.mean(final.get((n, lr), [math.nan])) for lr in lrs] for n in ns])
    fig, ax = plt.subplots(figsize=(1.2 * len(lrs) + 3, 0.6 * len(ns) + 2.5))
    image = ax.imshow(grid, cmap="viridis", aspect="auto", origin="lower")
    ax.set_xticks(range(len(lrs)), [f"{lr:g}" for lr in lrs])
    ax.set_yticks(range(len(ns)), [f"{n:g}" for n in ns])
    for i, j in np.ndindex(grid.shape):
        ax.text(j, i, f"{grid[i, j]:.3g}", ha="center", va="center", color="w", fontsize=8)
    ax.set(
        xlabel="learning rate (train.lr)",
        ylabel="N (estimator.N)",
        title=f"final J (mean over {seeds_text([len(v) for v in final.values()])})",
    )
    fig.colorbar(image, ax=ax, label="J(θ^K)")
    return save_figure(fig, out / "heatmap_J_final.png")


def suboptimality(runs: list[Run], best: float, out: Path) -> tuple[Path, float]:
    """max reward − J against iteration on log-log axes; slope fitted on the second half."""
    fig, ax = plt.subplots(figsize=(6, 4.5))
    slopes = []
    for run in runs:
        k = np.array([r.iter for r in run.metrics], dtype=float)
        gap = best - np.array([r.J for r in run.metrics], dtype=float)
        half = len(k) // 2
        slope, _ = loglog_slope(k[half:], gap[half:])
        slopes.append(slope)
        ax.loglog(k, gap, lw=1.5, label=f"{run.path.name}: slope {slope:.3f} on k ≥ {int(k[half])}")
    ax.set(xlabel="iteration k", ylabel="r* − J(θ)")
    title = "Sub-optimality of exact softmax PG (theory: slope −1)"
    return finish_figure(fig, ax, title, out / "suboptimality.png"), float(np.mean(slopes))


def gap_curves(groups: dict[str, list[Run]], out: Path) -> Path:
    """J* − J(θ) against iteration per group on log-log axes, mean over seeds (finite MDPs,
    where every record has its ``gap``)."""
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for label, runs in groups.items():
        length = min(len(r.metrics) for r in runs)
        k = [rec.iter for rec in runs[0].metrics[:length]]
        gaps = np.array([[rec.gap for rec in r.metrics[:length]] for r in runs], dtype=float)
        ax.loglog(k, gaps.mean(0), lw=1.5, label=f"{label} (n={len(runs)})")
    ax.set(xlabel="iteration k", ylabel="J* − J(θ)")
    title = "Gap to J*, the best J of any policy (time-dependent ones included)"
    return finish_figure(fig, ax, title, out / "gap_vs_iter.png")


def frontier(groups: dict[str, list[Run]], out: Path) -> Path:
    """The compute frontier: the gap J* − J(θ) against the environment steps (left) and the
    seconds (right) spent to reach θ, mean over each group's seeds; exact ascent samples
    nothing and appears on the right only."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for label, runs in groups.items():
        paths = [frontier_path(run) for run in runs]
        length = min(len(p) for p in paths)
        mean = np.array([[point for point in p[:length]] for p in paths]).mean(0)  # [K+1, 3]
        gap, steps, seconds = mean[1:, 0], mean[1:, 1], mean[1:, 2]  # θ⁰ cost nothing
        (line,) = right.loglog(seconds, gap, lw=1.5, label=f"{label} (n={len(runs)})")
        if steps[-1] > 0:
            left.loglog(steps, gap, lw=1.5, color=line.get_color())
    left.set(xlabel="environment steps spent", ylabel="J* − J(θ)")
    right.set(xlabel="seconds spent (estimates and updates)")
    left.grid(alpha=0.3, which="both")
    fig.suptitle("Compute frontier: the gap to J* against what reaching θ cost")
    return finish_figure(fig, right, "", out / "frontier.png")


def finish_figure(fig: plt.Figure, ax: plt.Axes, title: str, path: Path) -> Path:
    """Title, grid (log-log ones too) and legend (where lines have labels), then save."""
    ax.set_title(title)
    ax.grid(alpha=0.3, which="both")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def save_figure(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
