"""Batched sampling of N trajectories of T steps for each of R runs (a loop over t only).

Every random number comes from :mod:`pgexp.counter_rng`: trajectory i of run r draws its d-th
uniform from the key of run r and the counter (i, d), whatever else is sampled with it. Draw
indices are laid out per trajectory: first the ``reset`` draws of the initial state, then, for
each step, the policy's draws followed by the env's (one draw per step on a finite MDP, which
chooses the action and the next state together).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol

import numpy as np
import torch
from torch._higher_order_ops.scan import scan

from pgexp.counter_rng import uniforms
from pgexp.envs.base import Env
from pgexp.envs.batched import BatchedEnv
from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.envs.gym_vector import GymVectorEnv
from pgexp.native import tabular_rollout
from pgexp.ordered import ordered_sum
from pgexp.policies import Policy, TablePolicy

BLOCK_DRAWS = 2**20
"""About how many uniforms :class:`StepDraws` generates at once."""
MAX_BLOCK_STEPS = 16
"""At most this many steps per block (a torch-env batch often stops early)."""

COMPILED_BLOCK_STEPS = 64
"""Steps per compiled rollout block. Between two blocks the sampler draws the next block's
uniforms, calls the program and checks for running copies, which costs about what a dozen
compiled steps of 64 carts cost: blocks of 64 leave that a tenth of a 500-step episode's time
(an iteration of the CartPole experiment took 0.099 s against 0.121 s with blocks of 16) and
step at most 63 steps of ended episodes."""

RECOMPILE_LIMIT = 64
"""Most programs a process compiles for the rollout block (torch's default, 8, is reached by a
process that samples several envs, policies or numbers of runs: a program each, and one more for
each once the batch size changes)."""

Block = Callable[
    [Policy, torch.Tensor, torch.Tensor, torch.Tensor],
    tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]],
]
"""K rollout steps: (policy, states, done, uniforms [K, k, R, N]) -> states, done, the steps'
observations, actions, rewards and alive flags [K, R·N, ...] (``BatchedEnvSampler.block``)."""


@dataclass
class Trajectories:
    """N sampled trajectories of T steps for each of R runs.

    Attributes:
        states: [R, N, T] int64 states s_t of a finite MDP, or [R, N, T, obs_dim] observations
            (a torch-env batch may stop early, with T' <= horizon columns, once every copy ended).
        actions: [R, N, T] int64 discrete actions, or [R, N, T, action_dim] continuous ones.
        rewards: [R, N, T] reward r_t (policy dtype), zero after termination.
        alive: [R, N, T] bool, True while the episode has not terminated before step t (a real
            env step; for finite MDPs: s_t is not the absorbing state).
    """

    states: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    alive: torch.Tensor

    @classmethod
    def concat(cls, batches: list[Trajectories], dim: int) -> Trajectories:
        """The trajectories of all ``batches`` (same T) joined along ``dim`` (0: runs, 1: N)."""
        return cls(*(torch.cat([getattr(b, f.name) for b in batches], dim) for f in fields(cls)))

    @property
    def n(self) -> int:
        """N, the trajectories per run."""
        return int(self.states.shape[1])

    def discounted_rewards(self, discount: float) -> torch.Tensor:
        """[R, N, T] γ^t r_t (``rewards`` itself when γ = 1: multiplying by 1 changes no bit)."""
        if discount == 1:
            return self.rewards
        T = self.rewards.shape[-1]
        powers = discount ** torch.arange(T, dtype=self.rewards.dtype, device=self.rewards.device)
        return self.rewards * powers

    def visit_weights(self, discount: float, dtype: torch.dtype) -> torch.Tensor:
        """[R, N, T] γ^t on the live steps, 0 after an episode ended, in ``dtype``."""
        T = self.alive.shape[-1]
        steps = torch.arange(T, dtype=dtype, device=self.alive.device)
        return torch.pow(discount, steps) * self.alive

    def returns(self, discount: float) -> torch.Tensor:
        """[R, N] R(τ) = Σ_t γ^t r_t, added in order of t (columns past the end add exact 0)."""
        return ordered_sum(self.discounted_rewards(discount), -1)

    def rewards_to_go(self, discount: float) -> torch.Tensor:
        """[R, N, T] Σ_{t' >= t} γ^{t'} r_{t'} (discounted from t = 0, so that E[·] gives ∇J)."""
        g = self.discounted_rewards(discount)
        return g.flip(-1).cumsum(-1).flip(-1)

    def env_steps(self) -> torch.Tensor:
        """[R] int64 real environment steps per run (steps taken before termination)."""
        return self.alive.sum((1, 2))


class TrajectorySampler(Protocol):
    """Samples N trajectories per run at the policy's current parameters."""

    discount: float
    """γ of the env sampled."""

    def sample(self, policy: Policy, keys: torch.Tensor, n: int, first: int = 0) -> Trajectories:
        """Trajectories ``first .. first + n - 1`` of each run; ``keys`` [R, 2] are the runs'
        keys for this batch (trajectory i draws from the counter i, whatever else is drawn)."""
        ...


class StepDraws:
    """The uniforms of N trajectories per run, generated a block of steps at a time.

    Args:
        keys: [R, 2] the runs' keys for this batch of trajectories.
        first: index of the first trajectory (trajectories ``first .. first + n - 1``).
        reset: draws of the initial state; per_step: draws of each step.
        max_block: most steps generated at once (where every step is taken, the whole horizon
            can be: fewer, larger calls).
    """

    def __init__(
        self,
        keys: torch.Tensor,
        first: int,
        n: int,
        reset: int,
        per_step: int,
        max_block: int = MAX_BLOCK_STEPS,
    ) -> None:
        self.keys, self.trajectories = keys, (first, n)
        self.reset_draws, self.per_step = reset, per_step
        per_block_step = max(1, keys.shape[0] * n * per_step)
        self.block = max(1, min(max_block, BLOCK_DRAWS // per_block_step))
        self._start, self._u = 0, torch.empty((0, 0, 0, 0))

    def reset(self) -> torch.Tensor:
        """[reset, R, n] the initial-state draws."""
        return uniforms(self.keys, self.trajectories, (0, self.reset_draws), draw_major=True)

    def step(self, t: int) -> torch.Tensor:
        """[per_step, R, n] the draws of step t."""
        if not self._start <= t < self._start + self._u.shape[0]:
            self._start, self._u = t, self.steps(t, self.block)
        return self._u[t - self._start]

    def steps(self, t: int, k: int) -> torch.Tensor:
        """[k, per_step, R, n] the draws of steps t .. t + k − 1, in one call."""
        R, n = self.keys.shape[0], self.trajectories[1]
        first = self.reset_draws + t * self.per_step
        u = uniforms(self.keys, self.trajectories, (first, k * self.per_step), draw_major=True)
        return u.view(k, self.per_step, R, n)


class Sampler:
    """Samples trajectories of a finite MDP with a table policy.

    Each step draws the action and the next state together with one uniform, from the joint
    distribution π(a|s)·p(s'|s, a) over the state's transition entries (see
    :meth:`FiniteMDP.step_table`): per step, one search and one gather for the whole batch. On
    the CPU the whole loop over steps runs in a C kernel (``fused``, where it can be built:
    :mod:`pgexp.native`), which draws each uniform and searches the state's own entries for
    each trajectory in turn, with the same numbers to the last bit.
    """

    def __init__(self, mdp: FiniteMDP, fused: bool = True) -> None:
        self.mdp = mdp
        self.discount = mdp.discount
        self.fused = fused and mdp.device.type == "cpu"
        self.initial_cdf = mdp.initial_cdf()
        self.entry_states = mdp.entry_states()
        self.entry_action = mdp.entry_action
        self.twice_next = 2.0 * mdp.entry_next.to(torch.float64)  # the 2s' that a search adds u to
        states = torch.arange(mdp.n_states + 1, device=mdp.device)
        self.state_start = torch.searchsorted(mdp.entry_state, states)  # [S + 1]

    @torch.no_grad()
    def sample(self, policy: Policy, keys: torch.Tensor, n: int, first: int = 0) -> Trajectories:
        """N trajectories of T = mdp.horizon steps per run from π (no autograd graph)."""
        if not isinstance(policy, TablePolicy):
            raise TypeError(f"a finite MDP needs a table policy, got {type(policy).__name__}")
        mdp = self.mdp
        dtype = next(policy.parameters()).dtype
        T = mdp.horizon
        draws = StepDraws(keys, first, n, reset=1, per_step=1, max_block=T)
        table = mdp.step_table(policy.probs(), self.entry_states)
        s0 = mdp.sample_initial(self.initial_cdf, draws.reset()[0])  # [R, n]
        fused = (
            tabular_rollout(keys, first, table, mdp, self.state_start, s0) if self.fused else None
        )
        states, actions, rewards = self.steps(table, s0, draws) if fused is None else fused
        absorbing = -1 if mdp.absorbing is None else mdp.absorbing
        return Trajectories(states, actions, rewards.to(dtype), states != absorbing)

    def steps(
        self, table: torch.Tensor, s0: torch.Tensor, draws: StepDraws
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The states, actions and rewards (float64) [R, n, T] from the initial states ``s0``
        [R, n], by torch operations on the whole batch, step after step: the entries taken,
        then what they hold, gathered after the loop."""
        mdp = self.mdp
        R, n = s0.shape
        T = mdp.horizon
        entries = torch.empty((T, R, n), dtype=torch.int64, device=s0.device)  # time-major
        twice_s = 2.0 * s0.to(torch.float64)
        target = torch.empty_like(twice_s)
        for t in range(T):
            torch.add(draws.step(t)[0], twice_s, out=target)  # 2s + u: a search within state s
            torch.searchsorted(table, target, right=True, out=entries[t])
            torch.index_select(self.twice_next, 0, entries[t].view(-1), out=twice_s.view(-1))
        entries = entries.permute(1, 2, 0).contiguous()  # [R, n, T]
        flat = entries.view(-1)
        states = torch.empty_like(entries)
        states[..., 0] = s0
        states[..., 1:] = mdp.entry_next.index_select(0, flat).view_as(entries)[..., :-1]
        actions = self.entry_action.index_select(0, flat).view_as(entries)
        rewards = mdp.entry_reward.index_select(0, flat).view_as(entries)
        return states, actions, rewards


class BatchedEnvSampler:
    """Samples N trajectories per run of a torch-native env; ended copies freeze, earn nothing.

    Every ``check_every`` steps it asks whether any copy is still running (one host sync on a
    GPU) and stops when none is, so the batch has T' <= T columns; steps it skips would all have
    been dead. ``check_every=None`` never asks (no host sync inside the loop; always T columns).

    With ``env.compile_steps`` (``hardware.compile``) blocks of :data:`COMPILED_BLOCK_STEPS`
    steps (``check_every`` if more; the whole horizon when it never asks) run as one program, a
    ``scan`` of :meth:`advance` compiled by ``torch.compile``: on the first batch, and once
    more, for batches of any size, when the size first changes (torch's automatic dynamic
    shapes). Every process compiles it anew (4–8 s on a CPU core; inductor does not keep a
    scan's program on disk). A last block that would pass the horizon runs whole and is cut to
    T columns. Its numbers agree with the eager steps' to rounding, not bit for bit: the
    program fuses and vectorizes the arithmetic, and its products do not keep rows in fixed
    blocks.
    """

    def __init__(self, env: BatchedEnv, check_every: int | None = 16) -> None:
        self.env = env
        self.discount = env.discount
        self.check_every = check_every
        self.compiled_block = (
            torch.compile(self.block, fullgraph=True) if env.compile_steps else None
        )

    @torch.no_grad()
    def sample(self, policy: Policy, keys: torch.Tensor, n: int, first: int = 0) -> Trajectories:
        """N trajectories of at most T = env.horizon steps per run, on the policy's device and
        dtype."""
        dyn = self.env.dynamics
        R, dtype = keys.shape[0], next(policy.parameters()).dtype
        draws = StepDraws(keys, first, n, len(dyn.reset_half_width), policy.draws_per_action)
        state = dyn.reset(draws.reset().permute(1, 2, 0), dtype).view(R * n, -1)
        columns = None
        if self.compiled_block is not None:
            columns = self.try_compiled(self.compiled_block, policy, state, draws)
        if columns is None:
            columns = self.eager_steps(policy, state, draws, first)
        return Trajectories(*(x.reshape(R, n, *x.shape[1:]) for x in columns))

    def try_compiled(
        self, block: Block, policy: Policy, state: torch.Tensor, draws: StepDraws
    ) -> list[torch.Tensor] | None:
        """:meth:`compiled_steps`, or None (after a warning; the sampler is eager from then on)
        where torch cannot compile the block here (no working C++ compiler for inductor, or a
        backend that cannot lower the scan)."""
        from torch._dynamo.exc import TorchDynamoException  # loaded by compiling anyway

        try:
            return self.compiled_steps(block, policy, state, draws)
        except TorchDynamoException as err:
            self.compiled_block = None
            reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
            warnings.warn(
                f"pgexp: hardware.compile could not compile the rollout on {state.device} "
                f"({reason}); it runs eager",
                RuntimeWarning,
                stacklevel=3,
            )
            return None

    def eager_steps(
        self, policy: Policy, state: torch.Tensor, draws: StepDraws, first: int
    ) -> list[torch.Tensor]:
        """The observations, actions, rewards and alive flags [R·N, T', ...] of the rollout
        from ``state`` [R·N, state_dim], one step at a time."""
        T, every = self.env.horizon, self.check_every
        done = torch.zeros(state.shape[0], dtype=torch.bool, device=state.device)
        steps: list[tuple[torch.Tensor, ...]] = []  # per step: obs, action, reward, alive
        for t in range(T):
            state, done, step = self.advance(policy, state, done, draws.step(t), first)
            steps.append(step)
            if every is not None and (t + 1) % every == 0 and bool(done.all()):
                break
        return [torch.stack(x, 1) for x in zip(*steps, strict=True)]

    def compiled_steps(
        self, block: Block, policy: Policy, state: torch.Tensor, draws: StepDraws
    ) -> list[torch.Tensor]:
        """As :meth:`eager_steps`, blocks of :data:`COMPILED_BLOCK_STEPS` steps (``check_every``
        if more; all T if it never asks) at a time through the compiled ``block`` (rows have no
        fixed places there: no ``first``)."""
        T = self.env.horizon
        K = T if self.check_every is None else max(self.check_every, COMPILED_BLOCK_STEPS)
        done = torch.zeros(state.shape[0], dtype=torch.bool, device=state.device)
        blocks: list[tuple[torch.Tensor, ...]] = []  # per block: obs, action, reward, alive
        with torch._dynamo.config.patch(recompile_limit=RECOMPILE_LIMIT):
            for t in range(0, T, K):
                state, done, steps = block(policy, state, done, draws.steps(t, K))
                blocks.append(steps)
                if t + K < T and bool(done.all()):
                    break
        return [torch.cat(x)[:T].transpose(0, 1) for x in zip(*blocks, strict=True)]

    def block(
        self, policy: Policy, state: torch.Tensor, done: torch.Tensor, u: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """K steps of :meth:`advance` as one ``scan`` over the uniforms ``u`` [K, k, R, N]; the
        steps' observations, actions, rewards and alive flags come stacked, [K, R·N, ...]."""

        def one(
            carry: tuple[torch.Tensor, torch.Tensor], u_t: torch.Tensor
        ) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, ...]]:
            state, done, step = self.advance(policy, *carry, u_t)
            return (state, done), tuple(x.clone() for x in step)  # a scan's outputs own memory

        (state, done), steps = scan(one, (state, done), u)
        return state, done, steps

    def advance(
        self,
        policy: Policy,
        state: torch.Tensor,
        done: torch.Tensor,
        u: torch.Tensor,
        first: int = 0,
    ) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, ...]]:
        """One step of R·N copies: states [R·N, state_dim], ``done`` [R·N] and the policy's
        uniforms [k, R, N] in; the next states and ``done``, and the step's observations,
        actions, rewards and alive flags (first dimension R·N) out. Copy i of a run is
        trajectory ``first + i``."""
        R, n = u.shape[1:]
        o = self.env.dynamics.observe(state)
        a = policy.sample(o.view(R, n, -1), u, first).flatten(0, 1)
        nxt, r, terminated = self.env.dynamics.step(state, a)
        step = (o, a, torch.where(done, 0.0, r), ~done)
        return torch.where(done[:, None], state, nxt), done | terminated, step


class GymSampler:
    """Samples N trajectories per run through gymnasium vector envs on the CPU.

    Observations go to the policy's device, actions come back to the host: one transfer each way
    per step. Copies that have ended are masked out (the vector env resets them; their data is
    dropped), and a round stops once all its copies have ended. At most ``env.width(n)`` copies
    are stepped at once; runs and further trajectories are drawn in successive rounds, each
    round's vector env seeded from the round's first trajectory's reset draw.
    """

    def __init__(self, env: GymVectorEnv) -> None:
        self.env = env
        self.discount = env.discount

    @torch.no_grad()
    def sample(self, policy: Policy, keys: torch.Tensor, n: int, first: int = 0) -> Trajectories:
        """N trajectories of at most T = env.horizon steps per run, on the policy's device and
        dtype."""
        width = self.env.width(n)
        per_run = []
        for r in range(keys.shape[0]):
            rounds = [
                self._round(policy, r, keys[r : r + 1], first + i, min(width, n - i))
                for i in range(0, n, width)
            ]
            per_run.append(Trajectories.concat(rounds, dim=1))
        return Trajectories.concat(per_run, dim=0)

    def _round(
        self, policy: Policy, run: int, key: torch.Tensor, first: int, width: int
    ) -> Trajectories:
        env, T = self.env, self.env.horizon
        param = next(policy.parameters())
        dev, dtype = param.device, param.dtype
        draws = StepDraws(key, first, width, reset=1, per_step=policy.draws_per_action)
        seed = int(draws.reset()[0, 0, 0] * 2**31)  # the round's first trajectory's draw
        vec = env.vector(width)
        obs, _ = vec.reset(seed=seed)
        obs_buf = torch.zeros((width, T, env.obs_dim), dtype=dtype, device=dev)
        act_shape = (width, T) if env.n_actions is not None else (width, T, env.action_dim)
        act_dtype = torch.int64 if env.n_actions is not None else dtype
        act_buf = torch.zeros(act_shape, dtype=act_dtype, device=dev)
        rewards = torch.zeros((width, T), dtype=dtype, device=dev)
        alive = torch.zeros((width, T), dtype=torch.bool, device=dev)
        done = np.zeros(width, dtype=bool)
        policy_r = RunView(policy, run)
        for t in range(T):
            o = torch.as_tensor(obs.reshape(width, -1), device=dev).to(dtype)
            a = policy_r.sample(o, draws.step(t)[:, 0], first)
            obs_buf[:, t], act_buf[:, t] = o, a
            alive[:, t] = torch.from_numpy(~done)
            obs, r, terminated, truncated, _ = vec.step(env.to_env_actions(a.cpu().numpy()))
            rewards[:, t] = torch.from_numpy(np.where(done, 0.0, r))
            done |= terminated | truncated
            if done.all():
                break
        return Trajectories(*(x.unsqueeze(0) for x in (obs_buf, act_buf, rewards, alive)))


class RunView:
    """Samples actions of one run of a batched policy for observations [N, ...]."""

    def __init__(self, policy: Policy, run: int) -> None:
        self.policy, self.run = policy, run

    def sample(self, obs: torch.Tensor, u: torch.Tensor, first: int) -> torch.Tensor:
        """Actions [N, ...] of run ``run`` for observations [N, ...] of trajectories ``first``
        on and uniforms [k, N]."""
        R = self.policy.n_runs
        batch = obs.unsqueeze(0).expand(R, *obs.shape)
        return self.policy.sample(batch, u.unsqueeze(1).expand(-1, R, -1), first)[self.run]


def make_sampler(env: Env) -> TrajectorySampler:
    """The sampler for an env of any kind (the one place that asks which kind it is)."""
    mdp, obs = env.finite_mdp, env.observation_env
    if mdp is not None:
        return Sampler(mdp)
    if isinstance(obs, GymVectorEnv):
        return GymSampler(obs)
    if isinstance(obs, BatchedEnv):
        return BatchedEnvSampler(obs)
    raise TypeError(f"no sampler for {type(env).__name__}")
