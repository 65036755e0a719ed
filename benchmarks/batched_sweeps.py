"""Wall time of seed sweeps from the command line: the batched launcher against Hydra's basic one.

Each cell runs ``pgexp`` as a user would (a fresh process, Hydra composing every job, files
written, ``logger=none`` unless the row says W&B) and times the whole command. One seed alone is
a single run (``pgexp ...`` without ``-m``): the unit of the ``× one seed`` column.
Prints a Markdown table and writes it, with the raw numbers, to ``benchmarks/results/``.
Usage: ``python -m benchmarks.batched_sweeps [--workload frozenlake|cartpole|all]
[--device cpu|gpu]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import PGEXP
from benchmarks.publish import publish
from pgexp.markdown import table

WORKLOADS = {
    "FrozenLake 4x4, N=100, 30 iterations": [
        "env=frozenlake4x4", "estimator=minibatch", "estimator.N=100", "train.iters=30",
    ],
    "CartPole, MLP, N=64, 20 iterations": [
        "env=cartpole", "policy=mlp", "estimator=minibatch", "estimator.N=64",
        "train.optimizer=adam", "train.lr=0.005", "train.iters=20",
    ],
}  # fmt: skip
# (launcher, seeds, logger): None launcher is the single run
CELLS = [
    (None, 1, "none"),
    ("basic", 1, "none"),
    ("basic", 8, "none"),
    ("batched", 1, "none"),
    ("batched", 8, "none"),
    ("batched", 64, "none"),
    ("batched", 64, "wandb"),
]


def wall_seconds(args: list[str], cwd: Path) -> float:
    """Seconds from start to exit of ``pgexp *args``; raises if it fails."""
    start = time.perf_counter()
    out = subprocess.run([PGEXP, *args], cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"pgexp {' '.join(args)} failed:\n{out.stderr[-2000:]}")
    return seconds


def command(workload: list[str], launcher: str | None, seeds: int, logger: str, device: str,
            out: Path) -> list[str]:  # fmt: skip
    common = [*workload, f"hardware={device}", f"logger={logger}", "train.progress=false"]
    if launcher is None:
        return [*common, "seed=0", f"hydra.run.dir={out}"]
    return ["-m", f"hydra/launcher={launcher}", *common, f"seed=range(0,{seeds})",
            f"hydra.sweep.dir={out}"]  # fmt: skip


def measure(names: list[str], device: str) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            alone = None
            for i, (launcher, seeds, logger) in enumerate(CELLS):
                out = Path(tmp) / f"{len(rows)}"
                seconds = wall_seconds(
                    command(WORKLOADS[name], launcher, seeds, logger, device, out), Path(tmp)
                )
                alone = seconds if i == 0 else alone
                rows.append({
                    "workload": name, "launcher": launcher or "single run", "seeds": seeds,
                    "logger": logger, "seconds": seconds, "per_seed": seconds / seeds,
                    "vs_one_seed": seconds / alone,
                })  # fmt: skip
                print(f"{name} | {rows[-1]['launcher']} | {seeds} | {logger} | {seconds:.1f} s",
                      file=sys.stderr)  # fmt: skip
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    head = ["workload", "launcher", "seeds", "W&B", "wall s", "s per seed", "× one seed"]
    cells = [[r["workload"], r["launcher"], r["seeds"],
              "offline" if r["logger"] == "wandb" else "off", f"{r['seconds']:.1f}",
              f"{r['per_seed']:.2f}", f"{r['vs_one_seed']:.1f}×"] for r in rows]  # fmt: skip
    return table(head, cells, "llrlrrr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workload", choices=["frozenlake", "cartpole", "all"], default="all")
    parser.add_argument("--device", choices=["cpu", "gpu"], default="cpu")
    args = parser.parse_args()
    names = [n for n in WORKLOADS if args.workload in ("all", n.split(",")[0].split()[0].lower())]
    rows = measure(names, args.device)
    stem = "batched_sweeps" + ("_gpu" if args.device == "gpu" else "")
    publish(stem, rows, markdown(rows), threads="1 torch thread per process")


if __name__ == "__main__":
    main()
