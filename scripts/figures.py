"""Regenerate the figures of the README and docs/ from their experiments, and check every sweep
the batched launcher trains against the same jobs run alone.

Each experiment below runs as it is configured (the CartPole, Pendulum and FrozenLake sweeps
train their seeds and rates as batches through ``hydra/launcher=batched``) and again through
Hydra's basic launcher, which trains each job alone; job by job, the two must write the same
metrics and summaries, timing keys aside. Then ``pgexp-report`` reads the batched sweep and
its figures are copied into ``docs/figures/`` under the names the docs use. Prints one line
per experiment and the report tables; exits 1 if any job differs.

Usage (from the repository root, after ``make install``)::

    .venv/bin/python scripts/figures.py [--only pendulum cartpole ...] [--out outputs/figures]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

from pgexp.metrics import read_metrics

ROOT = Path(__file__).resolve().parent.parent
PGEXP = str(Path(sys.executable).with_name("pgexp"))
REPORT = str(Path(sys.executable).with_name("pgexp-report"))

FIGURES = {
    "exact_vs_minibatch": {
        "curves_vs_iter.png": "exact_vs_minibatch_iter.png",
        "curves_vs_env_steps.png": "exact_vs_minibatch_env_steps.png",
        "grad_error_vs_N.png": "exact_vs_minibatch_grad_error.png",
    },
    "n_lr_grid": {"heatmap_J_final.png": "n_lr_grid_heatmap.png"},
    "cartpole": {"curves_vs_env_steps.png": "cartpole_return_vs_env_steps.png"},
    "cartpole_n_sweep": {
        "curves_vs_env_steps.png": "cartpole_n_sweep_env_steps.png",
        "curves_vs_time.png": "cartpole_n_sweep_time.png",
    },
    "cartpole_grad_error": {"grad_error_vs_N.png": "cartpole_grad_error_vs_N.png"},
    "cartpole_natural": {"curves_vs_env_steps.png": "cartpole_natural_env_steps.png"},
    "pendulum": {"curves_vs_iter.png": "pendulum_return_vs_iter.png"},
    "time_dependent": {"gap_vs_iter.png": "time_dependent_gap.png"},
    "cliff_natural": {"gap_vs_iter.png": "cliff_natural_gap.png"},
    "compute_frontier": {"frontier.png": "compute_frontier.png"},
}
"""Per experiment: the report's figure -> its name in docs/figures/."""
EXTRA = {"exact_vs_minibatch": "exact_baseline", "compute_frontier": "compute_frontier_exact"}
"""An experiment whose report also reads a second sweep, run into ``<sweep>/exact``."""
SUMMARY_KEYS = ("J_final", "return_final", "eval_episodes", "iters", "env_steps",
                "trajectories", "status", "seed", "grad_reference")  # fmt: skip


def sweep(experiment: str, directory: Path, *overrides: str) -> None:
    """``pgexp -m +experiment=NAME`` into ``directory`` (no W&B); raises if it fails."""
    command = [PGEXP, "-m", f"+experiment={experiment}", "logger=none",
               f"hydra.sweep.dir={directory}", *overrides]  # fmt: skip
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)


def numbers(job: Path) -> tuple[list[dict[str, object]], dict[str, object]]:
    """A job's metrics without timing and the summary keys a seed and a config decide."""
    records = [
        {k: v for k, v in dataclasses.asdict(r).items() if k != "time_s"}
        for r in read_metrics(job / "metrics.jsonl")
    ]
    summary = json.loads((job / "summary.json").read_text())
    return records, {k: summary[k] for k in SUMMARY_KEYS}


def differing_jobs(batched: Path, alone: Path) -> list[str]:
    """The job directories whose numbers differ between the two sweeps (same job numbers)."""
    jobs = sorted(p.name for p in batched.iterdir() if (p / "summary.json").is_file())
    assert jobs, f"no finished job in {batched}"
    return [j for j in jobs if numbers(batched / j) != numbers(alone / j)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only", nargs="+", choices=sorted(FIGURES), default=sorted(FIGURES))
    parser.add_argument("--out", type=Path, default=ROOT / "outputs" / "figures")
    args = parser.parse_args()
    failed = False
    for experiment in args.only:
        batched, alone = args.out / experiment / "batched", args.out / experiment / "alone"
        shutil.rmtree(args.out / experiment, ignore_errors=True)
        sweep(experiment, batched)
        sweep(experiment, alone, "hydra/launcher=basic")
        differ = differing_jobs(batched, alone)
        failed |= bool(differ)
        verdict = f"no, jobs {differ} differ" if differ else "yes"
        print(f"{experiment}: the batched sweep computes what its jobs compute alone: {verdict}")
        if experiment in EXTRA:
            sweep(EXTRA[experiment], batched / "exact")
        subprocess.run([REPORT, str(batched)], cwd=ROOT, check=True)
        for source, target in FIGURES[experiment].items():
            shutil.copyfile(batched / "report" / source, ROOT / "docs" / "figures" / target)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
