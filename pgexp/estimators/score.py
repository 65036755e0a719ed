"""The score-function gradient (1/n) Σ_{i,t} w_{i,t} ∇log π(a_t^i|s_t^i) of R runs, summed over
pieces of the n trajectories (the chunks of a chunked estimate, or all n at once) in an order
that depends on nothing but the trajectories themselves.

Each run's gradient is the same, to the last bit, whatever runs share its batch, wherever it
lies in the batch and however its trajectories are cut into pieces:

- table policies scatter w/n into each run's own table C(s, a) in trajectory order (dead steps
  add exact zeros), piece after piece into the same table; at the end the gradient with respect
  to the softmax logits is C(s, a) − π(a|s)·Σ_b C(s, b), and the policy maps it to its
  parameters (:meth:`TablePolicy.logit_vjp`). No autograd through the steps.
- neural policies are differentiated run by run on blocks of exactly :data:`BLOCK_STEPS` live
  steps taken in trajectory order (the last block of a run holds what is left), whichever pieces
  the steps came from; block gradients are added in order. A matrix product's order of addition
  depends on its shapes, so a block's shapes are the run's own, never the batch's or a chunk's.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch.func import functional_call

from pgexp.estimators.base import flat_grad
from pgexp.ordered import sum_in_order
from pgexp.policies import Policy, TablePolicy, TabularSoftmax
from pgexp.rollout import Trajectories

BLOCK_STEPS = 4096
"""Live steps per backward pass of a neural policy (bounds the memory of the gradient)."""


class ScoreSum(Protocol):
    """Accumulates the score-function gradient of R runs from pieces of their trajectories."""

    def add(self, batch: Trajectories, w: torch.Tensor) -> None:
        """Add the steps of ``batch`` with their weights ``w`` [R, N', T'], in trajectory order
        (pieces must come in the order of their trajectories)."""
        ...

    def result(self) -> torch.Tensor:
        """[R, P] (1/n) Σ w ∇log π over every step added."""
        ...


def score_sum(policy: Policy, n: int, natural_discount: float | None = None) -> ScoreSum:
    """The accumulator for ``policy``'s runs, at their current parameters, over n trajectories;
    with ``natural_discount`` (γ; a tabular softmax only: its Fisher is block diagonal in the
    parameters), of the natural gradient in closed form."""
    if natural_discount is not None and not isinstance(policy, TabularSoftmax):
        raise TypeError(f"no closed-form natural gradient for {type(policy).__name__}")
    if isinstance(policy, TablePolicy):
        return TableScoreSum(policy, n, natural_discount)
    return NetworkScoreSum(policy, n)


def logit_derivative(counts: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
    """[..., S, A] Σ w ∂log π(a_t|s_t)/∂z(s, a) from ``counts`` [..., S, A] (C(s, a) = Σ w over
    the steps that took a in s) and ``pi`` (broadcast to it): C − π·Σ_b C(·, b)."""
    return counts - pi * sum_in_order(counts, -1).unsqueeze(-1)


class TableScoreSum:
    """C(s, a) = Σ w/n over the steps that took a in s, per run; then C − π·ΣC (closed form).

    With ``natural_discount`` γ it also adds the visit weights ŵ(s) = Σ γ^t/n over the live
    steps in s; the Fisher of the logits of s at the sampled states is then
    ŵ(s)·(diag π_s − π_s π_sᵀ) (actions averaged exactly), and the result is its least-norm
    solution for the logit gradient: (C/π − its mean over actions) / ŵ(s), 0 where ŵ(s) = 0.
    """

    def __init__(self, policy: TablePolicy, n: int, natural_discount: float | None = None) -> None:
        self.policy, self.n, self.discount = policy, n, natural_discount
        with torch.no_grad():
            self.pi = policy.probs()  # [R, S, A]
        R, S, A = self.pi.shape
        self.counts = torch.zeros((R, S * A), dtype=self.pi.dtype, device=self.pi.device)
        self.visits = torch.zeros((R, S), dtype=self.pi.dtype, device=self.pi.device)

    def add(self, batch: Trajectories, w: torch.Tensor) -> None:
        pairs = (batch.states * self.pi.shape[-1] + batch.actions).flatten(1)
        self.counts.scatter_add_(1, pairs, (w / self.n).flatten(1))
        if self.discount is not None:
            weight = batch.visit_weights(self.discount, self.pi.dtype) / self.n  # [R, N', T]
            self.visits.scatter_add_(1, batch.states.flatten(1), weight.flatten(1))

    def result(self) -> torch.Tensor:
        counts = self.counts.view_as(self.pi)
        if self.discount is None:
            return self.policy.logit_vjp(logit_derivative(counts, self.pi))
        ratio = torch.where(self.pi > 0, counts / self.pi, 0.0)  # C = 0 where π = 0
        centered = ratio - sum_in_order(ratio, -1).unsqueeze(-1) / ratio.shape[-1]
        visits = self.visits.unsqueeze(-1)
        return self.policy.logit_vjp(torch.where(visits > 0, centered / visits, 0.0))


class NetworkScoreSum:
    """Run by run, blocks of :data:`BLOCK_STEPS` live steps through autograd, added in order."""

    def __init__(self, policy: Policy, n: int, block: int = BLOCK_STEPS) -> None:
        self.policy, self.n, self.block = policy, n, block
        R = policy.n_runs
        self.pending: list[tuple[torch.Tensor, ...] | None] = [None] * R
        self.sums: list[torch.Tensor | None] = [None] * R

    def add(self, batch: Trajectories, w: torch.Tensor) -> None:
        for r, alive in enumerate(batch.alive):
            steps: tuple[torch.Tensor, ...] = (batch.states[r][alive], batch.actions[r][alive],
                                               w[r][alive])  # fmt: skip
            pending = self.pending[r]
            if pending is not None:
                steps = tuple(torch.cat(pair) for pair in zip(pending, steps, strict=True))
            self.pending[r] = self._blocks(r, steps, final=False)

    def result(self) -> torch.Tensor:
        for r, pending in enumerate(self.pending):
            if pending is not None:
                self._blocks(r, pending, final=True)
        grads = [s for s in self.sums if s is not None]  # step 0 of a trajectory is live
        assert len(grads) == len(self.sums), "every run has live steps"
        return torch.cat(grads)

    def _blocks(
        self, r: int, steps: tuple[torch.Tensor, ...], final: bool
    ) -> tuple[torch.Tensor, ...] | None:
        """Differentiate run r's whole blocks of ``steps`` (and the rest when ``final``);
        returns the steps left for a later block."""
        count, start = steps[0].shape[0], 0
        while count - start >= self.block or (final and start < count):
            stop = min(start + self.block, count)
            self._add_block(r, *(x[start:stop].clone() for x in steps))  # fresh, aligned
            start = stop
        return None if start == count else tuple(x[start:] for x in steps)

    def _add_block(
        self, r: int, states: torch.Tensor, actions: torch.Tensor, w: torch.Tensor
    ) -> None:
        params = {
            name: p[r : r + 1].detach().clone().requires_grad_()
            for name, p in self.policy.named_parameters()
        }
        logp = functional_call(self.policy, params, (states.unsqueeze(0), actions.unsqueeze(0)))
        grad = flat_grad((w * logp[0]).sum() / self.n, params.values())
        total = self.sums[r]
        self.sums[r] = grad if total is None else total + grad
