"""Neural policies over observation vectors, R networks at once: categorical and Gaussian."""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import cache
from itertools import pairwise
from typing import Any

import torch
from torch import nn
from torch.distributions import Normal

from pgexp.config import Activation, NetInit
from pgexp.hardware import one_thread
from pgexp.ordered import ordered_sum
from pgexp.policies.base import (
    Policy,
    categorical_kl_to_fixed,
    sample_categorical,
    stack_runs,
)

ACTIVATIONS: dict[Activation, type[nn.Module]] = {
    Activation.tanh: nn.Tanh,
    Activation.relu: nn.ReLU,
}


ROW_BLOCK = 64
"""Rows per matrix of the batched products on the CPU (see :class:`Affine`)."""


class RunLinear(nn.Module):
    """R independent linear layers: y[r] = x[r] W[r]ᵀ + b[r] for x [R, M, fan_in]."""

    def __init__(self, weight: nn.Parameter, bias: nn.Parameter) -> None:
        super().__init__()
        self.weight, self.bias = weight, bias  # [R, fan_out, fan_in], [R, fan_out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if torch.is_grad_enabled():
            return Affine.apply(x, self.weight, self.bias)
        return affine(x, self.weight, self.bias)  # sampling: no autograd bookkeeping


class Affine(torch.autograd.Function):
    """y[r] = x[r] W[r]ᵀ + b[r] for x [R, M, fan_in], every row's numbers its own.

    A BLAS product rounds a row according to how many rows it has, where the row lies among
    them, where the operands lie in memory and how threads split the work, and a batched product
    of one matrix takes another path than one of several. On the CPU each run's rows are cut
    into blocks of exactly :data:`ROW_BLOCK` rows (the last padded with zero rows) and all
    blocks of all runs go through one batched product of at least two matrices (a zero block is
    added to a lone one), each block with its run's weights, from fresh 64-byte-aligned
    operands, on one thread; the weight gradient adds each run's blocks in order, the bias
    gradient its rows in index order. A row's result then depends on its values and its place
    in its block only, which the callers keep fixed (:func:`rows_in_place`, the score's blocks
    of steps). On a GPU, and in a program ``torch.compile`` makes (``hardware.compile``, which
    promises no bits), it is one batched product of the R runs.
    """

    @staticmethod
    def forward(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        return affine(x, weight, bias)

    @staticmethod
    def setup_context(ctx: Any, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        x, weight, _ = inputs
        ctx.save_for_backward(x, weight)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor | None, ...]:
        x, weight = ctx.saved_tensors
        want_x, want_weight, want_bias = ctx.needs_input_grad
        grads, runs, per_run = row_blocks(grad)
        grad_x = grad_weight = None
        with one_thread(grad.device):
            if want_x:
                grad_x = from_blocks(torch.bmm(grads, weight[runs]), x.shape)
            if want_weight:
                parts = torch.bmm(grads.transpose(1, 2), row_blocks(x)[0])  # [B, F, K]
                R, F, K = weight.shape
                grad_weight = ordered_sum(parts[: R * per_run].view(R, per_run, F, K), 1)
        grad_bias = ordered_sum(grad, 1) if want_bias else None
        return grad_x, grad_weight, grad_bias


def affine(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """[R, M, fan_out] x[r] W[r]ᵀ + b[r], computed as :class:`Affine` says."""
    blocks, runs, _ = row_blocks(x)
    with one_thread(x.device):
        out = torch.baddbmm(bias[runs].unsqueeze(1), blocks, weight[runs].transpose(1, 2))
    return from_blocks(out, x.shape)


def row_blocks(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """The rows of ``x`` [R, M, d] as blocks [B, ROW_BLOCK, d] (each run's last block padded
    with zero rows, a zero block added when there would be one), each block's run [B] and the
    blocks per run; on a GPU or while ``torch.compile`` traces, ``x`` itself, 0..R-1 and 1."""
    R, M, d = x.shape
    if x.device.type != "cpu" or torch.compiler.is_compiling():
        return x, torch.arange(R, device=x.device), 1
    per_run = -(-M // ROW_BLOCK)
    blocks = R * per_run
    padded = x.new_zeros(max(blocks, 2) * ROW_BLOCK, d)  # fresh: 64-byte aligned
    padded.view(max(blocks, 2), -1)[:blocks].view(R, per_run * ROW_BLOCK, d)[:, :M] = x
    return padded.view(-1, ROW_BLOCK, d), block_runs(R, per_run, x.device), per_run


@cache
def block_runs(runs: int, per_run: int, device: torch.device) -> torch.Tensor:
    """The run of each block of :func:`row_blocks` (at least two blocks)."""
    index = torch.arange(runs, device=device).repeat_interleave(per_run)
    return index.repeat(2) if index.numel() == 1 else index


def from_blocks(out: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    """[R, M, f] results of :func:`row_blocks`'s blocks [B, ROW_BLOCK, f] (padding dropped)."""
    R, M = shape[0], shape[1]
    if out.shape[0] == R and out.shape[1] == M:
        return out
    per_run = -(-M // ROW_BLOCK)
    return out[: R * per_run].reshape(R, per_run * ROW_BLOCK, -1)[:, :M]


def rows_in_place(net: nn.Module, obs: torch.Tensor, first: int) -> torch.Tensor:
    """``net(obs)`` for observations [R, n, d] of trajectories ``first .. first + n - 1``, each
    row in the place of its trajectory in blocks of :data:`ROW_BLOCK` (zero rows in front):
    a trajectory's numbers are then the same in whichever chunk it is sampled."""
    front = first % ROW_BLOCK if obs.device.type == "cpu" else 0
    if front == 0:
        return net(obs)
    pad = obs.new_zeros(obs.shape[0], front, obs.shape[2])
    return net(torch.cat([pad, obs], 1))[:, front:]


def layer_init(
    fan_in: int, fan_out: int, init: NetInit, gain: float, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """float64 weight [fan_out, fan_in] and bias [fan_out] of one run's layer.

    ``orthogonal``: ``torch.nn.init.orthogonal_`` with ``gain``, zero bias; ``default``: torch's
    ``nn.Linear`` distribution (weight and bias U(±1/√fan_in)). Both draw from ``generator`` only.
    """
    weight = torch.empty((fan_out, fan_in), dtype=torch.float64)
    bias = torch.zeros(fan_out, dtype=torch.float64)
    if init is NetInit.orthogonal:
        with one_thread(weight.device):  # a QR decomposition: LAPACK splits it among threads
            nn.init.orthogonal_(weight, gain=gain, generator=generator)
    else:
        bound = 1 / math.sqrt(fan_in)
        weight.uniform_(-bound, bound, generator=generator)
        bias.uniform_(-bound, bound, generator=generator)
    return weight, bias


def mlp(
    sizes: Sequence[int],
    activation: Activation,
    init: NetInit,
    out_gain: float,
    generators: Sequence[torch.Generator],
) -> nn.Sequential:
    """R float64 MLPs of layer ``sizes`` with ``activation`` between layers, run r initialized
    from ``generators[r]`` (layer by layer; gain √2 inside, ``out_gain`` on the last layer)."""
    n_layers = len(sizes) - 1
    per_run = [
        [
            layer_init(fan_in, fan_out, init, out_gain if i == n_layers - 1 else math.sqrt(2), g)
            for i, (fan_in, fan_out) in enumerate(pairwise(sizes))
        ]
        for g in generators
    ]
    layers: list[nn.Module] = []
    for i in range(n_layers):
        weight = stack_runs([run[i][0] for run in per_run])
        bias = stack_runs([run[i][1] for run in per_run])
        layers.append(RunLinear(weight, bias))
        if i < n_layers - 1:
            layers.append(ACTIVATIONS[activation]())
    return nn.Sequential(*layers)


class CategoricalMLP(Policy):
    """π(a|o) = softmax(MLP(o))_a over ``n_actions`` discrete actions."""

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: Sequence[int],
        activation: Activation,
        init: NetInit,
        generators: Sequence[torch.Generator],
    ) -> None:
        super().__init__()
        self.net = mlp([obs_dim, *hidden, n_actions], activation, init, 0.01, generators)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(self.net(obs), dim=-1)
        return logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    def kl_to_fixed(self, obs: torch.Tensor) -> torch.Tensor:
        return categorical_kl_to_fixed(self.net(obs))

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, u: torch.Tensor, first: int = 0) -> torch.Tensor:
        logits = rows_in_place(self.net, obs, first)
        return sample_categorical(torch.softmax(logits, dim=-1), u[0])


class GaussianMLP(Policy):
    """π(a|o) = N(MLP(o), diag σ²) with log σ a parameter or a second output head."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: Sequence[int],
        activation: Activation,
        init: NetInit,
        generators: Sequence[torch.Generator],
        state_dependent_std: bool = False,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        out = 2 * action_dim if state_dependent_std else action_dim
        self.net = mlp([obs_dim, *hidden, out], activation, init, 0.01, generators)
        self.action_dim = self.draws_per_action = action_dim
        self.log_std_init = log_std_init
        self.log_std = (
            None
            if state_dependent_std
            else stack_runs([torch.full((action_dim,), log_std_init) for _ in generators])
        )

    def mean_log_std(self, obs: torch.Tensor, first: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log σ, each [R, M, action_dim] (``first``: see :func:`rows_in_place`)."""
        out = rows_in_place(self.net, obs, first)
        if self.log_std is None:
            mean, raw = out.split(self.action_dim, dim=-1)
            return mean, raw + self.log_std_init
        return out, self.log_std.unsqueeze(1).expand_as(out)

    def distribution(self, obs: torch.Tensor) -> Normal:
        """The action distribution at ``obs`` [R, M, obs_dim], batch shape [R, M, action_dim]."""
        mean, log_std = self.mean_log_std(obs)
        return Normal(mean, log_std.exp(), validate_args=False)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return ordered_sum(self.distribution(obs).log_prob(actions), -1)

    def kl_to_fixed(self, obs: torch.Tensor) -> torch.Tensor:
        """KL(N(μ̄, σ̄²) ‖ N(μ, σ²)) = Σ_d log σ/σ̄ + (σ̄² + (μ̄ − μ)²)/(2σ²) − 1/2."""
        mean, log_std = self.mean_log_std(obs)
        mean_fixed, log_std_fixed = mean.detach(), log_std.detach()
        spread = torch.exp(2 * log_std_fixed) + (mean_fixed - mean) ** 2
        kl = log_std - log_std_fixed + spread / (2 * torch.exp(2 * log_std)) - 0.5
        return ordered_sum(kl, -1)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, u: torch.Tensor, first: int = 0) -> torch.Tensor:
        """mean + σ·Φ⁻¹(u): one uniform per action coordinate, by the inverse normal CDF."""
        mean, log_std = self.mean_log_std(obs, first)
        noise = torch.special.ndtri(u).permute(1, 2, 0).to(mean.dtype)  # [R, N, action_dim]
        return mean + log_std.exp() * noise
