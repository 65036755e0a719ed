"""Peak memory of one mini-batch gradient against N and T, whole and in chunks.

Each cell runs one estimate (FrozenLake 4x4 with the given horizon, tabular softmax, float64,
1 torch thread) in a fresh process and reports the peak resident memory it added (the process's
high-water mark after the estimate less its resident memory before). Prints a Markdown table
and writes it, with the raw numbers, to ``benchmarks/results/``.
Usage: ``python -m benchmarks.minibatch_memory``.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from benchmarks.publish import publish
from pgexp.markdown import table

CASES = [(n, 100, None) for n in (1_000, 10_000, 100_000)] + [
    (100_000, 100, 10_000),
    (1_000_000, 100, 10_000),
    (10_000, 1_000, None),
    (10_000, 1_000, 1_000),
]


def kib(field: str) -> int:
    """A KiB figure of this process from /proc/self/status (VmRSS: now, VmHWM: the peak)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise KeyError(field)


def one(n: int, horizon: int, chunk: int | None) -> float:
    """MiB the estimate added to the peak resident memory of a fresh process."""
    code = f"""
import torch
torch.set_num_threads(1)
from benchmarks.minibatch_memory import kib
from pgexp.counter_rng import Stream, seed_keys, stream_keys
from pgexp.envs import make_toy_text
from pgexp.estimators import MinibatchGradient
from pgexp.policies import TabularSoftmax
from pgexp.rollout import Sampler
mdp = make_toy_text("FrozenLake-v1", {{"map_name": "4x4"}}, {horizon})
policy = TabularSoftmax(mdp.n_states, mdp.n_actions, mdp.n_policy_states)
estimator = MinibatchGradient(Sampler(mdp), {n}, chunk={chunk})
keys = stream_keys(seed_keys([0]), Stream.sample, 1)
before = kib("VmRSS:")
estimator.estimate(policy, keys)
print((kib("VmHWM:") - before) / 1024)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    rows: list[dict[str, object]] = []
    for n, horizon, chunk in CASES:
        rows.append({"N": n, "T": horizon, "chunk": chunk, "peak_mib": one(n, horizon, chunk)})
        print(rows[-1], file=sys.stderr, flush=True)
    head = ["N", "T", "estimator.chunk", "N·T steps", "peak added, MiB", "bytes per step held"]
    cells = []
    for r in rows:
        n, T, chunk, mib = r["N"], r["T"], r["chunk"], float(r["peak_mib"])  # type: ignore[arg-type]
        held = (chunk or n) * T  # type: ignore[operator]
        cells.append([f"{n:,}", T, chunk or "—", f"{n * T:.2e}", f"{mib:.0f}",  # type: ignore[operator]
                      f"{mib * 2**20 / held:.0f}"])  # fmt: skip
    publish("minibatch_memory", rows, table(head, cells, "rrrrrr"), threads="1 torch thread")


if __name__ == "__main__":
    main()
