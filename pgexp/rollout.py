"""Batched sampling of N trajectories of T steps on the MDP's device (a loop over t only)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from pgexp.envs.batched import BatchedEnv
from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.policies import Policy


@dataclass
class Trajectories:
    """N sampled trajectories of T steps.

    Attributes:
        states: [N, T] int64 states s_t of a finite MDP, or [N, T, obs_dim] observations.
        actions: [N, T] int64 discrete actions, or [N, T, action_dim] continuous ones.
        rewards: [N, T] reward r_t (policy dtype), zero after termination.
        alive: [N, T] bool, True while the episode has not terminated before step t (a real
            env step; for finite MDPs: s_t is not the absorbing state).
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
        self.discount = mdp.discount
        self.table = mdp.sampling_table()

    @torch.no_grad()
    def sample(self, policy: Policy, n: int, generator: torch.Generator) -> Trajectories:
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


class BatchedEnvSampler:
    """Samples N trajectories of a torch-native env; terminated copies freeze and earn nothing."""

    def __init__(self, env: BatchedEnv) -> None:
        self.env = env
        self.discount = env.discount

    @torch.no_grad()
    def sample(self, policy: Policy, n: int, generator: torch.Generator) -> Trajectories:
        """N trajectories of T = env.horizon steps on the policy's device and dtype."""
        dyn, T = self.env.dynamics, self.env.horizon
        param = next(policy.parameters())
        state = dyn.reset(n, generator, param.device, param.dtype)
        done = torch.zeros(n, dtype=torch.bool, device=param.device)
        obs, actions, rewards, alive = [], [], [], []
        for _ in range(T):
            o = dyn.observe(state)
            a = policy.sample(o, generator)
            nxt, r, terminated = dyn.step(state, a)
            obs.append(o)
            actions.append(a)
            rewards.append(torch.where(done, 0.0, r))
            alive.append(~done)
            state = torch.where(done[:, None], state, nxt)
            done = done | terminated
        return Trajectories(
            torch.stack(obs, 1),
            torch.stack(actions, 1),
            torch.stack(rewards, 1),
            torch.stack(alive, 1),
        )


def make_sampler(env: FiniteMDP | BatchedEnv) -> Sampler | BatchedEnvSampler:
    """The sampler for an env of either kind."""
    return Sampler(env) if isinstance(env, FiniteMDP) else BatchedEnvSampler(env)
