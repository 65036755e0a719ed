"""Batched sampling of N trajectories of T steps (a loop over t only)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import torch

from pgexp.envs.batched import BatchedEnv
from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.envs.gym_vector import GymVectorEnv
from pgexp.policies import Policy


@dataclass
class Trajectories:
    """N sampled trajectories of T steps.

    Attributes:
        states: [N, T] int64 states s_t of a finite MDP, or [N, T, obs_dim] observations (a
            torch-env batch may stop early, with T' <= horizon columns, once every copy ended).
        actions: [N, T] int64 discrete actions, or [N, T, action_dim] continuous ones.
        rewards: [N, T] reward r_t (policy dtype), zero after termination.
        alive: [N, T] bool, True while the episode has not terminated before step t (a real
            env step; for finite MDPs: s_t is not the absorbing state).
    """

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    alive: torch.Tensor

    @classmethod
    def concat(cls, batches: list[Trajectories]) -> Trajectories:
        """The trajectories of all ``batches`` (same T) as one batch."""
        return cls(*(torch.cat([getattr(b, f.name) for b in batches]) for f in fields(cls)))

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
    """Samples N trajectories of a torch-native env; terminated copies freeze and earn nothing.

    Every ``check_every`` steps it asks whether any copy is still running (one host sync on a
    GPU) and stops when none is, so the batch has T' <= T columns; steps it skips would all have
    been dead. ``check_every=None`` never asks (no host sync inside the loop; always T columns).
    """

    def __init__(self, env: BatchedEnv, check_every: int | None = 16) -> None:
        self.env = env
        self.discount = env.discount
        self.check_every = check_every

    @torch.no_grad()
    def sample(self, policy: Policy, n: int, generator: torch.Generator) -> Trajectories:
        """N trajectories of at most T = env.horizon steps on the policy's device and dtype."""
        dyn, T, every = self.env.dynamics, self.env.horizon, self.check_every
        param = next(policy.parameters())
        state = dyn.reset(n, generator, param.device, param.dtype)
        done = torch.zeros(n, dtype=torch.bool, device=param.device)
        obs, actions, rewards, alive = [], [], [], []
        for t in range(T):
            o = dyn.observe(state)
            a = policy.sample(o, generator)
            nxt, r, terminated = dyn.step(state, a)
            obs.append(o)
            actions.append(a)
            rewards.append(torch.where(done, 0.0, r))
            alive.append(~done)
            state = torch.where(done[:, None], state, nxt)
            done = done | terminated
            if every is not None and (t + 1) % every == 0 and bool(done.all()):
                break
        return Trajectories(
            torch.stack(obs, 1),
            torch.stack(actions, 1),
            torch.stack(rewards, 1),
            torch.stack(alive, 1),
        )


class GymSampler:
    """Samples N trajectories through gymnasium vector envs on the CPU.

    Observations go to the policy's device, actions come back to the host: one transfer each way
    per step. Copies that have ended are masked out (the vector env resets them; their data is
    dropped), and a round stops once all its copies have ended. At most ``env.width(n)`` copies
    are stepped at once; more trajectories are drawn in successive rounds.
    """

    def __init__(self, env: GymVectorEnv) -> None:
        self.env = env
        self.discount = env.discount

    @torch.no_grad()
    def sample(self, policy: Policy, n: int, generator: torch.Generator) -> Trajectories:
        """N trajectories of at most T = env.horizon steps, on the policy's device and dtype."""
        width = self.env.width(n)
        rounds = [self._round(policy, min(width, n - i), generator) for i in range(0, n, width)]
        return Trajectories.concat(rounds)

    def _round(self, policy: Policy, width: int, generator: torch.Generator) -> Trajectories:
        env, T = self.env, self.env.horizon
        param = next(policy.parameters())
        dev, dtype = param.device, param.dtype
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator, device=generator.device))
        vec = env.vector(width)
        obs, _ = vec.reset(seed=seed)
        obs_buf = torch.zeros((width, T, env.obs_dim), dtype=dtype, device=dev)
        act_shape = (width, T) if env.n_actions is not None else (width, T, env.action_dim)
        act_dtype = torch.int64 if env.n_actions is not None else dtype
        act_buf = torch.zeros(act_shape, dtype=act_dtype, device=dev)
        rewards = torch.zeros((width, T), dtype=dtype, device=dev)
        alive = torch.zeros((width, T), dtype=torch.bool, device=dev)
        done = np.zeros(width, dtype=bool)
        for t in range(T):
            o = torch.as_tensor(obs.reshape(width, -1), device=dev).to(dtype)
            a = policy.sample(o, generator)
            obs_buf[:, t], act_buf[:, t] = o, a
            alive[:, t] = torch.from_numpy(~done)
            obs, r, terminated, truncated, _ = vec.step(env.to_env_actions(a.cpu().numpy()))
            rewards[:, t] = torch.from_numpy(np.where(done, 0.0, r))
            done |= terminated | truncated
            if done.all():
                break
        return Trajectories(obs_buf, act_buf, rewards, alive)


TrajectorySampler = Sampler | BatchedEnvSampler | GymSampler


def make_sampler(env: FiniteMDP | BatchedEnv | GymVectorEnv) -> TrajectorySampler:
    """The sampler for an env of any kind."""
    if isinstance(env, FiniteMDP):
        return Sampler(env)
    if isinstance(env, GymVectorEnv):
        return GymSampler(env)
    return BatchedEnvSampler(env)
