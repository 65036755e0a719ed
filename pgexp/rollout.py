"""Batched sampling of N trajectories of T steps on the MDP's device (a loop over t only)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.policies import TablePolicy


@dataclass
class Trajectories:
    """N sampled trajectories of T steps.

    Attributes:
        states: [N, T] int64, s_t.
        actions: [N, T] int64, a_t.
        rewards: [N, T] reward r_t (policy dtype), zero after termination.
        alive: [N, T] bool, True while s_t is not the absorbing state (a real env step).
    """

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    alive: torch.Tensor

    @property
    def n(self) -> int:
        return int(self.states.shape[0])

    def discounted_rewards(self, discount: float) -> torch.Tensor:
        """[N, T] γ^t r_t."""
        T = self.rewards.shape[1]
        powers = discount ** torch.arange(T, dtype=self.rewards.dtype, device=self.rewards.device)
        return self.rewards * powers

    def returns(self, discount: float) -> torch.Tensor:
        """[N] R(τ) = Σ_t γ^t r_t."""
        return self.discounted_rewards(discount).sum(1)

    def rewards_to_go(self, discount: float) -> torch.Tensor:
        """[N, T] Σ_{t' >= t} γ^{t'} r_{t'} (discounted from t = 0, so that E[·] gives ∇J)."""
        g = self.discounted_rewards(discount)
        return g.flip(1).cumsum(1).flip(1)

    def env_steps(self) -> int:
        """Number of real environment steps (steps taken before termination)."""
        return int(self.alive.sum())


class Sampler:
    """Samples trajectories of a finite MDP with a table policy, reusing the sampling table."""

    def __init__(self, mdp: FiniteMDP) -> None:
        self.mdp = mdp
        self.table = mdp.sampling_table()

    @torch.no_grad()
    def sample(self, policy: TablePolicy, n: int, generator: torch.Generator) -> Trajectories:
        """N trajectories of T = mdp.horizon steps from π (no autograd graph)."""
        mdp, T = self.mdp, self.mdp.horizon
        dev = mdp.device
        dtype = next(policy.parameters()).dtype
        states = torch.empty((n, T), dtype=torch.int64, device=dev)
        actions = torch.empty_like(states)
        rewards = torch.empty((n, T), dtype=dtype, device=dev)
        s = mdp.sample_initial(n, generator)
        for t in range(T):
            a = policy.sample(s, generator)
            states[:, t], actions[:, t] = s, a
            s, r = mdp.sample_step(self.table, s, a, generator)
            rewards[:, t] = r
        absorbing = -1 if mdp.absorbing is None else mdp.absorbing
        return Trajectories(states, actions, rewards, states != absorbing)
