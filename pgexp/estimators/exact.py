"""Exact J(θ) and ∇J(θ) on a finite MDP: the policy-gradient theorem (dp) or trajectory
enumeration.

``dp`` runs the forward occupancy and backward value recursions over the sparse transition
matrix (:mod:`pgexp.estimators.occupancy`): O(T·nnz(P)) time, O(T·S) memory and no autograd:
the policy maps ∂J/∂logits to its parameters (``TablePolicy.logit_vjp``).

``enumerate`` takes the seed formula literally: ``∇J = Σ_τ p_θ(τ) R(τ) Σ_t ∇log π(a_t|s_t)``
over every trajectory τ of T steps (an absorbing state does not branch: its action is
parameter-free and changes nothing). Its cost grows like (A·branching)^T, so it refuses MDPs with
more than ``max_trajectories`` trajectories. The two share no code: each checks the other.
"""

from __future__ import annotations

import torch

from pgexp.config import ExactMethod
from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.estimators.base import GradientEstimate, flat_grad
from pgexp.estimators.natural import CG, fisher
from pgexp.estimators.occupancy import (
    SparseMDP,
    SparseTables,
    optimal_value,
    value,
    value_and_logit_grad,
    value_and_natural_logit_grad,
    value_logit_grad_and_visits,
)
from pgexp.policies import Policy, TablePolicy, TabularSoftmax


class TrajectoryLimitError(ValueError):
    """Raised by enumeration when the MDP has more trajectories than allowed."""


def dp_objective(mdp: FiniteMDP, policy: TablePolicy) -> torch.Tensor:
    """[R] J(θ) of every run (not differentiable: see :class:`ExactGradient` for ∇J)."""
    with torch.no_grad():
        pi = policy.probs()
        return value(SparseMDP.of(mdp, pi.dtype), pi)


def optimal_objective(mdp: FiniteMDP) -> float:
    """J*: the best J of any policy, time-dependent ones included (backward induction, float64)."""
    return optimal_value(SparseMDP.of(mdp, torch.float64))


def _branches(mdp: FiniteMDP) -> tuple[torch.Tensor, torch.Tensor]:
    """Per state: index of its first entry and number of entries to branch over ([S] each)."""
    state = mdp.entry_state
    first = torch.searchsorted(state, torch.arange(mdp.n_states, device=state.device))
    count = torch.bincount(state, minlength=mdp.n_states)
    if mdp.absorbing is not None:
        count[mdp.absorbing] = 1  # one parameter-free continuation
    return first, count


def count_trajectories(mdp: FiniteMDP) -> int:
    """Number of distinct trajectories (s_0, a_0, s_1, ..., s_T) with non-zero entries."""
    first, count = _branches(mdp)
    entry_state = mdp.entry_state
    used = torch.arange(mdp.nnz, device=entry_state.device) < (first + count)[entry_state]
    src, dst = entry_state[used], mdp.entry_next[used]  # the branches enumeration follows
    per_state = (mdp.mu0 > 0).to(torch.float64)
    for _ in range(mdp.horizon):
        per_state = torch.zeros_like(per_state).index_add(0, dst, per_state[src])
    return round(float(per_state.sum()))


def enumerate_objective(
    mdp: FiniteMDP, policy: TablePolicy, max_trajectories: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """[R] J(θ) and [R] score-function surrogates ``Σ_τ p(τ)·R(τ)·Σ_t log π(a_t|s_t)``, p
    detached.

    The gradient of the surrogate is the seed formula for ∇J, term by term.
    Raises:
        TrajectoryLimitError: when the MDP has more than ``max_trajectories`` trajectories.
    """
    n = count_trajectories(mdp)
    if n > max_trajectories:
        raise TrajectoryLimitError(
            f"{n:.3g} trajectories (horizon {mdp.horizon}) exceed {max_trajectories:.3g}"
        )
    log_pi = policy.log_probs()  # [R, S, A]
    pi = log_pi.detach().exp()
    if mdp.absorbing is not None:
        keep = torch.ones_like(pi[..., :1])
        keep[:, mdp.absorbing] = 0
        log_pi = log_pi * keep  # parameter-free: no score
        pi = torch.where(keep.bool(), pi, torch.ones_like(pi))
    first, count = _branches(mdp)
    entry_action = mdp.entry_action
    entry_prob, entry_reward = mdp.entry_prob.to(pi.dtype), mdp.entry_reward.to(pi.dtype)
    state = torch.nonzero(mdp.mu0 > 0).flatten()
    p_tau = mdp.mu0[state].to(pi.dtype).expand(pi.shape[0], -1)  # [R, trajectories so far]
    ret = torch.zeros_like(p_tau)
    score = torch.zeros_like(p_tau)
    for t in range(mdp.horizon):
        parent = torch.repeat_interleave(
            torch.arange(state.numel(), device=state.device), count[state]
        )
        offset = torch.arange(parent.numel(), device=state.device) - torch.repeat_interleave(
            torch.cumsum(count[state], 0) - count[state], count[state]
        )
        entry = first[state][parent] + offset
        s, a = state[parent], entry_action[entry]
        p_tau = p_tau[:, parent] * pi[:, s, a] * entry_prob[entry]
        ret = ret[:, parent] + mdp.discount**t * entry_reward[entry]
        score = score[:, parent] + log_pi[:, s, a]
        state = mdp.entry_next[entry]
    return (p_tau * ret).sum(1), (p_tau * ret * score).sum(1)


class ExactGradient:
    """∇J(θ) computed exactly, by ``dp`` or ``enumerate``; with ``natural`` (``dp`` only), the
    natural gradient with the exact Fisher Σ_s w(s) F(s), w the discounted occupancy, instead:
    F⁺∇J in closed form for a tabular softmax, (F + λI)⁻¹∇J by conjugate gradients as ``cg``
    says for other table policies (:class:`pgexp.estimators.natural.Fisher`)."""

    def __init__(
        self,
        mdp: FiniteMDP,
        method: ExactMethod = ExactMethod.dp,
        max_trajectories: int = 1_000_000,
        natural: bool = False,
        cg: CG | None = None,
    ) -> None:
        if natural and method is not ExactMethod.dp:
            raise ValueError("the exact natural gradient is computed by dp")
        self.mdp, self.method, self.max_trajectories = mdp, method, max_trajectories
        self.natural, self.cg = natural, cg
        self.sparse = SparseTables(mdp)
        """The MDP's sparse tables in a dtype, built once."""

    def estimate(self, policy: Policy, keys: torch.Tensor | None = None) -> GradientEstimate:
        """Exact J and ∇J of every run (``keys`` are not used: nothing is sampled)."""
        if not isinstance(policy, TablePolicy):
            raise TypeError(f"exact gradients need a table policy, got {type(policy).__name__}")
        match self.method:
            case ExactMethod.dp:
                with torch.no_grad():
                    pi = policy.probs()
                if self.natural and isinstance(policy, TabularSoftmax):
                    J, logit_grad = value_and_natural_logit_grad(self.sparse(pi.dtype), pi)
                    grad = policy.logit_vjp(logit_grad)
                elif self.natural:
                    J, grad = self._natural_by_cg(policy, pi)
                else:
                    J, logit_grad = value_and_logit_grad(self.sparse(pi.dtype), pi)
                    grad = policy.logit_vjp(logit_grad)
            case ExactMethod.enumerate:
                J, surrogate = enumerate_objective(self.mdp, policy, self.max_trajectories)
                grad = flat_grad(surrogate.sum(), policy.parameters())
        return GradientEstimate(grad=grad.detach(), objective=J.detach())

    def _natural_by_cg(
        self, policy: TablePolicy, pi: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[R] J and [R, P] (F + λI)⁻¹∇J, F the Fisher at every policy state weighted by its
        discounted occupancy (the absorbing state, whose actions change nothing, left out)."""
        J, logit_grad, visits = value_logit_grad_and_visits(self.sparse(pi.dtype), pi)
        if self.mdp.absorbing is not None:
            visits[:, self.mdp.absorbing] = 0
        exact = fisher(policy, self.cg)
        states = torch.arange(self.mdp.n_states, device=pi.device).expand_as(visits)
        exact.add(states, visits)
        return J, exact.solve(policy.logit_vjp(logit_grad))
