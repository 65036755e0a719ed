"""Exact ∇J on large garnets: pgexp next to the policy-gradient theorem written by hand with SciPy.

For each garnet (A = 4 actions, branching 5, T = 100, seed 0) it times, in the same process:
building the garnet; pgexp's exact dp gradient (``ExactGradient.estimate``, tabular softmax with
N(0, 1) logits) in float64 and float32, with 1 torch thread and with one per core; and a SciPy
version a user would write (CSR transition matrix, backward value recursion, forward
occupancy, float64; SciPy's sparse products use one thread). Each time is the median of
``--repeats`` calls after a warm-up. The float64 gradients must agree to 1e-9 (relative, max
norm), or the script fails. Prints a Markdown table and writes it, with the raw numbers, to
``benchmarks/results/``.
Usage: ``python -m benchmarks.exact_at_scale [--states 10000 100000] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.sparse as sp
import torch

from benchmarks.publish import publish
from benchmarks.timing import median_seconds
from pgexp.envs import FiniteMDP, make_garnet
from pgexp.estimators import ExactGradient
from pgexp.markdown import table
from pgexp.policies import TabularSoftmax

ACTIONS, BRANCHING, HORIZON = 4, 5, 100


def scipy_gradient(mdp: FiniteMDP, pi: np.ndarray) -> tuple[float, np.ndarray]:
    """J and ∂J/∂logits [S, A] by the policy-gradient theorem, with SciPy sparse matrices."""
    S, A, T, gamma = mdp.n_states, mdp.n_actions, mdp.horizon, mdp.discount
    P = sp.csr_matrix(
        (mdp.entry_prob.numpy(), (mdp.entry_sa.numpy(), mdp.entry_next.numpy())), shape=(S * A, S)
    )
    PT = P.T.tocsr()
    R = mdp.expected_reward().numpy()
    mu0 = mdp.mu0.numpy()
    d = [mu0]
    for _ in range(T - 1):
        d.append(PT @ (d[-1][:, None] * pi).ravel())
    V = np.zeros(S)
    G = np.zeros((S, A))
    for t in reversed(range(T)):
        Q = R + gamma * (P @ V).reshape(S, A)
        V = (pi * Q).sum(1)
        G += gamma**t * d[t][:, None] * pi * (Q - V[:, None])
    return float(mu0 @ V), G


def measure(states: int, repeats: int) -> dict[str, object]:
    start = time.perf_counter()
    mdp = make_garnet(states, ACTIONS, BRANCHING, seed=0, horizon=HORIZON)
    build_s = time.perf_counter() - start
    gen = torch.Generator().manual_seed(0)
    policy = TabularSoftmax(mdp.n_states, ACTIONS, mdp.n_policy_states, generators=[gen])
    with torch.no_grad():
        policy.theta.normal_(generator=gen)
    row: dict[str, object] = {"states": states, "nnz": mdp.nnz, "garnet_s": build_s}
    grads = {}
    cores = torch.get_num_threads()
    for threads in (1, cores):
        torch.set_num_threads(threads)
        for dtype in (torch.float64, torch.float32):
            typed = TabularSoftmax(mdp.n_states, ACTIONS, mdp.n_policy_states).to(dtype=dtype)
            with torch.no_grad():
                typed.theta.copy_(policy.theta)
            exact = ExactGradient(mdp)
            name = str(dtype).removeprefix("torch.")
            row[f"pgexp_{name}_{threads}t_s"] = median_seconds(
                lambda e=exact, p=typed: e.estimate(p), repeats
            )
            grads[name] = exact.estimate(typed).grad[0].double().view(states, ACTIONS)
    torch.set_num_threads(cores)
    row["cores"] = cores
    pi = torch.softmax(policy.theta[0].detach(), -1).numpy()
    row["scipy_s"] = median_seconds(lambda: scipy_gradient(mdp, pi), repeats)
    reference = torch.from_numpy(scipy_gradient(mdp, pi)[1])
    scale = float(reference.abs().max())
    for name, grad in grads.items():
        row[f"{name}_rel_err"] = float((grad - reference).abs().max()) / scale
    if row["float64_rel_err"] > 1e-9:  # type: ignore[operator]
        raise AssertionError(f"pgexp and SciPy disagree: {row}")
    return row


def markdown(rows: list[dict[str, object]]) -> str:
    cores = rows[0]["cores"]
    head = ["states", "nnz(P)", "garnet, s", "SciPy, s", "pgexp float64 1 thread, s (ratio)",
            "float32 1 thread", f"float64 {cores} threads", f"float32 {cores} threads",
            "float32 max rel. err."]  # fmt: skip
    cells = []
    for r in rows:
        x = {k: float(v) for k, v in r.items()}  # type: ignore[arg-type]
        ratios = [
            f"{x[key]:.3f} ({x['scipy_s'] / x[key]:.2f}×)"
            for key in (f"pgexp_{dtype}_{threads}t_s" for threads in (1, cores)
                        for dtype in ("float64", "float32"))
        ]  # fmt: skip
        cells.append([f"{r['states']:,}", f"{r['nnz']:,}", f"{x['garnet_s']:.2f}",
                      f"{x['scipy_s']:.3f}", *ratios, f"{x['float32_rel_err']:.1e}"])  # fmt: skip
    return table(head, cells, "r" * len(head))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--states", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = [measure(states, args.repeats) for states in args.states]
    publish("exact_at_scale", rows, markdown(rows))


if __name__ == "__main__":
    main()
