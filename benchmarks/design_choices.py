"""Numbers behind two choices written into the code, each measured side by side with its
alternative in one run.

- ``optimizer``: seconds a fresh Python process takes for ``import torch``, alone and followed by
  building one ``torch.optim.Adam`` (the first optimizer imports torch's compiler stack); why
  ``pgexp/optim.py`` writes its two updates out. Median of ``--repeats`` processes.
- ``products``: the sparse product of the exact gradient's backward recursion (``P V`` with
  P [A·S, S] in CSR, float64, one thread) for R runs: one matrix-vector product per run, as
  ``pgexp/estimators/occupancy.py`` does so that a run's numbers do not depend on R, against
  one product with R columns; on FrozenLake 8x8 and a garnet of 10⁴ states (A = 4,
  branching 5). Median microseconds per call.

Prints a Markdown table and writes it, with the raw numbers, to ``benchmarks/results/``.
Usage: ``python -m benchmarks.design_choices [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

import torch

from benchmarks.publish import publish
from benchmarks.timing import median_seconds
from pgexp.envs import FiniteMDP, make_garnet, make_toy_text
from pgexp.estimators.occupancy import SparseMDP, _products
from pgexp.markdown import table

ADAM = "import torch; torch.optim.Adam([torch.zeros(1, requires_grad=True)])"


def process_seconds(code: str, repeats: int) -> float:
    """Median wall-clock seconds of ``python -c code`` in a fresh process."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def products(name: str, mdp: FiniteMDP, runs: int, repeats: int) -> dict[str, object]:
    """µs per call: R matrix-vector products (pgexp) and one product with R columns."""
    P = SparseMDP.of(mdp, torch.float64).P
    values = torch.randn(runs, mdp.n_states, dtype=torch.float64)
    out = torch.empty(runs, P.shape[0], dtype=torch.float64)
    columns = values.t().contiguous()
    per_run = median_seconds(lambda: _products(P, values, out), repeats)
    one = median_seconds(lambda: torch.mm(P, columns), repeats)
    return {"work": "products", "case": f"{name}, R = {runs}", "pgexp": 1e6 * per_run,
            "alternative": 1e6 * one, "unit": "µs"}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(1)
    optimizer = {"work": "optimizer", "case": "fresh process", "unit": "s",
                 "pgexp": process_seconds("import torch", args.repeats),
                 "alternative": process_seconds(ADAM, args.repeats)}  # fmt: skip
    rows: list[dict[str, object]] = [optimizer]
    lake = make_toy_text("FrozenLake-v1", {"map_name": "8x8"}, horizon=200)
    garnet = make_garnet(10_000, 4, 5, seed=0, horizon=100)
    for name, mdp in (("FrozenLake 8x8", lake), ("garnet 10⁴ states", garnet)):
        for runs in (1, 64):
            rows.append(products(name, mdp, runs, 20 * args.repeats))
    head = ["work", "case", "pgexp", "alternative", "alternative / pgexp"]
    cells = [[r["work"], r["case"], f"{r['pgexp']:.3g} {r['unit']}",
              f"{r['alternative']:.3g} {r['unit']}",
              f"{float(r['alternative']) / float(r['pgexp']):.2f}×"] for r in rows]  # type: ignore[arg-type]  # fmt: skip
    publish("design_choices", rows, table(head, cells, "llrrr"), threads="1 torch thread")


if __name__ == "__main__":
    main()
