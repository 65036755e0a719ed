"""What every gradient estimator returns, and the helpers they share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import torch

from pgexp.policies import Policy


@dataclass
class GradientEstimate:
    """One estimate of ∇J at the current parameters of each of R runs.

    Attributes:
        grad: [R, P] flat gradients, in the order of ``policy.parameters()``.
        objective: [R] exact J(θ) when the estimator computed it, else None.
        return_mean: [R] mean return of the sampled trajectories, None if none were sampled.
        env_steps: [R] int64 environment steps sampled for this estimate, None if none.
        trajectories: trajectories sampled per run for this estimate.
    """

    grad: torch.Tensor
    objective: torch.Tensor | None = None
    return_mean: torch.Tensor | None = None
    env_steps: torch.Tensor | None = None
    trajectories: int = 0


class GradientEstimator(Protocol):
    """Estimates ∇J(θ) at every run's current θ; ``keys`` [R, 2] are the runs' random keys for
    this estimate (unused by exact estimators)."""

    def estimate(self, policy: Policy, keys: torch.Tensor) -> GradientEstimate: ...


def flat_grad(
    scalar: torch.Tensor, params: Iterable[torch.Tensor], create_graph: bool = False
) -> torch.Tensor:
    """[R, P] gradient of ``scalar`` with respect to ``params`` (each [R, ...]), flattened per run
    and concatenated (zeros where unused); with ``create_graph``, itself differentiable."""
    params = list(params)
    grads = torch.autograd.grad(
        scalar, params, create_graph=create_graph, allow_unused=True, materialize_grads=True
    )
    return torch.cat([g.reshape(g.shape[0], -1) for g in grads], dim=1)
