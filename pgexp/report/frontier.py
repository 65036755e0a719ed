"""The compute frontier on finite MDPs: what each group spends, in environment steps and in
seconds, to close given fractions of its gap to J*."""

from __future__ import annotations

import statistics
from itertools import pairwise

from pgexp.markdown import table
from pgexp.report.runs import Run

FRACTIONS = (0.5, 0.9, 0.99)
"""Fractions of the initial gap J* − J(θ⁰) closed."""


def path(run: Run) -> list[tuple[float, int, float]]:
    """(gap at θ^j, env steps and seconds spent to reach θ^j) for j = 0 … K: the record of
    iteration j + 1 holds the gap at θ^j, the record of iteration j what reaching it cost, and
    the summary the gap at θ^K. Empty when a gap is missing (no J or no J*)."""
    records, summary = run.metrics, run.summary
    if summary.J_star is None or summary.J_final is None or any(r.gap is None for r in records):
        return []
    points = [(float(records[0].gap or 0.0), 0, 0.0)]
    for before, rec in pairwise(records):
        points.append((float(rec.gap or 0.0), before.env_steps, before.time_s))
    last = records[-1]
    points.append((summary.J_star - summary.J_final, last.env_steps, last.time_s))
    return points


def reach(points: list[tuple[float, int, float]], fraction: float) -> tuple[int, float] | None:
    """Env steps and seconds at the first θ whose gap is at most (1 − fraction) of the first."""
    goal = (1 - fraction) * points[0][0]
    return next(((steps, s) for gap, steps, s in points if gap <= goal), None)


def frontier_table(groups: dict[str, list[Run]]) -> str:
    """Per group and fraction: the median env steps and seconds over the seeds that got there,
    and how many did."""
    head = [
        "group",
        *(f"{round(100 * f)}% of the gap closed: env steps, s (seeds)" for f in FRACTIONS),
    ]
    rows = []
    for label, runs in groups.items():
        cells = [label]
        for fraction in FRACTIONS:
            reached = [r for r in (reach(path(run), fraction) for run in runs) if r is not None]
            if not reached:
                cells.append(f"not reached (0/{len(runs)})")
                continue
            steps = statistics.median(r[0] for r in reached)
            seconds = statistics.median(r[1] for r in reached)
            cells.append(f"{steps:.3g}, {seconds:.3g} ({len(reached)}/{len(runs)})")
        rows.append(cells)
    return table(head, rows, "l" + "r" * len(FRACTIONS))
