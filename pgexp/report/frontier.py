"""The compute frontier: what each group spends, in environment steps and in seconds, to close
given fractions of its gap to J* (finite MDPs), or to reach given levels of J or of the mean
sampled return."""

from __future__ import annotations

import statistics
from collections.abc import Callable
from functools import partial

from pgexp.markdown import table
from pgexp.report.runs import Run

FRACTIONS = (0.5, 0.9, 0.99)
"""Fractions of the initial gap J* − J(θ⁰) closed."""


Point = tuple[float, int, float]
"""(a value at θ^j, the env steps and the seconds spent to reach θ^j)."""


def costed(run: Run, values: list[float | None]) -> list[Point]:
    """``values`` at θ⁰ … θ^K (None where unknown, left out) with what reaching each cost: θ⁰
    nothing, θ^j what iterations 1..j spent (the record of iteration j)."""
    costs = [(0, 0.0), *((r.env_steps, r.time_s) for r in run.metrics)]
    return [(v, *c) for v, c in zip(values, costs, strict=True) if v is not None]


def path(run: Run) -> list[Point]:
    """The gap J* − J at θ^j for j = 0 … K and its cost: the record of iteration j + 1 holds the
    gap at θ^j, the summary the gap at θ^K. Empty when a gap is missing (no J or no J*)."""
    records, summary = run.metrics, run.summary
    if summary.J_star is None or summary.J_final is None or any(r.gap is None for r in records):
        return []
    return costed(run, [*(r.gap for r in records), summary.J_star - summary.J_final])


def measured(runs: list[Run]) -> str | None:
    """What levels are levels of: ``J`` when every record of every run has it, else
    ``return_mean`` when every record has a sampled return, else None."""
    for key in ("J", "return_mean"):
        if all(getattr(rec, key) is not None for run in runs for rec in run.metrics):
            return key
    return None


def climb(run: Run, key: str) -> list[Point]:
    """J (``key="J"``: the record of iteration j + 1 holds J(θ^j), the summary J(θ^K)) or the
    mean sampled return (``return_mean``: drawn at θ^j in iteration j + 1; none at θ^K) with its
    cost, for j = 0 … K."""
    final = run.summary.J_final if key == "J" else None
    return costed(run, [*(getattr(rec, key) for rec in run.metrics), final])


def reach_level(points: list[Point], level: float) -> tuple[int, float] | None:
    """Env steps and seconds at the first θ whose value is at least ``level``."""
    return next(((steps, s) for value, steps, s in points if value >= level), None)


def median_cost(reached: list[tuple[int, float]], runs: int) -> str:
    """``steps, seconds (k/n)``: medians over the seeds that got there, or ``not reached``."""
    if not reached:
        return f"not reached (0/{runs})"
    steps = statistics.median(r[0] for r in reached)
    seconds = statistics.median(r[1] for r in reached)
    return f"{steps:.3g}, {seconds:.3g} ({len(reached)}/{runs})"


def reach(points: list[Point], fraction: float) -> tuple[int, float] | None:
    """Env steps and seconds at the first θ whose gap is at most (1 − fraction) of the first."""
    goal = (1 - fraction) * points[0][0]
    return next(((steps, s) for gap, steps, s in points if gap <= goal), None)


def cost_table(
    groups: dict[str, list[Run]], columns: dict[str, Callable[[Run], tuple[int, float] | None]]
) -> str:
    """Per group and column: the median env steps and seconds at which the group's seeds got
    where the column's function says (None: never), over the seeds that did, and how many."""
    rows = []
    for label, runs in groups.items():
        cells = [label]
        for got_there in columns.values():
            reached = [r for r in map(got_there, runs) if r is not None]
            cells.append(median_cost(reached, len(runs)))
        rows.append(cells)
    return table(["group", *columns], rows, "l" + "r" * len(columns))


def closes(fraction: float, run: Run) -> tuple[int, float] | None:
    """Env steps and seconds at which ``run`` closed ``fraction`` of its gap to J*."""
    return reach(path(run), fraction)


def reaches(key: str, level: float, run: Run) -> tuple[int, float] | None:
    """Env steps and seconds at which ``run``'s ``key`` first reached ``level``."""
    return reach_level(climb(run, key), level)


def frontier_table(groups: dict[str, list[Run]]) -> str:
    """What each group spends to close 50, 90 and 99% of its gap to J*."""
    return cost_table(groups, {
        f"{round(100 * f)}% of the gap closed: env steps, s (seeds)": partial(closes, f)
        for f in FRACTIONS
    })  # fmt: skip


def level_table(groups: dict[str, list[Run]], key: str, levels: list[float]) -> str:
    """What each group spends to reach each level of ``key`` (``J`` or ``return_mean``)."""
    return cost_table(groups, {
        f"{key} ≥ {level:g}: env steps, s (seeds)": partial(reaches, key, level)
        for level in levels
    })  # fmt: skip
