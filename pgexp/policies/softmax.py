"""Softmax policies over the states of a finite MDP, for R runs at once.

Both policies compute a table of logits ``[R, S, A]``; the absorbing state (if any) gets logits 0
that depend on no parameter, so its score ∇log π is exactly zero.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from pgexp.config import TableInit
from pgexp.ordered import RunningSum, ordered_sum
from pgexp.policies.base import (
    Policy,
    categorical_kl_to_fixed,
    one_generator,
    sample_categorical,
    stack_runs,
)

VJP_BLOCK = 4096
"""State-action pairs whose feature products :meth:`LinearSoftmax.logit_vjp` holds at once."""


class TablePolicy(Policy):
    """A policy over finite states given by a logits table; subclasses define :meth:`logits`."""

    n_states: int
    n_actions: int

    def logits(self) -> torch.Tensor:
        """[R, S, A] logits of every state, absorbing state included."""
        raise NotImplementedError

    def logit_vjp(self, grad: torch.Tensor) -> torch.Tensor:
        """[R, P] ∂/∂θ of Σ_{s,a} grad[r, s, a]·logits[r, s, a] for ``grad`` [R, S, A]: the
        gradient with respect to the parameters of a function whose gradient with respect to the
        logits is ``grad`` (flat, in the order of ``parameters()``; no autograd)."""
        raise NotImplementedError

    def log_probs(self) -> torch.Tensor:
        """[R, S, A] log π(a|s)."""
        return torch.log_softmax(self.logits(), dim=-1)

    def probs(self) -> torch.Tensor:
        """[R, S, A] π(a|s)."""
        return torch.softmax(self.logits(), dim=-1)

    def kl_to_fixed(self, obs: torch.Tensor) -> torch.Tensor:
        """At the states ``obs`` [R, M]."""
        logits = self.logits()
        at = logits.gather(1, obs.unsqueeze(-1).expand(-1, -1, logits.shape[-1]))
        return categorical_kl_to_fixed(at)

    def log_prob(self, states: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """[R, M] log π(actions|states) for index tensors [R, M]."""
        runs = torch.arange(states.shape[0], device=states.device).unsqueeze(1)
        return self.log_probs()[runs, states, actions]

    @torch.no_grad()
    def sample(self, states: torch.Tensor, u: torch.Tensor, first: int = 0) -> torch.Tensor:
        """[R, N] int64 actions a ~ π(·|s) for states [R, N] and uniforms [1, R, N] (a finite
        MDP's sampler draws actions with the next states instead: ``FiniteMDP.step_table``)."""
        runs = torch.arange(states.shape[0], device=states.device).unsqueeze(1)
        return sample_categorical(self.probs()[runs, states], u[0])


def _init(
    shape: tuple[int, ...],
    init: TableInit,
    scale: float,
    generators: Sequence[torch.Generator],
) -> nn.Parameter:
    """float64 θ⁰ [R, *shape]: zeros, or N(0, scale²) entries, run r drawing from
    ``generators[r]``."""
    if init is TableInit.zeros:
        return stack_runs([torch.zeros(shape, dtype=torch.float64) for _ in generators])
    draws = [scale * torch.randn(shape, dtype=torch.float64, generator=g) for g in generators]
    return stack_runs(draws)


class TabularSoftmax(TablePolicy):
    """π(a|s) = softmax(θ[s])_a, θ ∈ R^{S'×A} over the S' non-absorbing states (per run)."""

    def __init__(
        self,
        n_states: int,
        n_actions: int,
        n_policy_states: int,
        init: TableInit = TableInit.zeros,
        init_scale: float = 1.0,
        generators: Sequence[torch.Generator] | None = None,
    ) -> None:
        super().__init__()
        self.n_states, self.n_actions = n_states, n_actions
        gens = generators or one_generator()
        self.theta = _init((n_policy_states, n_actions), init, init_scale, gens)

    def logits(self) -> torch.Tensor:
        pad = self.n_states - self.theta.shape[1]
        return torch.nn.functional.pad(self.theta, (0, 0, 0, pad))

    def logit_vjp(self, grad: torch.Tensor) -> torch.Tensor:
        return grad[:, : self.theta.shape[1]].flatten(1).clone()  # θ[s] are the logits of s


class LinearSoftmax(TablePolicy):
    """π(a|s) ∝ exp(φ(s, a)·θ), θ ∈ R^d per run, with fixed features φ of shape [S, A, d]."""

    features: torch.Tensor

    def __init__(
        self,
        features: torch.Tensor,
        init: TableInit = TableInit.zeros,
        init_scale: float = 1.0,
        generators: Sequence[torch.Generator] | None = None,
    ) -> None:
        super().__init__()
        self.n_states, self.n_actions, dim = features.shape
        self.register_buffer("features", features)
        gens = generators or one_generator()
        self.theta = _init((dim,), init, init_scale, gens)

    def logits(self) -> torch.Tensor:
        # products summed over d in index order (not a matrix product, whose order of addition
        # depends on how many runs share it): the logits of run r never depend on R
        return ordered_sum(self.features.unsqueeze(0) * self.theta[:, None, None, :], -1)

    def logit_vjp(self, grad: torch.Tensor) -> torch.Tensor:
        """Σ_{s,a} grad[r, s, a]·φ(s, a), over the (s, a) pairs in index order, a block of
        pairs at a time (memory: one block of products)."""
        R, S, A = grad.shape
        pairs, phi = grad.reshape(R, S * A, 1), self.features.reshape(1, S * A, -1)
        total = RunningSum()
        for first in range(0, S * A, VJP_BLOCK):
            total.add(pairs[:, first : first + VJP_BLOCK] * phi[:, first : first + VJP_BLOCK])
        return total.value(grad.dtype)
