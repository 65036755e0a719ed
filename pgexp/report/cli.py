"""``pgexp-report PATH [PATH ...]``: table, plots and provenance of one or more multiruns."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from pgexp import errors
from pgexp.config import BanditEnvConfig, ExactEstimatorConfig, MinibatchEstimatorConfig
from pgexp.markdown import table
from pgexp.report import frontier
from pgexp.report.runs import Collection, Run, collect, group_runs, swept_keys
from pgexp.report.table import markdown, summarize, write_csv


def warn(message: str) -> None:
    errors.warn(message, program="pgexp-report")


def label(keys: list[str], values: tuple[str, ...]) -> str:
    """``estimator.N=10, train.lr=1`` (keys a group does not set are left out)."""
    pairs = [f"{k}={v}" for k, v in zip(keys, values, strict=True) if v != "-"]
    return ", ".join(pairs) or "all runs"


def runs_by_n(runs: list[Run]) -> dict[float, list[Run]]:
    """Mini-batch runs with a gradient error, by their N."""
    out: dict[float, list[Run]] = {}
    for run in runs:
        estimator = run.config.estimator
        has_error = run.metrics[0].grad_rel_err is not None
        if isinstance(estimator, MinibatchEstimatorConfig) and has_error:
            out.setdefault(float(estimator.N), []).append(run)
    return out


def final_grid(by_n: dict[float, list[Run]]) -> dict[tuple[float, float], list[float]]:
    """J_final of the mini-batch runs that have one, per (N, lr)."""
    cells: dict[tuple[float, float], list[float]] = {}
    for n, group in by_n.items():
        for run in group:
            if run.summary.J_final is not None:
                lr = run.config.train.lr
                cells.setdefault((n, lr), []).append(run.summary.J_final)
    return cells


def exact_bandit_runs(runs: list[Run]) -> list[tuple[Run, list[float]]]:
    """The runs of exact ascent on a bandit, with the bandit's rewards."""
    return [
        (r, list(r.config.env.rewards))
        for r in runs
        if isinstance(r.config.estimator, ExactEstimatorConfig)
        and isinstance(r.config.env, BanditEnvConfig)
    ]


def provenance_lines(runs: list[Run]) -> list[str]:
    head = ["run", "command", "git commit (dirty)", "torch", "gymnasium", "hydra", "device"]
    rows = []
    for r in runs:
        s, v = r.summary, r.summary.versions
        commit = f"{(s.git.get('commit') or '-')[:10]} ({s.git.get('dirty')})"
        rows.append([r.path, f"`{s.command}`", commit, s.torch_version, v.get("gymnasium"),
                     v.get("hydra-core"), s.device])  # fmt: skip
    return table(head, rows).splitlines()


def report(roots: list[Path], out: Path, levels: list[float] | None = None) -> list[str]:
    """Write the report into ``out``; return the lines of ``report.md`` (also printed)."""
    from pgexp.report import plots  # matplotlib, imported only when a report is written

    coll: Collection = collect(roots)
    for path, why in coll.skipped:
        warn(f"skipped {path}: {why}")
    for damage in coll.warnings:
        warn(damage)
    if not coll.runs:
        raise SystemExit(
            f"pgexp-report: error: no finished runs under {', '.join(map(str, roots))}"
        )
    out.mkdir(parents=True, exist_ok=True)
    keys = swept_keys(coll.runs)
    groups = group_runs(coll.runs, keys)
    rows = summarize(groups, keys)
    write_csv(rows, out / "table.csv")
    results = markdown(rows, keys)
    (out / "table.md").write_text(results + "\n")
    lines = [
        f"# pgexp report: {', '.join(map(str, roots))}",
        "",
        "Mean over the n seeds of each group [95% Student-t interval; none for n = 1].",
        "",
        results,
        "",
    ]
    labelled = {label(keys, values): runs for values, runs in groups.items()}
    for x_key in plots.X_AXES:
        lines.append(f"![{x_key}]({plots.curves(labelled, x_key, out).name})")
    if all(frontier.path(r) for r in coll.runs):
        lines.append(f"![gap]({plots.gap_curves(labelled, out).name})")
        lines += [
            "",
            "Compute to close a fraction of the gap J* − J(θ⁰) (median over the seeds that did):",
            "",
            frontier.frontier_table(labelled),
            "",
            f"![frontier]({plots.frontier(labelled, out).name})",
        ]
    key = frontier.measured(coll.runs)
    if levels and key is None:
        warn("--levels: no J and no sampled return in every record: no table of levels")
    elif levels and key is not None:
        what = "J" if key == "J" else "the mean sampled return"
        lines += ["", f"Compute to reach each level of {what} (median over the seeds that did):",
                  "", frontier.level_table(labelled, key, levels)]  # fmt: skip
    by_n = runs_by_n(coll.runs)
    if len(by_n) > 1:
        refs = {str(r.summary.grad_reference) for rs in by_n.values() for r in rs}
        reference = refs.pop() if len(refs) == 1 else "mixed references"
        path, slope = plots.grad_error_vs_n(by_n, out, reference)
        against = {"exact": "the exact gradient", "exact natural": "the exact natural gradient"}
        against_text = against.get(reference, f"a reference {reference}")
        lines += [
            "",
            f"Gradient error vs N against {against_text}: fitted slope {slope:.3f} (theory −1/2).",
            f"![grad error]({path.name})",
        ]
    grid = final_grid(by_n)
    if len({n for n, _ in grid}) > 1 and len({lr for _, lr in grid}) > 1:
        lines += ["", f"![heatmap]({plots.heatmap(grid, out).name})"]
    bandits = exact_bandit_runs(coll.runs)
    if bandits:
        best = max(max(rewards) for _, rewards in bandits)
        path, slope = plots.suboptimality([r for r, _ in bandits], best, out)
        lines += [
            "",
            f"Sub-optimality of exact softmax PG: fitted slope {slope:.3f} (theory −1).",
            f"![suboptimality]({path.name})",
        ]
    if coll.skipped:
        lines += ["", "Skipped jobs:", *(f"- {p}: {why}" for p, why in coll.skipped)]
    if coll.warnings:
        lines += ["", "Read in part:", *(f"- {damage}" for damage in coll.warnings)]
    lines += ["", "## Provenance", "", *provenance_lines(coll.runs)]
    (out / "report.md").write_text("\n".join(lines) + "\n")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="pgexp-report", description=__doc__)
    parser.add_argument("paths", nargs="+", type=Path, help="multirun (or run) directories")
    parser.add_argument("--out", type=Path, help="output folder (default: FIRST_PATH/report)")
    parser.add_argument("--levels", type=float, nargs="+", metavar="LEVEL",
                        help="also table the env steps and seconds each group needs to reach "
                        "these levels of J (else of the mean sampled return)")  # fmt: skip
    args = parser.parse_args(argv)
    paths = [p for p in args.paths if p.is_dir()]
    for missing in (p for p in args.paths if not p.is_dir()):
        warn(f"{missing} is not a directory: left out")
    if not paths:
        parser.error("none of the paths is a directory")
    out = args.out or paths[0] / "report"
    try:
        lines = report(paths, out, args.levels)
    except OSError as err:  # a read-only or full file system
        raise SystemExit(
            f"pgexp-report: error: cannot write the report into {out}: {err.strerror or err} "
            "(choose another folder with --out)"
        ) from None
    shown = lines[: lines.index("## Provenance")]  # the provenance table stays in report.md
    print("\n".join(line for line in shown if not line.startswith("![")).rstrip())
    figures = ", ".join(str(p) for p in sorted(out.glob("*.png")))
    print(f"\nwrote {out / 'report.md'}, table.csv, table.md; figures: {figures}", file=sys.stderr)


if __name__ == "__main__":
    main()
