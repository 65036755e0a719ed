"""A whole block of CartPole rollout steps under ``torch.compile``, next to eager, in one run.

The block is 16 calls of ``BatchedEnvSampler.advance`` (the MLP policy's draw and the env's
step: what the sampler runs between two checks for ended episodes) with pgexp's default MLP
(64, 64, tanh), float64, one run of N carts, compiled whole with ``torch.compile(fullgraph=True,
dynamic=False)``. Prints env steps per second of both, the compilation's seconds, whether the
compiled block reproduces the eager one bit for bit, and gymnasium's numpy-vectorized CartPole
stepping random actions (no policy) for scale; writes them to ``benchmarks/results/``.
Usage: ``python -m benchmarks.rollout_compile [--sizes 64 256] [--calls 30]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from benchmarks.env_throughput import gymnasium_vector
from benchmarks.publish import publish
from benchmarks.timing import median_seconds
from pgexp.config import Activation, NetInit
from pgexp.envs import make_batched_env
from pgexp.markdown import table
from pgexp.policies import CategoricalMLP
from pgexp.rollout import BatchedEnvSampler

BLOCK = 16

Block = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]


def rollout_block(sampler: BatchedEnvSampler, policy: CategoricalMLP) -> Block:
    """(states, done, uniforms [BLOCK, 1, R, N]) -> the states and done after BLOCK steps and
    the steps' observations, actions, rewards and alive flags, stacked."""

    def block(state: torch.Tensor, done: torch.Tensor, u: torch.Tensor) -> tuple[torch.Tensor, ...]:
        steps = []
        for k in range(BLOCK):
            state, done, step = sampler.advance(policy, state, done, u[k])
            steps.append(step)
        return state, done, *(torch.stack(x) for x in zip(*steps, strict=True))

    return block


@torch.no_grad()
def measure(n: int, calls: int) -> dict[str, float | int | bool]:
    """Eager and compiled steps/s of a block of N carts, the compile time, bit-equality."""
    sampler = BatchedEnvSampler(make_batched_env("cartpole", horizon=500))
    gens = [torch.Generator().manual_seed(0)]
    policy = CategoricalMLP(4, 2, [64, 64], Activation.tanh, NetInit.orthogonal, gens)
    gen = torch.Generator().manual_seed(1)
    state = (torch.rand((n, 4), generator=gen, dtype=torch.float64) - 0.5) * 0.1
    args = (state, torch.zeros(n, dtype=torch.bool),
            torch.rand((BLOCK, 1, 1, n), generator=gen, dtype=torch.float64))  # fmt: skip
    eager = rollout_block(sampler, policy)
    compiled = torch.compile(eager, fullgraph=True, dynamic=False)
    tic = time.perf_counter()
    compiled(*args)
    compile_s = time.perf_counter() - tic
    same = all(torch.equal(a, b) for a, b in zip(eager(*args), compiled(*args), strict=True))
    eager_s, compiled_s = (median_seconds(lambda f=f: f(*args), calls) for f in (eager, compiled))
    return {"N": n, "eager": BLOCK * n / eager_s, "compiled": BLOCK * n / compiled_s,
            "compile_s": compile_s, "bitwise_equal": same,
            "numpy_env_alone": gymnasium_vector(n, "vector_entry_point", 1.0)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[64, 256])
    parser.add_argument("--calls", type=int, default=30)
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = [measure(n, args.calls) for n in args.sizes]
    head = ["N", "eager steps/s", "compiled steps/s", "compiled / eager", "compile s", "bit-equal",
            "numpy env alone steps/s", "compiled / numpy"]  # fmt: skip
    cells = [[r["N"], f"{r['eager']:.3g}", f"{r['compiled']:.3g}",
              f"{r['compiled'] / r['eager']:.1f}×", f"{r['compile_s']:.0f}",
              "yes" if r["bitwise_equal"] else "no", f"{r['numpy_env_alone']:.3g}",
              f"{r['compiled'] / r['numpy_env_alone']:.2f}×"] for r in rows]  # fmt: skip
    publish("rollout_compile", rows, table(head, cells, "rrrrrlrr"))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
