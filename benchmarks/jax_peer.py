"""pgexp against the JAX peer (``benchmarks.jax_reinforce``): the same REINFORCE, whole commands
side by side, interleaved.

Each cell times a fresh process from start to exit, as a user would run it: ``pgexp -m
hydra/launcher=batched ... seed=range(0,S)`` (Hydra composing every job, files written,
``logger=none``, one torch thread) and ``python -m benchmarks.jax_reinforce <workload> --seeds
S`` (``jit(vmap(train))``, compilation included, one XLA thread). Repeats alternate the two, so
that a busy moment of the machine falls on both; the table gives the range over repeats, the
ratio of the medians and each side's mean return at the last iteration (both must learn). pgexp
also runs a variant of each workload (:data:`VARIANTS`): FrozenLake with
``train.exact_metrics=false`` (the peer computes no exact J and ∇J at every iteration), CartPole
with ``hardware.compile=true`` (the peer's rollout is one compiled program too).
Skips, saying so, where JAX is not installed (``pip install -e ".[peer]"``).

Usage: ``python -m benchmarks.jax_peer [--cartpole-seeds 1 8] [--frozenlake-seeds 1 8 64]
[--repeats 2]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import PGEXP
from benchmarks.publish import publish
from pgexp.markdown import table

PGEXP_ARGS = {
    "cartpole": [
        "env=cartpole", "policy=mlp", "estimator=minibatch", "estimator.N=64",
        "estimator.returns=reward_to_go", "estimator.baseline=leave_one_out",
        "train.optimizer=adam", "train.lr=0.005", "train.iters=150", "hardware.dtype=float32",
    ],
    "frozenlake": ["env=frozenlake4x4", "estimator=minibatch", "estimator.N=100", "train.iters=30"],
}  # fmt: skip
"""pgexp's side of each workload of ``benchmarks.jax_reinforce`` (the same settings)."""
VARIANTS = {"cartpole": "hardware.compile=true", "frozenlake": "train.exact_metrics=false"}
"""The override of pgexp's second cell of each workload."""
TITLES = {
    "cartpole": "CartPole, MLP [64, 64], N = 64, Adam, 150 iterations",
    "frozenlake": "FrozenLake 4x4, N = 100, SGD, 30 iterations",
}


def timed(command: list[str], cwd: Path) -> tuple[float, str]:
    """Seconds from start to exit of ``command`` and its stdout; raises if it fails."""
    start = time.perf_counter()
    out = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{out.stderr[-2000:]}")
    return seconds, out.stdout


def pgexp_cell(workload: str, seeds: int, work: Path, *extra: str) -> tuple[float, float]:
    """Seconds of the batched sweep of ``seeds`` seeds, and its mean last-iteration return."""
    sweep = Path(tempfile.mkdtemp(dir=work))
    seconds, _ = timed([PGEXP, "-m", "hydra/launcher=batched", *PGEXP_ARGS[workload], *extra,
                        "logger=none", "train.progress=false", "train.eval_episodes=0",
                        f"seed=range(0,{seeds})", f"hydra.sweep.dir={sweep}"], work)  # fmt: skip
    finals = [json.loads(path.read_text().splitlines()[-1])["return_mean"]
              for path in sweep.glob("*/metrics.jsonl")]  # fmt: skip
    return seconds, statistics.fmean(finals)


def jax_cell(workload: str, seeds: int, work: Path) -> tuple[float, float]:
    """Seconds of the JAX peer training ``seeds`` seeds, and its mean last-iteration return."""
    command = [sys.executable, "-m", "benchmarks.jax_reinforce", workload, f"--seeds={seeds}"]
    seconds, out = timed(command, Path(__file__).resolve().parent.parent)
    return seconds, statistics.fmean(json.loads(out.splitlines()[-1])["final_return"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cartpole-seeds", type=int, nargs="*", default=[1, 8])
    parser.add_argument("--frozenlake-seeds", type=int, nargs="*", default=[1, 8, 64])
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if importlib.util.find_spec("jax") is None:
        print('jax_peer: skipped: jax is not installed (pip install -e ".[peer]")')
        return
    cells = [("frozenlake", s) for s in args.frozenlake_seeds]
    cells += [("cartpole", s) for s in args.cartpole_seeds]
    rows, lines = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for workload, seeds in cells:
            ours: list[tuple[float, float]] = []
            variant: list[tuple[float, float]] = []
            theirs: list[tuple[float, float]] = []
            for _ in range(args.repeats):
                ours.append(pgexp_cell(workload, seeds, Path(tmp)))
                variant.append(pgexp_cell(workload, seeds, Path(tmp), VARIANTS[workload]))
                theirs.append(jax_cell(workload, seeds, Path(tmp)))
            mine, other, peer = ([s for s, _ in c] for c in (ours, variant, theirs))
            ratios = [statistics.median(x) / statistics.median(peer) for x in (mine, other)]
            rows.append({"workload": workload, "seeds": seeds, "pgexp_s": mine,
                         "variant": VARIANTS[workload], "pgexp_variant_s": other, "jax_s": peer,
                         "pgexp_return": ours[-1][1], "variant_return": variant[-1][1],
                         "jax_return": theirs[-1][1]})  # fmt: skip
            returns = " / ".join(f"{c[-1][1]:.3g}" for c in (ours, variant, theirs))
            lines.append([TITLES[workload], seeds, span(mine), f"`{VARIANTS[workload]}`",
                          span(other), span(peer), f"{ratios[0]:.2f}", f"{ratios[1]:.2f}",
                          returns])  # fmt: skip
            print(f"{workload} × {seeds}: pgexp {mine} s, {VARIANTS[workload]} {other} s, "
                  f"JAX {peer} s", flush=True)  # fmt: skip
    head = ["work (whole command)", "seeds", "pgexp s", "variant", "variant s", "JAX peer s",
            "pgexp / JAX", "variant / JAX", "last return pgexp / variant / JAX"]  # fmt: skip
    publish("jax_peer", rows, table(head, lines, "lrrlrrrrr"), threads="1 torch / 1 XLA thread")


def span(seconds: list[float]) -> str:
    """``min–max`` of the repeats, or – when there are none."""
    return f"{min(seconds):.1f}–{max(seconds):.1f}" if seconds else "–"


if __name__ == "__main__":
    main()
