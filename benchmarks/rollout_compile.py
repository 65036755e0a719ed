"""The CartPole rollout with ``hardware.compile`` (a compiled scan per block of steps) next to
the eager one, in one run.

Each cell samples N trajectories of the full horizon T = 500 (``check_every=None``: every step is
stepped, dead copies frozen) with pgexp's default MLP (64, 64, tanh), one run, one torch thread,
through ``BatchedEnvSampler``: eager, and with the env compiled (the whole horizon as one
compiled ``scan`` of policy draw and env step). Prints env steps per second of both, the first
call's seconds (compilation), whether both took the same actions and the largest relative
difference of their states, and gymnasium's numpy-vectorized CartPole stepping random actions
(no policy) for scale; writes them to ``benchmarks/results/``.
Usage: ``python -m benchmarks.rollout_compile [--sizes 64 256 4096] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import time

import torch

from benchmarks.env_throughput import gymnasium_vector
from benchmarks.publish import publish
from benchmarks.timing import median_seconds
from pgexp.config import Activation, NetInit
from pgexp.counter_rng import Stream, seed_keys, stream_keys
from pgexp.envs import make_batched_env
from pgexp.markdown import table
from pgexp.policies import CategoricalMLP
from pgexp.rollout import BatchedEnvSampler

HORIZON = 500


def measure(n: int, dtype: torch.dtype, repeats: int) -> dict[str, float | int | str | bool]:
    """Eager and compiled steps/s of N carts over the horizon, the compile time, agreement."""
    env = make_batched_env("cartpole", horizon=HORIZON)
    gens = [torch.Generator().manual_seed(0)]
    policy = CategoricalMLP(4, 2, [64, 64], Activation.tanh, NetInit.orthogonal, gens).to(dtype)
    keys = stream_keys(seed_keys([0]), Stream.sample, 1)
    eager, compiled = (BatchedEnvSampler(e, check_every=None) for e in (env, env.compiled()))
    tic = time.perf_counter()
    fast = compiled.sample(policy, keys, n)
    compile_s = time.perf_counter() - tic
    slow = eager.sample(policy, keys, n)
    scale = slow.states.abs().clamp_min(1e-3)
    eager_s, compiled_s = (
        median_seconds(lambda s=s: s.sample(policy, keys, n), repeats) for s in (eager, compiled)
    )
    steps = n * HORIZON
    return {"N": n, "dtype": str(dtype).removeprefix("torch."), "eager": steps / eager_s,
            "compiled": steps / compiled_s, "compile_s": compile_s,
            "same_actions": bool(torch.equal(fast.actions, slow.actions)),
            "state_rel_diff": float(((fast.states - slow.states).abs() / scale).max()),
            "numpy_env_alone": gymnasium_vector(n, "vector_entry_point", 1.0)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256, 4096])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [
        measure(n, dtype, args.repeats)
        for dtype in (torch.float64, torch.float32)
        for n in args.sizes
    ]
    head = ["N", "dtype", "eager steps/s", "compiled steps/s", "compiled / eager",
            "first call s", "same actions", "largest rel. state difference",
            "numpy env alone steps/s", "compiled / numpy"]  # fmt: skip
    cells = [[r["N"], r["dtype"], f"{r['eager']:.3g}", f"{r['compiled']:.3g}",
              f"{r['compiled'] / r['eager']:.1f}×", f"{r['compile_s']:.1f}",
              "yes" if r["same_actions"] else "no", f"{r['state_rel_diff']:.1e}",
              f"{r['numpy_env_alone']:.3g}",
              f"{r['compiled'] / r['numpy_env_alone']:.2f}×"] for r in rows]  # fmt: skip
    publish("rollout_compile", rows, table(head, cells, "rlrrrrlrrr"))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
