"""Softmax policies over the states of a finite MDP.

Both policies compute a table of logits ``[S, A]``; the absorbing state (if any) gets logits 0
that depend on no parameter, so its score ∇log π is exactly zero.
"""

from __future__ import annotations

import torch
from torch import nn

from pgexp.config import TableInit
from pgexp.policies.base import Policy, sample_categorical


class TablePolicy(Policy):
    """A policy over finite states given by a logits table; subclasses define :meth:`logits`."""

    n_states: int
    n_actions: int

    def logits(self) -> torch.Tensor:
        """[S, A] logits of every state, absorbing state included."""
        raise NotImplementedError

    def log_probs(self) -> torch.Tensor:
        """[S, A] log π(a|s)."""
        return torch.log_softmax(self.logits(), dim=-1)

    def probs(self) -> torch.Tensor:
        """[S, A] π(a|s)."""
        return torch.softmax(self.logits(), dim=-1)

    def log_prob(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """log π(actions|states) for index tensors of any common shape."""
        return self.log_probs()[states, actions]

    @torch.no_grad()
    def sample(self, states: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """[N] int64 actions a ~ π(·|s) for states [N]."""
        return sample_categorical(self.probs()[states], generator)


def _init(
    shape: tuple[int, ...], init: TableInit, scale: float, generator: torch.Generator
) -> nn.Parameter:
    """float64 θ⁰ of ``shape``: zeros, or N(0, scale²) entries drawn from ``generator``."""
    if init is TableInit.zeros:
        return nn.Parameter(torch.zeros(shape, dtype=torch.float64))
    return nn.Parameter(scale * torch.randn(shape, dtype=torch.float64, generator=generator))


class TabularSoftmax(TablePolicy):
    """π(a|s) = softmax(θ[s])_a, θ ∈ R^{S'×A} over the S' non-absorbing states."""

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        n_policy_states: int,
        init: TableInit = TableInit.zeros,
        init_scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_states, self.n_actions = n_states, n_actions
        gen = generator or torch.Generator().manual_seed(0)
        self.theta = _init((n_policy_states, n_actions), init, init_scale, gen)

    def logits(self) -> torch.Tensor:
        pad = self.n_states - self.theta.shape[0]
        return torch.nn.functional.pad(self.theta, (0, 0, 0, pad))


class LinearSoftmax(TablePolicy):
    """π(a|s) ∝ exp(φ(s, a)·θ), θ ∈ R^d, with fixed features φ of shape [S, A, d]."""

    features: torch.Tensor

    def __init__(
        self,
        features: torch.Tensor,
        init: TableInit = TableInit.zeros,
        init_scale: float = 1.0,
        generator: torch.Generator | None = None,
    ) -> None:
        super().__init__()
        self.n_states, self.n_actions, dim = features.shape
        self.register_buffer("features", features)
        gen = generator or torch.Generator().manual_seed(0)
        self.theta = _init((dim,), init, init_scale, gen)

    def logits(self) -> torch.Tensor:
        return self.features @ self.theta
