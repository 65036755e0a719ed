"""The table of final metrics per group: mean and 95% t-interval over seeds."""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import Any

from pgexp.markdown import table
from pgexp.report.runs import Run
from pgexp.report.stats import t_interval

COLUMNS = ("J_final", "return_final", "grad_rel_err_rms", "env_steps", "time_s")


def grad_errors(run: Run) -> list[float]:
    """The run's ``grad_rel_err`` values, iterations without one left out."""
    return [r.grad_rel_err for r in run.metrics if r.grad_rel_err is not None]


def rms_grad_error(run: Run) -> float | None:
    """sqrt(mean over iterations of grad_rel_err²): its square estimates tr(Cov)/(N‖∇J‖²)."""
    errors = grad_errors(run)
    return math.sqrt(sum(e * e for e in errors) / len(errors)) if errors else None


def run_values(run: Run) -> dict[str, float | None]:
    s = run.summary
    return {
        "J_final": s.J_final,
        "return_final": s.return_final,
        "grad_rel_err_rms": rms_grad_error(run),
        "env_steps": s.env_steps,
        "time_s": s.time_s,
    }


def summarize(groups: dict[tuple[str, ...], list[Run]], keys: list[str]) -> list[dict[str, Any]]:
    """One row per group: the swept values, ``n`` (seeds), and per column the mean over the runs
    that have a value and its 95% t-interval (``_ci_low``/``_ci_high``; empty below 2 values)."""
    rows = []
    for values, runs in groups.items():
        row: dict[str, Any] = dict(zip(keys, values, strict=True))
        row["n"] = len(runs)
        per_run = [run_values(r) for r in runs]
        for col in COLUMNS:
            xs = [x for v in per_run if (x := v[col]) is not None]
            interval = t_interval(xs)
            row[col] = sum(xs) / len(xs) if xs else None
            row[f"{col}_ci_low"], row[f"{col}_ci_high"] = interval or (None, None)
        rows.append(row)
    return rows


def write_csv(rows: list[dict[str, Any]], path: Path) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _cell(row: dict[str, Any], col: str) -> str:
    if row[col] is None:
        return "–"
    if row[f"{col}_ci_low"] is None:
        return f"{row[col]:.4g}"
    return f"{row[col]:.4g} [{row[f'{col}_ci_low']:.4g}, {row[f'{col}_ci_high']:.4g}]"


def markdown(rows: list[dict[str, Any]], keys: list[str]) -> str:
    """A Markdown table: mean [95% t-interval] over the n seeds of each group."""
    cells = [[row[k] for k in [*keys, "n"]] + [_cell(row, c) for c in COLUMNS] for row in rows]
    return table([*keys, "n", *COLUMNS], cells)
