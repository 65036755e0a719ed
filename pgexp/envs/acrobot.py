"""Acrobot as a batched torch environment, with gymnasium ``Acrobot-v1``'s dynamics.

Two links swing under a torque in {-1, 0, +1} on the joint between them; RK4 over one
``DT = 0.2`` s step ("book" equations of Sutton & Barto), angles wrapped to [-π, π], velocities
clipped. Reward -1 per step until the tip rises one link length above the pivot (terminated,
reward 0). Stateless: ``step`` maps a state batch [N, 4] = (θ1, θ2, θ1_dot, θ2_dot) to the next.
"""

from __future__ import annotations

import math

import torch

from pgexp.envs.uniform_reset import UniformReset

DT = 0.2
MASS_1 = MASS_2 = 1.0
LENGTH_1 = 1.0
COM_1 = COM_2 = 0.5
MOI = 1.0
GRAVITY = 9.8
MAX_VEL_1 = 4 * math.pi
MAX_VEL_2 = 9 * math.pi
TORQUES = (-1.0, 0.0, 1.0)


def _derivatives(s: torch.Tensor, torque: torch.Tensor) -> torch.Tensor:
    """[N, 4] time derivative of the state under ``torque`` [N]."""
    theta1, theta2, dtheta1, dtheta2 = s.unbind(-1)
    d1 = (
        MASS_1 * COM_1**2
        + MASS_2 * (LENGTH_1**2 + COM_2**2 + 2 * LENGTH_1 * COM_2 * torch.cos(theta2))
        + 2 * MOI
    )
    d2 = MASS_2 * (COM_2**2 + LENGTH_1 * COM_2 * torch.cos(theta2)) + MOI
    phi2 = MASS_2 * COM_2 * GRAVITY * torch.cos(theta1 + theta2 - math.pi / 2.0)
    phi1 = (
        -MASS_2 * LENGTH_1 * COM_2 * dtheta2**2 * torch.sin(theta2)
        - 2 * MASS_2 * LENGTH_1 * COM_2 * dtheta2 * dtheta1 * torch.sin(theta2)
        + (MASS_1 * COM_1 + MASS_2 * LENGTH_1) * GRAVITY * torch.cos(theta1 - math.pi / 2)
        + phi2
    )
    ddtheta2 = (
        torque + d2 / d1 * phi1 - MASS_2 * LENGTH_1 * COM_2 * dtheta1**2 * torch.sin(theta2) - phi2
    ) / (MASS_2 * COM_2**2 + MOI - d2**2 / d1)
    ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
    return torch.stack((dtheta1, dtheta2, ddtheta1, ddtheta2), dim=-1)


def wrap_angle(x: torch.Tensor) -> torch.Tensor:
    """Wrap into [-π, π] by whole turns, as gymnasium's ``wrap`` does (π itself stays π).

    gymnasium subtracts (adds) 2π while the angle is above π (below -π). The first two turns
    are taken here the same way, one subtraction at a time; an angle more than two turns out
    (after extreme velocities) first loses its whole turns at once, which can round the last
    bit differently from gymnasium's repeated subtraction.
    """
    far = x.abs() > 5 * math.pi
    x = torch.where(far, x - 2 * math.pi * torch.round(x / (2 * math.pi)), x)
    for _ in range(2):
        x = torch.where(x > math.pi, x - 2 * math.pi, x)
        x = torch.where(x < -math.pi, x + 2 * math.pi, x)
    return x


class TorchAcrobot(UniformReset):
    """Batched Acrobot-v1: state [N, 4], actions {0, 1, 2} → torque {-1, 0, +1}."""

    reset_half_width = (0.1, 0.1, 0.1, 0.1)  # gymnasium: uniform in [-0.1, 0.1)
    obs_dim = 6
    n_actions = 3

    @staticmethod
    def observe(state: torch.Tensor) -> torch.Tensor:
        """[N, 6] (cos θ1, sin θ1, cos θ2, sin θ2, θ1_dot, θ2_dot)."""
        t1, t2, v1, v2 = state.unbind(-1)
        return torch.stack((t1.cos(), t1.sin(), t2.cos(), t2.sin(), v1, v2), dim=-1)

    @staticmethod
    def step(
        state: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One RK4 step: next state [N, 4], reward [N] (-1; 0 at the goal) and terminated [N]."""
        torque = action.to(state.dtype) - 1.0
        k1 = _derivatives(state, torque)
        k2 = _derivatives(state + DT / 2 * k1, torque)
        k3 = _derivatives(state + DT / 2 * k2, torque)
        k4 = _derivatives(state + DT * k3, torque)
        nxt = state + DT / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
        nxt = torch.stack(
            (
                wrap_angle(nxt[:, 0]),
                wrap_angle(nxt[:, 1]),
                nxt[:, 2].clamp(-MAX_VEL_1, MAX_VEL_1),
                nxt[:, 3].clamp(-MAX_VEL_2, MAX_VEL_2),
            ),
            dim=-1,
        )
        terminated = -torch.cos(nxt[:, 0]) - torch.cos(nxt[:, 1] + nxt[:, 0]) > 1.0
        reward = torch.where(terminated, 0.0, -1.0).to(state.dtype)
        return nxt, reward, terminated
