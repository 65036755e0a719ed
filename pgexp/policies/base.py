"""The interface every policy offers the samplers and estimators."""

from __future__ import annotations

import torch
from torch import nn


class Policy(nn.Module):
    """π_θ: samples actions for a batch of observations and scores the actions taken.

    Observations are state indices [...] for finite MDPs and vectors [..., obs_dim] otherwise;
    actions are indices [...] (discrete) or vectors [..., action_dim] (continuous).
    """

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """[...] log π(actions|obs), differentiable in the parameters."""
        raise NotImplementedError

    def sample(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Actions a ~ π(·|obs), drawn from ``generator`` only (no autograd graph)."""
        raise NotImplementedError


def sample_categorical(probs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """[...] int64 indices drawn from ``probs`` [..., A] by inverse CDF on one uniform each."""
    cdf = torch.cumsum(probs, dim=-1)
    u = torch.rand((*probs.shape[:-1], 1), dtype=cdf.dtype, device=cdf.device, generator=generator)
    return (cdf[..., :-1] <= u).sum(-1)
