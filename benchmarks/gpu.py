"""The GPU checks in one go, for a machine with a CUDA card: each workload on the GPU next to
the CPU, with the card's name.

- exact ∇J (dp) on garnets of 10⁵ and 10⁶ states (A = 4, branching 5, T = 100), float32, and
  the GPU gradient's largest difference from the CPU's float64 one;
- one mini-batch gradient on FrozenLake 8x8 (T = 200) at N = 10⁴ and 10⁶ (float32);
- CartPole stepping (torch env, random actions) at N = 2²⁰.

The CPU runs the smaller size of the first two (the larger ones would take minutes there).

Every cell is the median of ``--repeats`` calls after a warm-up, with the device synchronized
around each. Prints a Markdown table and writes it, with the raw numbers, to
``benchmarks/results/gpu.md``. ``--device cpu --small`` runs the same code on small sizes, to
check the script where there is no GPU (it writes nothing).
Usage: ``python -m benchmarks.gpu [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from benchmarks.publish import publish
from pgexp.counter_rng import Stream, seed_keys, stream_keys
from pgexp.envs import make_batched_env, make_garnet, make_toy_text
from pgexp.estimators import ExactGradient, MinibatchGradient
from pgexp.hardware import device_description, synchronize
from pgexp.markdown import table
from pgexp.policies import TabularSoftmax
from pgexp.rollout import Sampler


def seconds(call: Callable[[], object], device: torch.device, repeats: int) -> float:
    call()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def exact(states: int, device: torch.device, repeats: int) -> dict[str, object]:
    mdp = make_garnet(states, 4, 5, seed=0, horizon=100)
    gen = torch.Generator().manual_seed(0)
    policy = TabularSoftmax(mdp.n_states, 4, mdp.n_policy_states, generators=[gen])
    with torch.no_grad():
        policy.theta.normal_(generator=gen)
    reference = ExactGradient(mdp).estimate(policy).grad
    on_device = mdp.to(device)
    typed = policy.to(device=device, dtype=torch.float32)
    estimator = ExactGradient(on_device)
    grad = estimator.estimate(typed).grad.double().cpu()
    error = float((grad - reference).abs().max() / reference.abs().max())
    return {"work": f"exact dp, garnet {states:,} states", "device": device_description(device),
            "seconds": seconds(lambda: estimator.estimate(typed), device, repeats),
            "note": f"max rel. difference from CPU float64: {error:.1e}"}  # fmt: skip


def minibatch(n: int, device: torch.device, repeats: int) -> dict[str, object]:
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "8x8"}, 200).to(device)
    policy = TabularSoftmax(mdp.n_states, 4, mdp.n_policy_states).to(device, torch.float32)
    estimator = MinibatchGradient(Sampler(mdp), n)
    keys = stream_keys(seed_keys([0], device), Stream.sample, 1)
    return {"work": f"mini-batch gradient, FrozenLake 8x8, N = {n:,}, T = 200",
            "device": device_description(device),
            "seconds": seconds(lambda: estimator.estimate(policy, keys), device, repeats),
            "note": f"{n * 200:.2g} steps sampled"}  # fmt: skip


def cartpole(n: int, device: torch.device, repeats: int) -> dict[str, object]:
    env = make_batched_env("cartpole", horizon=500)
    dyn = env.dynamics
    gen = torch.Generator(device=device).manual_seed(0)
    half = torch.tensor(dyn.reset_half_width, device=device)
    state = (torch.rand(n, len(half), generator=gen, device=device) * 2 - 1) * half

    def steps() -> None:
        nonlocal state
        for _ in range(100):
            action = torch.randint(2, (n,), generator=gen, device=device)
            state = dyn.step(state, action)[0]

    took = seconds(steps, device, repeats)
    return {"work": f"CartPole stepping, N = {n:,} (100 steps)",
            "device": device_description(device), "seconds": took,
            "note": f"{100 * n / took:.3g} env steps/s"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--small", action="store_true", help="small sizes (a dry run)")
    args = parser.parse_args()
    gpu = torch.device(args.device)
    devices = [gpu, torch.device("cpu")] if gpu.type == "cuda" else [gpu]
    sizes = {"exact": [1_000, 10_000], "minibatch": [1_000], "cartpole": [2**12]}
    if not args.small:
        sizes = {"exact": [100_000, 1_000_000], "minibatch": [10_000, 1_000_000],
                 "cartpole": [2**20]}  # fmt: skip
    rows: list[dict[str, object]] = []
    for device in devices:
        cut = None if device == gpu else 1  # the CPU runs the smaller size of each only
        for states in sizes["exact"][:cut]:
            rows.append(exact(states, device, args.repeats))
            print(rows[-1], flush=True)
        for n in sizes["minibatch"][:cut]:
            rows.append(minibatch(n, device, args.repeats))
            print(rows[-1], flush=True)
        for n in sizes["cartpole"]:
            rows.append(cartpole(n, device, args.repeats))
            print(rows[-1], flush=True)
    cells = [[r["work"], r["device"], f"{float(r['seconds']):.4f}", r["note"]]  # type: ignore[arg-type]
             for r in rows]  # fmt: skip
    markdown = table(["work", "device", "seconds", ""], cells, "llrl")
    if gpu.type == "cuda":
        publish("gpu", rows, markdown)
    else:
        print(markdown)  # a dry run writes nothing


if __name__ == "__main__":
    main()
