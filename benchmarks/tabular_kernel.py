"""The finite-MDP sampler with its C kernel (``pgexp.native``) next to its torch loop, in one run.

Each cell samples N trajectories of T steps of FrozenLake 8x8 (slippery) from one run's random
tabular softmax, one torch thread, with ``Sampler(mdp, fused=False)`` (per step: the draws'
block, an add, a ``searchsorted`` and a gather over the batch) and ``Sampler(mdp)`` (the whole
loop in C: Threefry, a search of the state's own entries and the next state, per trajectory),
median of ``--repeats`` calls; checks that both return the same trajectories, bit for bit.
Also times building the kernel in an empty cache (what the first pgexp process on a machine
pays). Prints a Markdown table and writes it, with the raw numbers, to ``benchmarks/results/``.
Usage: ``python -m benchmarks.tabular_kernel [--sizes 100 1000 10000] [--repeats 7]``.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import torch

from benchmarks.publish import publish
from benchmarks.timing import median_seconds
from pgexp import native
from pgexp.config import TableInit
from pgexp.counter_rng import Stream, seed_keys, stream_keys
from pgexp.envs import make_toy_text
from pgexp.markdown import table
from pgexp.policies import TabularSoftmax
from pgexp.rollout import Sampler

HORIZON = 200


def build_seconds() -> float:
    """Seconds to compile and load the kernel into an empty cache directory."""
    with tempfile.TemporaryDirectory() as tmp:
        previous = os.environ.get("PGEXP_CACHE_DIR")
        os.environ["PGEXP_CACHE_DIR"] = tmp
        native.library.cache_clear()
        try:
            start = time.perf_counter()
            if native.library("tabular_rollout") is None:
                raise RuntimeError("the kernel could not be built here")
            return time.perf_counter() - start
        finally:
            native.library.cache_clear()
            if previous is None:
                del os.environ["PGEXP_CACHE_DIR"]
            else:
                os.environ["PGEXP_CACHE_DIR"] = previous


def measure(n: int, repeats: int) -> dict[str, float | int | bool]:
    """Median seconds of both samplers for N trajectories, and whether they agree."""
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "8x8"}, horizon=HORIZON)
    gens = [torch.Generator().manual_seed(0)]
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions, mdp.n_policy_states,
                            TableInit.normal, 1.0, gens)  # fmt: skip
    keys = stream_keys(seed_keys([0]), Stream.sample, 1)
    plain, fused = Sampler(mdp, fused=False), Sampler(mdp)
    a, b = plain.sample(policy, keys, n), fused.sample(policy, keys, n)
    same = all(torch.equal(getattr(a, f), getattr(b, f)) for f in ("states", "actions", "rewards"))
    plain_s, fused_s = (
        median_seconds(lambda s=s: s.sample(policy, keys, n), repeats) for s in (plain, fused)
    )
    return {"N": n, "plain_s": plain_s, "fused_s": fused_s, "bitwise_equal": same}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1000, 10000])
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(1)
    build = build_seconds()
    rows: list[dict[str, object]] = [{"build_s": build}]
    cells = []
    for n in args.sizes:
        row = measure(n, args.repeats)
        rows.append(dict(row))
        steps = n * HORIZON
        cells.append([n, f"{row['plain_s'] * 1e3:.2f}", f"{row['fused_s'] * 1e3:.2f}",
                      f"{float(row['plain_s']) / float(row['fused_s']):.1f}×",
                      f"{steps / float(row['fused_s']):.3g}",
                      "yes" if row["bitwise_equal"] else "no"])  # fmt: skip
    head = ["N", "torch loop ms", "C kernel ms", "speed-up", "C kernel steps/s", "bit-equal"]
    text = table(head, cells, "rrrrrl") + f"\n\nBuilding the kernel (first use): {build:.2f} s"
    publish("tabular_kernel", rows, text)


if __name__ == "__main__":
    main()
