"""The two baselines that need more than the batch's returns: the exact state values of the
current policy, and Greensmith's optimal constant per parameter.

Both leave the estimate unbiased: ``value`` subtracts γ^t V^π_t(s_t), a function of the state
reached before a_t is drawn; ``optimal`` subtracts, from trajectory i's k-th coordinate, b_k s_ik
with b_k built from the other N−1 trajectories only (independent of trajectory i, and
E[s_ik] = 0).
"""

from __future__ import annotations

import torch

from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.estimators.occupancy import SparseTables, step_values
from pgexp.estimators.score import logit_derivative
from pgexp.ordered import RunningSum
from pgexp.policies import Policy, TablePolicy
from pgexp.rollout import Trajectories


def table_policy(policy: Policy) -> TablePolicy:
    """``policy``, a table policy (the finite-MDP sampler that drew the batch refuses others)."""
    assert isinstance(policy, TablePolicy), type(policy).__name__
    return policy


class StateValues:
    """b_t(s) = γ^t V^π_t(s), from the backward recursion at the policy's current θ."""

    def __init__(self, mdp: FiniteMDP) -> None:
        self.tables = SparseTables(mdp)

    def at(self, policy: Policy) -> torch.Tensor:
        """[R, T, S] γ^t V_t(s) of every run at its current θ (no autograd)."""
        with torch.no_grad():
            pi = table_policy(policy).probs()
        mdp = self.tables(pi.dtype)
        values = step_values(mdp, pi)
        steps = torch.arange(mdp.horizon, dtype=pi.dtype, device=pi.device)
        return values * torch.pow(mdp.discount, steps)[:, None]


def state_baseline(batch: Trajectories, values: torch.Tensor) -> torch.Tensor:
    """[R, N, T] γ^t V_t(s_t) at every sampled step, from ``values`` [R, T, S]."""
    T = batch.states.shape[-1]
    by_step = values[:, :T]  # [R, T, S]
    return torch.gather(by_step, 2, batch.states.transpose(1, 2)).transpose(1, 2)


class OptimalConstant:
    """Greensmith et al.'s (2004) variance-minimizing constant baseline per logit k of a table
    policy, b_k = E[ĝ_k s_k] / E[s_k²], with s_ik = Σ_t ∂log π(a_t|s_t)/∂z_k the score of
    trajectory i and ĝ_ik = Σ_t w_it ∂log π(a_t|s_t)/∂z_k its gradient term; trajectory i uses
    b_k from the other N−1 trajectories, b_ik = (Σ_j ĝ_jk s_jk − ĝ_ik s_ik) / (Σ_j s_jk² − s_ik²)
    (0 where no other trajectory scores k). For ``tabular_softmax`` the logits are the
    parameters; other table policies get a baseline per logit.

    Two passes over the batch's pieces, in trajectory order: :meth:`observe` every piece (the
    sums over j), then :meth:`add` every piece (Σ_i b_ik s_ik); :meth:`correction` is what to
    subtract from the gradient. Memory: N'·S·A per run for a piece of N' trajectories.
    """

    def __init__(self, policy: Policy, n: int) -> None:
        self.n, self.policy = n, table_policy(policy)
        with torch.no_grad():
            self.pi = self.policy.probs()  # [R, S, A]
        self.products, self.squares, self.corrections = RunningSum(), RunningSum(), RunningSum()

    def observe(self, batch: Trajectories, w: torch.Tensor) -> None:
        """Add the piece's Σ_j ĝ_jk s_jk and Σ_j s_jk² (``w`` [R, N', T] its weights)."""
        score, grad = self._per_trajectory(batch, w)
        self.products.add(grad * score)
        self.squares.add(score * score)

    def add(self, batch: Trajectories, w: torch.Tensor) -> None:
        """Add the piece's Σ_i b_ik s_ik (after every piece was observed)."""
        score, grad = self._per_trajectory(batch, w)
        others = self.squares.value(torch.float64)[:, None] - (score * score).to(torch.float64)
        products = self.products.value(torch.float64)[:, None] - (grad * score).to(torch.float64)
        b = torch.where(others > 0, products / others, 0.0)
        self.corrections.add(b * score.to(torch.float64))

    def correction(self) -> torch.Tensor:
        """[R, P] what to subtract from the parameters' gradient: (1/N) Σ_i b_ik s_ik in the
        logits, mapped to the parameters."""
        return self.policy.logit_vjp(self.corrections.value(self.pi.dtype) / self.n)

    def _per_trajectory(
        self, batch: Trajectories, w: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """[R, N', S, A] each trajectory's logit score s_i and gradient term ĝ_i: with
        n_i(s, a) = Σ_t x_t [s_t = s, a_t = a], the logit derivative is n_i − π·Σ_b n_i(·, b)."""
        R, S, A = self.pi.shape
        pairs = batch.states * A + batch.actions  # [R, N', T]

        def logit_sums(x: torch.Tensor) -> torch.Tensor:
            counts = torch.zeros((R, x.shape[1], S * A), dtype=self.pi.dtype, device=x.device)
            counts.scatter_add_(2, pairs, x.to(self.pi.dtype))
            return logit_derivative(counts.unflatten(2, (S, A)), self.pi[:, None])

        return logit_sums(batch.alive), logit_sums(w)
