"""Pendulum as a batched torch environment, with gymnasium ``Pendulum-v1``'s dynamics.

A continuous torque in [-2, 2] swings a pendulum; the reward is
``-(angle² + 0.1·θ_dot² + 0.001·u²)`` with the angle normalized to [-π, π); it never terminates.
Stateless: ``step`` maps a state batch [N, 2] = (θ, θ_dot) to the next.
"""

from __future__ import annotations

import math

import torch

from pgexp.envs.uniform_reset import UniformReset

MAX_SPEED = 8.0
MAX_TORQUE = 2.0
DT = 0.05
GRAVITY = 10.0
MASS = 1.0
LENGTH = 1.0


def angle_normalize(x: torch.Tensor) -> torch.Tensor:
    """Angle in [-π, π)."""
    return torch.remainder(x + math.pi, 2 * math.pi) - math.pi


class TorchPendulum(UniformReset):
    """Batched Pendulum-v1: state [N, 2], actions [N, 1] torques (clipped to ±2)."""

    reset_half_width = (math.pi, 1.0)  # θ in [-π, π), θ_dot in [-1, 1)
    obs_dim = 3
    action_dim = 1

    @staticmethod
    def observe(state: torch.Tensor) -> torch.Tensor:
        """[N, 3] (cos θ, sin θ, θ_dot)."""
        th, thdot = state.unbind(-1)
        return torch.stack((th.cos(), th.sin(), thdot), dim=-1)

    @staticmethod
    def step(
        state: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One Euler step: next state [N, 2], reward [N], terminated [N] (always False)."""
        th, thdot = state.unbind(-1)
        u = action[..., 0].to(state.dtype).clamp(-MAX_TORQUE, MAX_TORQUE)
        costs = angle_normalize(th) ** 2 + 0.1 * thdot**2 + 0.001 * u**2
        new_thdot = (
            thdot + (3 * GRAVITY / (2 * LENGTH) * torch.sin(th) + 3.0 / (MASS * LENGTH**2) * u) * DT
        )
        new_thdot = new_thdot.clamp(-MAX_SPEED, MAX_SPEED)
        nxt = torch.stack((th + new_thdot * DT, new_thdot), dim=-1)
        return nxt, -costs, torch.zeros_like(th, dtype=torch.bool)
