"""The protocol of torch-native batched environments, and the registry of the ones pgexp has."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Protocol

import torch

from pgexp.envs.acrobot import TorchAcrobot
from pgexp.envs.base import ObservationSteps
from pgexp.envs.cartpole import TorchCartPole
from pgexp.envs.pendulum import TorchPendulum


class BatchedDynamics(Protocol):
    """Stateless dynamics of N env copies: the caller holds the state tensor."""

    obs_dim: int

    @property
    def reset_half_width(self) -> tuple[float, ...]:
        """One entry per state coordinate: the state has ``len(reset_half_width)`` coordinates."""
        ...

    def reset(self, u: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """[..., state_dim] initial states from uniforms [..., state_dim] in (0, 1)."""
        ...

    def observe(self, state: torch.Tensor) -> torch.Tensor:
        """[N, obs_dim] observations of states [N, state_dim]."""
        ...

    def step(
        self, state: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Next states [N, state_dim], rewards [N] and terminated [N] (bool)."""
        ...


@dataclass(frozen=True)
class BatchedEnv(ObservationSteps):
    """A torch-native env with the run's horizon T and discount γ.

    Attributes:
        name: the registry name (``cartpole``, ``acrobot``, ``pendulum``).
        dynamics: the batched dynamics.
        n_actions: number of discrete actions, or None for continuous actions.
        action_dim: size of a continuous action (0 for discrete actions).
        compile_steps: whether samplers run each step as one program compiled by
            ``torch.compile`` (``hardware.compile``; see :class:`pgexp.rollout.BatchedEnvSampler`).
    """

    name: str
    dynamics: BatchedDynamics
    horizon: int
    discount: float = 1.0
    n_actions: int | None = None
    action_dim: int = 0
    compile_steps: bool = False

    @property
    def obs_dim(self) -> int:
        return self.dynamics.obs_dim

    @property
    def observation_env(self) -> BatchedEnv:
        return self

    def to(self, device: torch.device) -> BatchedEnv:
        return self  # its dynamics run on the device of the state they are given

    def compiled(self) -> BatchedEnv:
        return replace(self, compile_steps=True)

    def close(self) -> None:
        pass


TORCH_ENVS: dict[str, tuple[BatchedDynamics, int | None, int]] = {
    "cartpole": (TorchCartPole(), TorchCartPole.n_actions, 0),
    "acrobot": (TorchAcrobot(), TorchAcrobot.n_actions, 0),
    "pendulum": (TorchPendulum(), None, TorchPendulum.action_dim),
}


def make_batched_env(name: str, horizon: int, discount: float = 1.0) -> BatchedEnv:
    """The registered torch env ``name``; ``KeyError`` if there is none."""
    dynamics, n_actions, action_dim = TORCH_ENVS[name]
    return BatchedEnv(name, dynamics, horizon, discount, n_actions, action_dim)
