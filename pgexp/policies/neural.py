"""Neural policies over observation vectors, R networks at once: categorical and Gaussian."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn
from torch.distributions import Normal

from pgexp.config import Activation, NetInit
from pgexp.policies.base import Policy, sample_categorical, stack_runs

ACTIVATIONS: dict[Activation, type[nn.Module]] = {
    Activation.tanh: nn.Tanh,
    Activation.relu: nn.ReLU,
}


class RunLinear(nn.Module):
    """R independent linear layers: y[r] = x[r] W[r]ᵀ + b[r] for x [R, M, fan_in]."""

    def __init__(self, weight: nn.Parameter, bias: nn.Parameter) -> None:
        super().__init__()
        self.weight, self.bias = weight, bias  # [R, fan_out, fan_in], [R, fan_out]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.baddbmm(self.bias.unsqueeze(1), x, self.weight.transpose(1, 2))


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

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        return sample_categorical(torch.softmax(self.net(obs), dim=-1), u[0])


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

    def mean_log_std(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log σ, each [R, M, action_dim]."""
        out = self.net(obs)
        if self.log_std is None:
            mean, raw = out.split(self.action_dim, dim=-1)
            return mean, raw + self.log_std_init
        return out, self.log_std.unsqueeze(1).expand_as(out)

    def distribution(self, obs: torch.Tensor) -> Normal:
        """The action distribution at ``obs`` [R, M, obs_dim], batch shape [R, M, action_dim]."""
        mean, log_std = self.mean_log_std(obs)
        return Normal(mean, log_std.exp(), validate_args=False)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.distribution(obs).log_prob(actions).sum(-1)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """mean + σ·Φ⁻¹(u): one uniform per action coordinate, by the inverse normal CDF."""
        mean, log_std = self.mean_log_std(obs)
        noise = torch.special.ndtri(u).permute(1, 2, 0).to(mean.dtype)  # [R, N, action_dim]
        return mean + log_std.exp() * noise
