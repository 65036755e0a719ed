"""CartPole as a batched torch environment: N carts stepped at once, on any device.

Same dynamics (Euler integration), termination and reward as gymnasium's ``CartPole-v1``; the
state stays in the caller's dtype (float64 reproduces gymnasium to rounding). Stateless: ``step``
maps a state batch to the next one, so rollouts, masks and devices stay with the caller.
"""

from __future__ import annotations

import math

import torch

from pgexp.envs.uniform_reset import UniformReset

GRAVITY = 9.8
MASS_CART = 1.0
MASS_POLE = 0.1
TOTAL_MASS = MASS_CART + MASS_POLE
LENGTH = 0.5  # half the pole's length
POLEMASS_LENGTH = MASS_POLE * LENGTH
FORCE_MAG = 10.0
TAU = 0.02  # seconds between state updates
X_THRESHOLD = 2.4
THETA_THRESHOLD = 12 * 2 * math.pi / 360


class TorchCartPole(UniformReset):
    """Batched CartPole-v1: state [N, 4] = (x, x_dot, θ, θ_dot); action 0 pushes left, 1 right."""

    reset_half_width = (0.05, 0.05, 0.05, 0.05)  # gymnasium: uniform in [-0.05, 0.05)
    obs_dim = 4
    n_actions = 2

    @staticmethod
    def observe(state: torch.Tensor) -> torch.Tensor:
        """[N, 4] the observation is the state itself."""
        return state

    @staticmethod
    def step(
        state: torch.Tensor, action: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One Euler step for every cart.

        Args:
            state: [N, 4]; action: [N] integers in {0, 1}.
        Returns:
            next state [N, 4], reward [N] (1 on every step, the terminating one included) and
            terminated [N] bool (cart outside ±2.4 or pole beyond ±12°).
        """
        x, x_dot, theta, theta_dot = state.unbind(-1)
        force = (2 * action.to(state.dtype) - 1) * FORCE_MAG
        cos, sin = torch.cos(theta), torch.sin(theta)
        temp = (force + POLEMASS_LENGTH * theta_dot.square() * sin) / TOTAL_MASS
        theta_acc = (GRAVITY * sin - cos * temp) / (
            LENGTH * (4.0 / 3.0 - MASS_POLE * cos.square() / TOTAL_MASS)
        )
        x_acc = temp - POLEMASS_LENGTH * theta_acc * cos / TOTAL_MASS
        nxt = torch.stack(
            (
                x + TAU * x_dot,
                x_dot + TAU * x_acc,
                theta + TAU * theta_dot,
                theta_dot + TAU * theta_acc,
            ),
            dim=-1,
        )
        terminated = (nxt[:, 0].abs() > X_THRESHOLD) | (nxt[:, 2].abs() > THETA_THRESHOLD)
        return nxt, torch.ones_like(x), terminated
