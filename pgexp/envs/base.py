"""What every environment offers the rest of pgexp: the answers its consumers need, so that
none of them asks which kind of env it holds.

Three kinds implement it: :class:`~pgexp.envs.finite_mdp.FiniteMDP` (a transition table, for
exact gradients and the one-lookup sampler), :class:`~pgexp.envs.batched.BatchedEnv` (torch
dynamics stepping N copies on the policy's device) and
:class:`~pgexp.envs.gym_vector.GymVectorEnv` (gymnasium vector envs on the CPU). Which sampler
steps an env is :func:`pgexp.rollout.make_sampler`'s choice, the one place that asks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import torch

if TYPE_CHECKING:
    from pgexp.envs.finite_mdp import FiniteMDP


class Env(Protocol):
    """An environment with a horizon T and a discount γ."""

    @property
    def horizon(self) -> int:
        """T, the steps of a trajectory (at most T for envs whose episodes can end)."""
        ...

    @property
    def discount(self) -> float:
        """γ of the objective J = E[Σ_t γ^t r_t]."""
        ...

    @property
    def finite_mdp(self) -> FiniteMDP | None:
        """The env as a finite MDP with a transition table, or None when it has none."""
        ...

    @property
    def observation_env(self) -> ObservationEnv | None:
        """The env as one whose states are observation vectors, or None (a finite MDP)."""
        ...

    def step_bytes(self, value_bytes: int) -> int:
        """Bytes one sampled step of one trajectory holds (state or observation, action,
        reward, alive flag), with ``value_bytes`` per floating-point number."""
        ...

    def table_bytes(self, runs: int) -> int:
        """Bytes of the tables the env's sampler builds per batch of ``runs`` runs."""
        ...

    def to(self, device: torch.device) -> Env:
        """The env with its tensors on ``device`` (itself when it holds none)."""
        ...

    def compiled(self) -> Env:
        """The env with its per-step work compiled by ``torch.compile`` (``hardware.compile``),
        or itself when it has none to compile."""
        ...

    def close(self) -> None:
        """Release what the env holds open (worker processes)."""
        ...


class ObservationEnv(Env, Protocol):
    """An env whose states are observation vectors, for neural policies."""

    @property
    def name(self) -> str:
        """What run names and messages call it (``cartpole``, a gymnasium id)."""
        ...

    @property
    def obs_dim(self) -> int:
        """Size of an observation vector."""
        ...

    @property
    def n_actions(self) -> int | None:
        """Number of discrete actions, or None for continuous actions."""
        ...

    @property
    def action_dim(self) -> int:
        """Size of a continuous action (0 for discrete actions)."""
        ...


class ObservationSteps:
    """What envs with observation vectors answer alike (a base class of theirs): they are no
    finite MDP, build no tables, and a step holds an observation, an action, a reward and an
    alive flag."""

    n_actions: int | None
    action_dim: int

    @property
    def obs_dim(self) -> int:
        raise NotImplementedError

    @property
    def finite_mdp(self) -> None:
        return None

    def step_bytes(self, value_bytes: int) -> int:
        action = 8 if self.n_actions is not None else self.action_dim * value_bytes
        return self.obs_dim * value_bytes + action + value_bytes + 1

    def table_bytes(self, runs: int) -> int:
        return 0
