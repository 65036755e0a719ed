"""The interface every policy offers the samplers and estimators: R runs at once."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pgexp.ordered import ordered_sum


class Policy(nn.Module):
    """π_θ for a batch of R runs: every parameter has a leading run dimension R.

    Observations are state indices [R, M] for finite MDPs and vectors [R, M, obs_dim] otherwise;
    actions are indices [R, M] (discrete) or vectors [R, M, action_dim] (continuous). Run r only
    ever sees parameters [r]: runs share a batch, never a value.
    """

    draws_per_action: int = 1
    """Uniforms one action sample consumes."""

    @property
    def n_runs(self) -> int:
        """R, the number of runs in the batch."""
        return int(next(self.parameters()).shape[0])

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """[R, M] log π(actions|obs), differentiable in the parameters."""
        raise NotImplementedError

    def forward(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """:meth:`log_prob` (what ``torch.func.functional_call`` evaluates)."""
        return self.log_prob(obs, actions)

    def kl_to_fixed(self, obs: torch.Tensor) -> torch.Tensor:
        """[R, M] KL(π_θ̄(·|obs) ‖ π_θ(·|obs)), θ̄ the current parameters held fixed
        (detached): 0 at θ = θ̄, where its Hessian in θ is the Fisher information of π(·|obs),
        E_a[∇log π(a|obs) ∇log π(a|obs)ᵀ]."""
        raise NotImplementedError

    def sample(self, obs: torch.Tensor, u: torch.Tensor, first: int = 0) -> torch.Tensor:
        """Actions a ~ π(·|obs) [R, N, ...] from uniforms ``u`` [draws_per_action, R, N] in
        (0, 1) (no autograd graph): the same uniforms give the same actions. Row i belongs to
        trajectory ``first + i`` (neural policies keep each row in its trajectory's place)."""
        raise NotImplementedError

    @torch.no_grad()
    def select(self, runs: torch.Tensor) -> None:
        """Keep only the runs ``runs`` (int64 indices into the run dimension), in that order."""
        for p in self.parameters():
            p.data = p.data[runs.to(p.device)]


def categorical_kl_to_fixed(logits: torch.Tensor) -> torch.Tensor:
    """[...] KL(softmax(z̄) ‖ softmax(z)) over the last dimension, z̄ the ``logits`` detached."""
    logp = torch.log_softmax(logits, dim=-1)
    fixed = logp.detach()
    return ordered_sum(fixed.exp() * (fixed - logp), -1)


def sample_categorical(probs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """[...] int64 indices drawn from ``probs`` [..., A] by inverse CDF on the uniforms [...]."""
    cdf = torch.cumsum(probs, dim=-1)
    return (cdf[..., :-1] <= u.unsqueeze(-1)).sum(-1)


def stack_runs(draw: Sequence[torch.Tensor]) -> nn.Parameter:
    """One parameter [R, ...] from the R runs' own float64 draws."""
    return nn.Parameter(torch.stack(list(draw)).to(torch.float64))


def one_generator() -> list[torch.Generator]:
    """The generators of a batch of one run seeded 0 (the default of the constructors)."""
    return [torch.Generator().manual_seed(0)]
