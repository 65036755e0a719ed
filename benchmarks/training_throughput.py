"""Whole training iterations of pgexp next to bare gymnasium stepping, in the same run.

Three workloads, each a real ``pgexp`` command (``logger=none``, no final evaluation, no exact
diagnostics) whose per-iteration times are read back from its ``metrics.jsonl`` (iterations
after the first two, the warm-up):

- ``frozenlake``: FrozenLake 8x8, N = 1000, T = 200, tabular softmax; one iteration = sampling,
  gradient and update. The alternative steps gymnasium's ``SyncVectorEnv`` of 1000 FrozenLake
  8x8 envs for 200 steps with random actions (what one iteration's sampling would cost there).
- ``cartpole``: CartPole, MLP policy, N = 256 (pgexp's defaults otherwise); env steps per
  second of training. The alternative steps gymnasium's numpy-vectorized CartPole
  (``CartPoleVectorEnv``, 256 carts) with random actions.
- ``cartpole_compiled``: the same with ``hardware.compile=true`` (compiled rollouts; the first
  iteration, which compiles, is among those dropped).

Each pgexp workload runs with 1 torch thread and with one per core, on an idle machine and next
to a busy process (a Python loop on one core, as a second job of a sweep would be). Prints a
Markdown table and writes it, with the raw numbers, to ``benchmarks/results/``.
Usage: ``python -m benchmarks.training_throughput [--iters 12]``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import gymnasium as gym
import numpy as np

from benchmarks import PGEXP
from benchmarks.publish import publish
from pgexp.markdown import table

COMMON = [
    "logger=none",
    "train.progress=false",
    "train.eval_episodes=0",
    "train.exact_metrics=false",
]
WORKLOADS = {
    "frozenlake": ["env=frozenlake8x8", "estimator=minibatch", "estimator.N=1000"],
    "cartpole": ["env=cartpole", "policy=mlp", "estimator=minibatch", "estimator.N=256"],
    "cartpole_compiled": [
        "env=cartpole", "policy=mlp", "estimator=minibatch", "estimator.N=256",
        "hardware.compile=true",
    ],
}  # fmt: skip


@contextmanager
def busy_core(on: bool) -> Iterator[None]:
    """A process spinning on one core while the block runs (when ``on``)."""
    if not on:
        yield
        return
    proc = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


def pgexp_iterations(args: list[str], iters: int, threads: str) -> list[dict[str, float]]:
    """Per-iteration seconds and env steps of one pgexp run (the first two dropped)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run(
            [PGEXP, *args, *COMMON, f"train.iters={iters}", f"hardware.threads={threads}",
             f"hydra.run.dir={tmp}/run"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if out.returncode != 0:
            raise RuntimeError(out.stderr[-2000:])
        lines = Path(tmp, "run", "metrics.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    return [
        {"seconds": b["time_s"] - a["time_s"], "env_steps": b["env_steps"] - a["env_steps"]}
        for a, b in itertools.pairwise(records[1:])
    ]


def sync_frozenlake_seconds(n: int, horizon: int) -> float:
    """Seconds to step ``n`` FrozenLake 8x8 envs (SyncVectorEnv) ``horizon`` times at random."""
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("FrozenLake-v1", map_name="8x8") for _ in range(n)]
    )
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    start = time.perf_counter()
    for _ in range(horizon):
        envs.step(rng.integers(0, 4, size=n))
    seconds = time.perf_counter() - start
    envs.close()
    return seconds


def numpy_cartpole_steps_per_second(n: int, seconds: float = 2.0) -> float:
    """Env steps per second of gymnasium's numpy-vectorized CartPole, random actions."""
    envs = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    calls, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        envs.step(rng.integers(0, 2, size=n))
        calls += 1
    rate = n * calls / (time.perf_counter() - start)
    envs.close()
    return rate


def measure(iters: int) -> list[dict[str, object]]:
    cores = str(os.cpu_count() or 1)
    numpy_rate = numpy_cartpole_steps_per_second(256)
    alternative = {
        "frozenlake": sync_frozenlake_seconds(1000, 200),
        "cartpole": numpy_rate,
        "cartpole_compiled": numpy_rate,
    }
    rows: list[dict[str, object]] = []
    for name, args in WORKLOADS.items():
        for threads in ("1", cores):
            for busy in (False, True):
                with busy_core(busy):
                    its = pgexp_iterations(args, iters, threads)
                seconds = statistics.median(i["seconds"] for i in its)
                worst = max(i["seconds"] for i in its)
                rate = sum(i["env_steps"] for i in its) / sum(i["seconds"] for i in its)
                rows.append({"workload": name, "threads": threads, "busy_core": busy,
                             "median_s": seconds, "worst_s": worst, "steps_per_s": rate,
                             "alternative": alternative[name]})  # fmt: skip
                print(rows[-1], file=sys.stderr, flush=True)
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    head = ["workload", "torch threads", "another process busy",
            "pgexp s per iteration (median, worst)", "pgexp env steps/s", "alternative",
            "ratio"]  # fmt: skip
    cells = []
    for r in rows:
        median, worst = float(r["median_s"]), float(r["worst_s"])  # type: ignore[arg-type]
        rate, alt = float(r["steps_per_s"]), float(r["alternative"])  # type: ignore[arg-type]
        if r["workload"] == "frozenlake":
            alt_cell, ratio = f"SyncVectorEnv stepping: {alt:.2f} s", f"{alt / median:.0f}× faster"
        else:
            alt_cell, ratio = f"numpy CartPole: {alt:.3g} steps/s", f"{rate / alt:.3f}×"
        cells.append([r["workload"], r["threads"], "yes" if r["busy_core"] else "no",
                      f"{median:.3f} ({worst:.3f})", f"{rate:.3g}", alt_cell, ratio])  # fmt: skip
    return table(head, cells, "lrlrrrr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--iters", type=int, default=12)
    args = parser.parse_args()
    rows = measure(args.iters)
    publish("training_throughput", rows, markdown(rows), threads="threads as in the table")


if __name__ == "__main__":
    main()
