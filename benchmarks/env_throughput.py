"""CartPole env-steps per second: pgexp's torch CartPole vs gymnasium's vector envs, side by side.

For each batch size N, every implementation steps N carts with uniformly random actions and
resets the terminated ones (gymnasium: its autoreset; torch: a masked reset), for at least
``--seconds`` of wall-clock time; the torch CartPole runs eager and under ``torch.compile`` (its
compilation happens in the warm-up calls, outside the timing). Prints a Markdown table and
writes it to ``benchmarks/results/``.
Usage: ``python -m benchmarks.env_throughput [--seconds 1.0] [--sizes 1 64 1024 16384 262144]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import gymnasium as gym
import numpy as np
import torch

from benchmarks.publish import publish
from pgexp.envs.cartpole import TorchCartPole
from pgexp.hardware import synchronize
from pgexp.markdown import table

SYNC_MAX_N = 16_384  # one python object per env: larger N takes minutes and GBs to build


def steps_per_second(
    step: Callable[[], None], n: int, seconds: float, sync: Callable[[], None]
) -> float:
    """Env steps (N per call) per second of ``step``, after two warm-up calls.

    The clock is read (after ``sync``, which waits for a GPU) every 8 calls.
    """
    step()
    step()
    sync()
    calls, start = 0, time.perf_counter()
    while True:
        step()
        calls += 1
        if calls % 8 == 0:
            sync()
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                return n * calls / elapsed


def advance(state: torch.Tensor, action: torch.Tensor, fresh: torch.Tensor) -> torch.Tensor:
    """One CartPole step; terminated carts restart from ``fresh``."""
    nxt, _, done = TorchCartPole.step(state, action)
    return torch.where(done[:, None], fresh, nxt)


def torch_cartpole(n: int, device: torch.device, seconds: float, compiled: bool = False) -> float:
    """Steps/s of the torch CartPole; ``compiled`` fuses step and masked reset with
    ``torch.compile`` (the env alone: ``hardware.compile=true`` compiles blocks of policy and env
    steps, ``benchmarks.rollout_compile``), random draws stay eager."""
    gen = torch.Generator(device=device).manual_seed(0)

    def fresh() -> torch.Tensor:
        u = torch.rand((n, 4), generator=gen, device=device, dtype=torch.float64)
        return TorchCartPole.reset(u, torch.float32)

    state = fresh()
    fn = torch.compile(advance, dynamic=False) if compiled else advance

    def step() -> None:
        nonlocal state
        action = torch.randint(2, (n,), generator=gen, device=device)
        state = fn(state, action, fresh())

    return steps_per_second(step, n, seconds, lambda: synchronize(device))


def gymnasium_vector(n: int, mode: str, seconds: float) -> float:
    envs = gym.make_vec("CartPole-v1", num_envs=n, vectorization_mode=mode)
    envs.reset(seed=0)
    rng = np.random.default_rng(0)
    try:
        return steps_per_second(
            lambda: envs.step(rng.integers(0, 2, size=n)), n, seconds, lambda: None
        )
    finally:
        envs.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 64, 1024, 16384, 262144])
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    rows = []
    for n in args.sizes:
        row: dict[str, float | int | None] = {"N": n}
        for device in devices:
            row[f"torch_{device.type}"] = torch_cartpole(n, device, args.seconds)
            row[f"torch_{device.type}_compiled"] = torch_cartpole(n, device, args.seconds, True)
        row["gym_numpy_vector"] = gymnasium_vector(n, "vector_entry_point", args.seconds)
        row["gym_sync"] = gymnasium_vector(n, "sync", args.seconds) if n <= SYNC_MAX_N else None
        rows.append(row)
        print(row, flush=True)
    cols = [c for c in rows[0] if c != "N"]
    ratios = [(f"torch_{d.type}{suffix}", base) for d in devices for suffix in ("", "_compiled")
              for base in ("gym_numpy_vector", "gym_sync")]  # fmt: skip
    head = ["N", *(f"{c} (steps/s)" for c in cols),
            *(f"{a} / {b.removeprefix('gym_')}" for a, b in ratios)]  # fmt: skip
    cells = [[r["N"], *(f"{r[c]:.3g}" if r[c] else "—" for c in cols),
              *(f"{r[a] / r[b]:.2f}×" if r[b] else "—" for a, b in ratios)]  # type: ignore[operator]
             for r in rows]  # fmt: skip
    publish("env_throughput", rows, table(head, cells, "r" * len(head)))


if __name__ == "__main__":
    main()
