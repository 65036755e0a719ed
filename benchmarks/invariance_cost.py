"""What bit-for-bit invariance costs a neural policy, measured side by side in one run.

pgexp's linear layers (``RunLinear``) cut each run's rows into blocks of 64 at fixed places,
multiply all blocks in one batched product on one thread and sum gradients in index order;
the plain alternative is one batched product (``torch.baddbmm``) of the R runs' whole row
sets on torch's threads, whose results depend on the number of runs, rows and threads. Both
compute pgexp's default MLP (4 → 64 → 64 → 2, tanh, float64) with the same weights:

- ``sample``: the logits of N observations per run, R runs (what a rollout step computes);
- ``gradient``: forward and backward of Σ log π over 4096 steps of one run (one block of the
  score-function gradient).

Prints milliseconds per call and the ratio, for the thread counts given; writes them to
``benchmarks/results/``. Usage: ``python -m benchmarks.invariance_cost [--threads 1 2]``.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch
from torch import nn

from benchmarks.publish import publish
from benchmarks.timing import median_seconds
from pgexp.config import Activation, NetInit
from pgexp.markdown import table
from pgexp.policies import CategoricalMLP


class PlainLinear(nn.Module):
    """y[r] = x[r] W[r]ᵀ + b[r] as one batched product of all runs."""

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor) -> None:
        super().__init__()
        self.weight = nn.Parameter(weight.detach().clone())
        self.bias = nn.Parameter(bias.detach().clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


def plain_copy(net: nn.Sequential) -> nn.Sequential:
    """The same network with batched products instead of pgexp's per-run ones."""
    layers = [PlainLinear(m.weight, m.bias) if hasattr(m, "weight") else m for m in net.children()]
    return nn.Sequential(*layers)


def gradient_call(net: nn.Sequential, obs: torch.Tensor) -> Callable[[], object]:
    params = list(net.parameters())

    def call() -> object:
        out = torch.log_softmax(net(obs), -1)[..., 0].sum()
        return torch.autograd.grad(out, params)

    return call


def measure(runs: int, n: int, threads: int, repeats: int) -> list[dict[str, object]]:
    torch.set_num_threads(threads)
    gens = [torch.Generator().manual_seed(r) for r in range(runs)]
    ours = CategoricalMLP(4, 2, [64, 64], Activation.tanh, NetInit.orthogonal, gens).net
    plain = plain_copy(ours)
    gen = torch.Generator().manual_seed(0)
    obs = torch.randn((runs, n, 4), dtype=torch.float64, generator=gen)
    steps = torch.randn((1, 4096, 4), dtype=torch.float64, generator=gen)
    one_ours = CategoricalMLP(4, 2, [64, 64], Activation.tanh, NetInit.orthogonal, gens[:1]).net
    rows = []
    with torch.no_grad():
        pair = (
            1e3 * median_seconds(lambda: ours(obs), repeats),
            1e3 * median_seconds(lambda: plain(obs), repeats),
        )
    rows.append({"work": "sample", "R": runs, "N": n, "threads": threads, "ms": pair})
    if (runs, n) == (1, 64):
        pair = (
            1e3 * median_seconds(gradient_call(one_ours, steps), repeats),
            1e3 * median_seconds(gradient_call(plain_copy(one_ours), steps), repeats),
        )
        rows.append({"work": "gradient", "R": 1, "N": 4096, "threads": threads, "ms": pair})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=50)
    args = parser.parse_args()
    rows = [
        row
        for threads in args.threads
        for runs, n in [(1, 64), (1, 1024), (8, 64), (64, 64), (1, 16384)]
        for row in measure(runs, n, threads, args.repeats)
    ]
    head = ["work", "runs R", "rows N per run", "threads", "pgexp ms", "one batched product ms",
            "pgexp / batched"]  # fmt: skip
    cells = []
    for r in rows:
        ours, plain = r["ms"]  # type: ignore[misc]
        cells.append([r["work"], r["R"], r["N"], r["threads"], f"{ours:.3f}", f"{plain:.3f}",
                      f"{ours / plain:.2f}×"])  # fmt: skip
    publish(
        "invariance_cost", rows, table(head, cells, "lrrrrrr"), threads="threads as in the table"
    )


if __name__ == "__main__":
    main()
