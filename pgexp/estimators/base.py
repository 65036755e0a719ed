"""What every gradient estimator returns, and the autograd helper they share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch.nn.utils import parameters_to_vector

from pgexp.policies import Policy


@dataclass
class GradientEstimate:
    """One estimate of ∇J at the policy's current parameters.

    Attributes:
        grad: [P] flat gradient, in the order of ``policy.parameters()``.
        objective: exact J(θ) when the estimator computed it, else None.
        return_mean: mean return of the sampled trajectories, None if none were sampled.
        env_steps: environment steps sampled for this estimate.
        trajectories: trajectories sampled for this estimate.
    """

    grad: torch.Tensor
    objective: float | None = None
    return_mean: float | None = None
    env_steps: int = 0
    trajectories: int = 0


class GradientEstimator(Protocol):
    """Estimates ∇J(θ) for the policy's current θ."""

    def estimate(self, policy: Policy) -> GradientEstimate: ...


def flat_grad(scalar: torch.Tensor, params: Iterable[torch.Tensor]) -> torch.Tensor:
    """[P] gradient of ``scalar`` with respect to ``params``, concatenated (zeros where unused)."""
    params = list(params)
    grads = torch.autograd.grad(scalar, params, allow_unused=True, materialize_grads=True)
    return parameters_to_vector(grads)
