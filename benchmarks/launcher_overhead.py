"""Per-job overhead of each Hydra launcher pgexp runs on: what a job costs beyond its training.

Each cell times a whole ``pgexp -m`` command of one-iteration bandit jobs (training takes
milliseconds), with 1 and with 8 seeds; the per-job overhead is the difference divided by 7, and
the start-up is the one-job time less that. ``slurm`` and ``batched_slurm`` need a cluster
(``scripts/slurm-local.sh start``) and are left out without one.
Prints a Markdown table and writes it, with the raw numbers, to ``benchmarks/results/``.
Usage: ``python -m benchmarks.launcher_overhead``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import PGEXP
from benchmarks.publish import publish
from pgexp.markdown import table

JOB = [
    "env=bandit",
    "train.iters=1",
    "train.eval_episodes=0",
    "logger=none",
    "train.progress=false",
]
LAUNCHERS = {
    "basic": ["hydra/launcher=basic"],
    "batched": ["hydra/launcher=batched"],
    "joblib (2 workers)": ["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"],
    "submitit_local": ["hydra/launcher=submitit_local"],
    "slurm (local one-node cluster)": ["hydra/launcher=slurm"],
    "batched_slurm (same cluster)": ["hydra/launcher=batched_slurm"],
}


def slurm_up() -> bool:
    """A SLURM node is idle (waiting up to 30 s for one that is finishing jobs)."""
    if shutil.which("sinfo") is None:
        return False
    for _ in range(30):
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True,
                             check=False)  # fmt: skip
        if out.returncode == 0 and "idle" in out.stdout:
            return True
        time.sleep(1)
    return False


def wall_seconds(args: list[str], cwd: Path) -> float:
    start = time.perf_counter()
    out = subprocess.run([PGEXP, "-m", *args], cwd=cwd, capture_output=True, text=True,
                         check=False)  # fmt: skip
    if out.returncode != 0:
        raise RuntimeError(f"pgexp -m {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return time.perf_counter() - start


def measure() -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, launcher in LAUNCHERS.items():
            if "slurm" in name and not slurm_up():
                continue
            times = {}
            for jobs in (1, 8):
                sweep = f"hydra.sweep.dir={tmp}/{len(rows)}-{jobs}"
                times[jobs] = wall_seconds([*launcher, *JOB, f"seed=range(0,{jobs})", sweep],
                                           Path(tmp))  # fmt: skip
            per_job = (times[8] - times[1]) / 7
            rows.append({"launcher": name, "one_job_s": times[1], "eight_jobs_s": times[8],
                         "per_job_s": per_job, "startup_s": times[1] - per_job})  # fmt: skip
            print(f"{name}: {times[1]:.1f} s / {times[8]:.1f} s", file=sys.stderr)
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    head = ["launcher", "1 job, s", "8 jobs, s", "per extra job, s", "start-up, s"]
    cells = [[r["launcher"], f"{r['one_job_s']:.1f}", f"{r['eight_jobs_s']:.1f}",
              f"{r['per_job_s']:.2f}", f"{r['startup_s']:.1f}"] for r in rows]  # fmt: skip
    return table(head, cells, "lrrrr")


def main() -> None:
    rows = measure()
    publish("launcher_overhead", rows, markdown(rows))


if __name__ == "__main__":
    main()
