"""Time per gradient: exact (dp) on the toy-text MDPs, mini-batch at several N, per device.

Prints a Markdown table and writes it, with the raw numbers, to ``benchmarks/results/``.
Usage: ``python -m benchmarks.gradient_timing [--repeats 5] [--device cpu|cuda|all]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from benchmarks.publish import publish
from pgexp.counter_rng import Stream, seed_keys, stream_keys
from pgexp.envs import FiniteMDP, make_toy_text
from pgexp.estimators import ExactGradient, GradientEstimator, MinibatchGradient
from pgexp.hardware import device_description, synchronize
from pgexp.markdown import table
from pgexp.policies import TabularSoftmax
from pgexp.rollout import Sampler

ENVS = {
    "FrozenLake 4x4 (T=100)": ("FrozenLake-v1", {"map_name": "4x4"}, 100),
    "FrozenLake 8x8 (T=200)": ("FrozenLake-v1", {"map_name": "8x8"}, 200),
    "CliffWalking (T=100)": ("CliffWalking-v1", {}, 100),
    "Taxi (T=200)": ("Taxi-v4", {}, 200),
}
BATCH_SIZES = (10, 100, 1000, 10000)


def median_seconds(
    estimator: GradientEstimator, policy: TabularSoftmax, device: torch.device, repeats: int
) -> float:
    """Median wall-clock seconds of one estimate (iterations 1, 2, ... of a run seeded 0) after
    one warm-up call."""
    run_keys = seed_keys([0], device)
    estimator.estimate(policy, stream_keys(run_keys, Stream.sample, 0))
    times = []
    for k in range(1, repeats + 1):
        keys = stream_keys(run_keys, Stream.sample, k)
        synchronize(device)
        start = time.perf_counter()
        estimator.estimate(policy, keys)
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def policy_on(mdp: FiniteMDP, device: torch.device, dtype: torch.dtype) -> TabularSoftmax:
    policy = TabularSoftmax(mdp.n_states, mdp.n_actions, mdp.n_policy_states)
    return policy.to(device=device, dtype=dtype)


def measure(device: torch.device, dtype: torch.dtype, repeats: int) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for name, (env_id, kwargs, horizon) in ENVS.items():
        mdp = make_toy_text(env_id, kwargs, horizon).to(device)
        policy = policy_on(mdp, device, dtype)
        exact = ExactGradient(mdp)
        seconds = median_seconds(exact, policy, device, repeats)
        rows.append({"env": name, "estimator": "exact dp", "N": None, "seconds": seconds})
        if not name.startswith("FrozenLake 4x4"):
            continue
        sampler = Sampler(mdp)
        for n in BATCH_SIZES:
            est = MinibatchGradient(sampler, n)
            seconds = median_seconds(est, policy, device, repeats)
            rows.append({"env": name, "estimator": "minibatch", "N": n, "seconds": seconds})
    for row in rows:
        row.update(device=device_description(device), dtype=str(dtype).removeprefix("torch."))
    return rows


def markdown(rows: list[dict[str, object]]) -> str:
    head = ["device", "dtype", "env", "estimator", "N", "ms per gradient"]
    cells = [[r["device"], r["dtype"], r["env"], r["estimator"], "" if r["N"] is None else r["N"],
              f"{1000 * float(r['seconds']):.1f}"] for r in rows]  # type: ignore[arg-type]  # fmt: skip
    return table(head, cells, "llllrr")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--device", choices=["cpu", "cuda", "all"], default="all")
    args = parser.parse_args()
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    rows: list[dict[str, object]] = []
    for dev in devices:
        if dev == "cuda" and not torch.cuda.is_available():
            continue
        dtype = torch.float64 if dev == "cpu" else torch.float32
        rows += measure(torch.device(dev), dtype, args.repeats)
    publish("gradient_timing", rows, markdown(rows))


if __name__ == "__main__":
    main()
