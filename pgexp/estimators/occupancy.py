"""Exact J(θ) and ∂J/∂logits on a finite MDP by the policy-gradient theorem, with no autograd.

Two recursions over the transition matrix, stored sparse (CSR, O(nnz(P)) memory):

- forward, the discounted state occupancy: w_0 = μ0,
  w_{t+1}(s') = γ Σ_{s,a} w_t(s) π(a|s) P(s'|s,a)  (w_t = γ^t d_t);
- backward, the values: V_T = 0, Q_t = R + γ P V_{t+1}, V_t(s) = Σ_a π(a|s) Q_t(s, a).

Then J = Σ_s μ0(s) V_0(s), and for logits z (π(·|s) = softmax z(s, ·)), with
X(s, a) = Σ_t w_t(s) Q_t(s, a),

    ∂J/∂z(s, a) = Σ_t w_t(s) π(a|s) (Q_t(s, a) − V_t(s)) = π(a|s) (X(s, a) − Σ_b π(b|s) X(s, b)),

the policy-gradient theorem of a finite horizon (V_t = Σ_b π(b|s) Q_t(s, b) makes the two
forms equal). X is kept as two running totals, Σ_t w_t and Σ_t w_t·(P V_{t+1}), so that a step
costs two sparse products and a few passes over [A, S]; the second form gives exact zeros where
the softmax has saturated (π(a|s) = 0 or 1), as the derivative of the softmax does. A policy's
own parameters then get their gradient by one vector-Jacobian product through its logits.
Memory: the T occupancies, T·S numbers per run.

Every run's numbers are bitwise those it gets alone: its sparse products are its own (one
matrix-vector product per run and step), sums over actions are written out action by action, and
other reductions run along one run's row. A product with R columns would be dearer on large MDPs
and cheaper only for many runs on small ones (docs/benchmarks.md), and its sums differ from a
matrix-vector product's in the last bits, so a run alone would have to pay it too.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch

from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.hardware import one_thread
from pgexp.ordered import ordered_sum, sum_in_order


@dataclass(frozen=True)
class SparseMDP:
    """A finite MDP's tables in one dtype on one device, for :func:`value_and_logit_grad`.

    State-action pairs are numbered action-major, a·S + s, so that a table [A, S] holds each
    action's values contiguously (sums over actions add whole rows; a weight per state
    broadcasts along them).

    Attributes:
        P: [A·S, S] CSR, P[a·S + s, s'] = p(s'|s, a).
        PT: [S, A·S] CSR, the transpose of P.
        reward: [A, S] expected reward R(s, a).
        mu0: [S] initial state distribution.
        horizon, discount: T and γ.
    """

    P: torch.Tensor
    PT: torch.Tensor
    reward: torch.Tensor
    mu0: torch.Tensor
    horizon: int
    discount: float

    @classmethod
    def of(cls, mdp: FiniteMDP, dtype: torch.dtype) -> SparseMDP:
        """Build the tables (two stable sorts of the entries, once)."""
        with warnings.catch_warnings():  # torch calls its CSR support beta: the products used here
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
            return cls._of(mdp, dtype)

    @classmethod
    def _of(cls, mdp: FiniteMDP, dtype: torch.dtype) -> SparseMDP:
        S, A = mdp.n_states, mdp.n_actions
        prob = mdp.entry_prob.to(dtype)
        pair = mdp.entry_action * S + mdp.entry_state  # a·S + s
        by_pair = torch.argsort(pair, stable=True)
        P = torch.sparse_csr_tensor(
            _offsets(torch.bincount(pair, minlength=S * A)), _index(mdp.entry_next[by_pair]),
            prob[by_pair], size=(A * S, S), check_invariants=False,
        )  # fmt: skip
        by_next = torch.argsort(mdp.entry_next, stable=True)
        PT = torch.sparse_csr_tensor(
            _offsets(torch.bincount(mdp.entry_next, minlength=S)), _index(pair[by_next]),
            prob[by_next], size=(S, A * S), check_invariants=False,
        )  # fmt: skip
        reward = mdp.expected_reward().to(dtype).t().contiguous()
        return cls(P, PT, reward, mdp.mu0.to(dtype), mdp.horizon, mdp.discount)


class SparseTables:
    """A finite MDP's :class:`SparseMDP` in each dtype asked for, built once per dtype."""

    def __init__(self, mdp: FiniteMDP) -> None:
        self.mdp = mdp
        self._built: dict[torch.dtype, SparseMDP] = {}

    def __call__(self, dtype: torch.dtype) -> SparseMDP:
        if dtype not in self._built:
            self._built[dtype] = SparseMDP.of(self.mdp, dtype)
        return self._built[dtype]


def _offsets(counts: torch.Tensor) -> torch.Tensor:
    """CSR row offsets [n + 1] from per-row counts [n]."""
    return _index(torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)]))


def _index(indices: torch.Tensor) -> torch.Tensor:
    """int32 indices where they fit (the sparse kernels convert int64 ones at every call)."""
    return indices.to(torch.int32) if indices.numel() < 2**31 else indices


def _products(matrix: torch.Tensor, vectors: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """``out[r] = matrix @ vectors[r]`` for every run r, on one thread (MKL's sparse kernel
    rounds a row differently depending on how threads split the rows); returns ``out``."""
    with one_thread(out.device):
        for r in range(vectors.shape[0]):
            torch.mv(matrix, vectors[r], out=out[r])
    return out


def value(mdp: SparseMDP, pi: torch.Tensor) -> torch.Tensor:
    """[R] J of the policies ``pi`` [R, S, A] (the backward recursion only)."""
    J, _ = _backward(mdp, pi.transpose(1, 2).contiguous(), None)
    return J


def step_values(mdp: SparseMDP, pi: torch.Tensor) -> torch.Tensor:
    """[R, T, S] V_t(s) of the policies ``pi`` [R, S, A]: the expected return Σ_{t' >= t}
    γ^{t'−t} r_{t'} from state s at step t (the backward recursion, every step kept)."""
    R, S, _ = pi.shape
    values = torch.empty(mdp.horizon, R, S, dtype=pi.dtype, device=pi.device)
    _backward(mdp, pi.transpose(1, 2).contiguous(), None, values)
    return values.transpose(0, 1)


def optimal_value(mdp: SparseMDP) -> float:
    """J* = max over all policies, time-dependent ones included, of J: backward induction
    V*_{T-1}(s) = max_a R(s, a), V*_t(s) = max_a [R(s, a) + γ Σ_s' p(s'|s, a) V*_{t+1}(s')],
    J* = Σ_s μ0(s) V*_0(s). In the tables' dtype (float64 on the CPU by default)."""
    A, S = mdp.reward.shape
    V = mdp.reward.amax(0)
    successor = torch.empty(1, A * S, dtype=V.dtype, device=V.device)
    for _ in range(mdp.horizon - 1):
        _products(mdp.P, V.unsqueeze(0), successor)
        V = (mdp.reward + mdp.discount * successor.view(A, S)).amax(0)
    return float(ordered_sum(mdp.mu0 * V, -1))


def value_and_logit_grad(mdp: SparseMDP, pi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """[R] J and [R, S, A] ∂J/∂logits of the softmax policies ``pi`` [R, S, A]."""
    J, grad, _ = value_logit_grad_and_visits(mdp, pi)
    return J, grad


def value_logit_grad_and_visits(
    mdp: SparseMDP, pi: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[R] J, [R, S, A] ∂J/∂logits and [R, S] the discounted occupancy Σ_t γ^t d_t(s) of the
    softmax policies ``pi`` [R, S, A]."""
    pi = pi.transpose(1, 2).contiguous()  # [R, A, S]
    J, X, visits = _totals(mdp, pi)
    grad = pi * (X - sum_in_order(pi * X, 1).unsqueeze(1))
    return J, grad.transpose(1, 2).contiguous(), visits


def value_and_natural_logit_grad(
    mdp: SparseMDP, pi: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """[R] J and [R, S, A] the natural gradient F⁺ ∂J/∂logits of the softmax policies ``pi``
    [R, S, A]: with weights w(s) = Σ_t γ^t d_t(s), the Fisher of the logits of s is
    w(s)·(diag π_s − π_s π_sᵀ), and the least-norm solution is (X(s, ·) − its mean over
    actions) / w(s), X = Σ_t γ^t d_t Q_t (0 in states never reached)."""
    pi = pi.transpose(1, 2).contiguous()  # [R, A, S]
    J, X, visits = _totals(mdp, pi)
    centered = X - sum_in_order(X, 1).unsqueeze(1) / X.shape[1]
    natural = torch.where(visits.unsqueeze(1) > 0, centered / visits.unsqueeze(1), 0.0)
    return J, natural.transpose(1, 2).contiguous()


def _totals(mdp: SparseMDP, pi: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """[R] J, [R, A, S] X = Σ_t w_t Q_t and [R, S] Σ_t w_t of the policies ``pi`` [R, A, S], with
    w_t = γ^t d_t the discounted occupancy of step t."""
    R, A, S = pi.shape
    occupancy = torch.empty(mdp.horizon, R, S, dtype=pi.dtype, device=pi.device)
    occupancy[0] = mdp.mu0
    flow = torch.empty_like(pi)
    for t in range(mdp.horizon - 1):
        torch.mul(occupancy[t].unsqueeze(1), pi, out=flow)
        _products(mdp.PT, flow.view(R, A * S), occupancy[t + 1])
        if mdp.discount != 1:
            occupancy[t + 1] *= mdp.discount
    J, totals = _backward(mdp, pi, occupancy)
    assert totals is not None
    visits, successor_sum = totals
    X = mdp.reward * visits.unsqueeze(1)  # Σ_t w_t Q_t
    if mdp.horizon > 1:
        X += mdp.discount * successor_sum
    return J, X, visits


def _backward(
    mdp: SparseMDP,
    pi: torch.Tensor,
    occupancy: torch.Tensor | None,
    values: torch.Tensor | None = None,
) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
    """[R] J of ``pi`` [R, A, S], and with the occupancies w [T, R, S] the totals Σ_t w_t
    [R, S] and Σ_t w_t·(P V_{t+1}) [R, A, S]; V_t is written into ``values`` [T, R, S] when
    given. The loop writes into buffers allocated once."""
    R, A, S = pi.shape
    reward_pi = sum_in_order(pi * mdp.reward, 1)  # [R, S]
    successor = torch.empty_like(pi)  # P V_{t+1}
    product = torch.empty_like(pi)
    V, V_next = reward_pi.clone(), torch.empty_like(reward_pi)  # V_{T-1}
    if values is not None:
        values[-1] = V
    totals = None
    if occupancy is not None:
        totals = (occupancy[-1].clone(), torch.zeros_like(pi))
    for t in reversed(range(mdp.horizon - 1)):
        _products(mdp.P, V, successor.view(R, A * S))
        sum_in_order(torch.mul(pi, successor, out=product), 1, out=V_next)
        if mdp.discount != 1:
            V_next *= mdp.discount
        V, V_next = V_next.add_(reward_pi), V
        if values is not None:
            values[t] = V
        if totals is not None and occupancy is not None:
            w = occupancy[t]
            totals[0].add_(w)
            totals[1].add_(torch.mul(w.unsqueeze(1), successor, out=product))
    return ordered_sum(mdp.mu0 * V, -1), totals
