"""The natural gradient (F + λI)⁻¹g of policies without a closed form: conjugate gradients on
Fisher-vector products, run by run.

The Fisher here is that of the policy's action distribution at given states, weighted:
F = Σ_j w_j F(s_j), F(s) = E_{a~π(·|s)}[∇log π(a|s) ∇log π(a|s)ᵀ] with the actions averaged
exactly. With the states a batch sampled and w = γ^t/N for each live step
(:meth:`Fisher.add_sampled`) it is the sampled Fisher Σ_t γ^t E[∇log π ∇log πᵀ] of the tabular
closed form; with every policy state and its discounted occupancy Σ_t γ^t d_t(s)
(:meth:`Fisher.add`, from :class:`pgexp.estimators.ExactGradient`), the exact one.

F(s) is the Hessian at θ̄ = θ of KL(π_θ̄(·|s) ‖ π_θ(·|s)) (:meth:`Policy.kl_to_fixed`), so a
product Fv is a Hessian-vector product: the gradient of ∇(Σ_j w_j KL_j)·v, two backward passes
through the policy, on blocks of :data:`BLOCK_STEPS` states taken in order with each run's own
parameters (a run's numbers are its own, as for the score).
Conjugate gradients from x = 0 stop after ``iters`` products or once the residual is below
:data:`RESIDUAL` of ‖g‖; the damping λ keeps the system definite (F is singular along the
directions that leave every visited distribution unchanged).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import torch
from torch import nn
from torch.func import functional_call

from pgexp.estimators.base import flat_grad
from pgexp.estimators.score import BLOCK_STEPS
from pgexp.ordered import ordered_sum
from pgexp.policies import Policy
from pgexp.rollout import Trajectories

RESIDUAL = 1e-10
"""Conjugate gradients stop once ‖g − (F + λI)x‖ ≤ RESIDUAL·‖g‖."""


@dataclass(frozen=True)
class CG:
    """How (F + λI)x = g is solved: at most ``iters`` conjugate-gradient steps, λ = ``damping``."""

    iters: int
    damping: float


def dot(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """x·y of two vectors, added in index order."""
    return ordered_sum(x * y, 0)


def conjugate_gradient(
    product: Callable[[torch.Tensor], torch.Tensor], g: torch.Tensor, iters: int, damping: float
) -> torch.Tensor:
    """[P] x ≈ (A + damping·I)⁻¹ g for a symmetric positive semi-definite A given by
    ``product`` (x ↦ Ax), after at most ``iters`` products."""
    x, residual = torch.zeros_like(g), g.clone()
    direction, rr = residual.clone(), dot(residual, residual)
    goal = RESIDUAL**2 * rr
    for _ in range(iters):
        if rr <= goal or rr == 0:
            break
        moved = product(direction) + damping * direction
        alpha = rr / dot(direction, moved)
        x += alpha * direction
        residual -= alpha * moved
        rr_next = dot(residual, residual)
        direction = residual + (rr_next / rr) * direction
        rr = rr_next
    return x


class KL(nn.Module):
    """The policy's Σ_j w_j KL(π_θ̄(·|s_j) ‖ π_θ(·|s_j)), for ``functional_call``."""

    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.policy = policy

    def forward(self, states: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        return (weights * self.policy.kl_to_fixed(states)).sum()


def fisher(policy: Policy, cg: CG | None) -> Fisher:
    """The Fisher of ``policy``'s runs, to solve as ``cg`` says (ValueError when None)."""
    if cg is None:
        name = type(policy).__name__
        raise ValueError(
            f"the natural gradient of {name} is solved by conjugate gradients: give cg"
        )
    return Fisher(policy, cg)


class Fisher:
    """Σ_j w_j F(s_j) of each run over the states given to it, and its damped solve."""

    def __init__(self, policy: Policy, cg: CG, block: int = BLOCK_STEPS) -> None:
        self.policy, self.cg, self.block = policy, cg, block
        self.kl = KL(policy)
        R = policy.n_runs
        self.states: list[list[torch.Tensor]] = [[] for _ in range(R)]
        self.weights: list[list[torch.Tensor]] = [[] for _ in range(R)]

    def add(self, states: torch.Tensor, weights: torch.Tensor) -> None:
        """Add states [R, M, ...] with weights [R, M] (those of weight 0 are dropped)."""
        for r in range(states.shape[0]):
            keep = weights[r] != 0
            self.states[r].append(states[r][keep])
            self.weights[r].append(weights[r][keep])

    def add_sampled(self, batch: Trajectories, discount: float, n: int) -> None:
        """Add a batch's live steps, each weighted γ^t / n."""
        dtype = next(self.policy.parameters()).dtype
        weights = batch.visit_weights(discount, dtype) / n  # [R, N, T]
        self.add(batch.states.flatten(1, 2), weights.flatten(1))

    def solve(self, grad: torch.Tensor) -> torch.Tensor:
        """[R, P] (F + λI)⁻¹ grad[r] for every run r, by conjugate gradients."""
        iters, damping = self.cg.iters, self.cg.damping
        solved = [
            conjugate_gradient(partial(self.product, r), grad[r], iters, damping)
            for r in range(grad.shape[0])
        ]
        return torch.stack(solved)

    def product(self, r: int, v: torch.Tensor) -> torch.Tensor:
        """[P] F v of run r: Hessian-vector products of the weighted KL, block by block."""
        states, weights = torch.cat(self.states[r]), torch.cat(self.weights[r])
        total = torch.zeros_like(v)
        for start in range(0, states.shape[0], self.block):
            stop = start + self.block
            total += self._block_product(r, states[start:stop], weights[start:stop], v)
        return total

    def _block_product(
        self, r: int, states: torch.Tensor, weights: torch.Tensor, v: torch.Tensor
    ) -> torch.Tensor:
        params = {
            f"policy.{name}": p[r : r + 1].detach().clone().requires_grad_()
            for name, p in self.policy.named_parameters()
        }
        kl = functional_call(self.kl, params, (states.unsqueeze(0), weights.unsqueeze(0)))
        grad = flat_grad(kl, params.values(), create_graph=True)[0]
        return flat_grad(dot(grad, v), params.values())[0]
