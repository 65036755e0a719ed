"""Neural policies over observation vectors: categorical (discrete actions) and Gaussian."""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

import torch
from torch import nn
from torch.distributions import Normal

from pgexp.config import Activation, NetInit
from pgexp.policies.base import Policy, sample_categorical

ACTIVATIONS: dict[Activation, type[nn.Module]] = {
    Activation.tanh: nn.Tanh,
    Activation.relu: nn.ReLU,
}


def mlp(
    sizes: Sequence[int],
    activation: Activation,
    init: NetInit,
    out_gain: float,
    generator: torch.Generator,
) -> nn.Sequential:
    """float64 linear layers of ``sizes`` with ``activation`` between them.

    ``init=orthogonal`` draws orthogonal weights (``torch.nn.init.orthogonal_``; gain √2 inside,
    ``out_gain`` on the last layer) and zero biases; ``init=default`` draws torch's default
    ``nn.Linear`` distribution (weights and biases U(±1/√fan_in)). Both draw from ``generator``
    only.
    """
    layers: list[nn.Module] = []
    for i, (fan_in, fan_out) in enumerate(pairwise(sizes)):
        layer = nn.Linear(fan_in, fan_out, dtype=torch.float64)
        last = i == len(sizes) - 2
        with torch.no_grad():
            if init is NetInit.orthogonal:
                gain = out_gain if last else math.sqrt(2)
                nn.init.orthogonal_(layer.weight, gain=gain, generator=generator)
                layer.bias.zero_()
            else:
                bound = 1 / math.sqrt(fan_in)
                layer.weight.uniform_(-bound, bound, generator=generator)
                layer.bias.uniform_(-bound, bound, generator=generator)
        layers.append(layer)
        if not last:
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
        generator: torch.Generator,
    ) -> None:
        super().__init__()
        self.net = mlp([obs_dim, *hidden, n_actions], activation, init, 0.01, generator)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        logp = torch.log_softmax(self.net(obs), dim=-1)
        return logp.gather(-1, actions.unsqueeze(-1)).squeeze(-1)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return sample_categorical(torch.softmax(self.net(obs), dim=-1), generator)


class GaussianMLP(Policy):
    """π(a|o) = N(MLP(o), diag σ²) with log σ a parameter or a second output head."""

    def __init__(
        self,
        obs_dim: int,
        action_dim: int,
        hidden: Sequence[int],
        activation: Activation,
        init: NetInit,
        generator: torch.Generator,
        state_dependent_std: bool = False,
        log_std_init: float = 0.0,
    ) -> None:
        super().__init__()
        out = 2 * action_dim if state_dependent_std else action_dim
        self.net = mlp([obs_dim, *hidden, out], activation, init, 0.01, generator)
        self.action_dim = action_dim
        self.log_std_init = log_std_init
        self.log_std = (
            None
            if state_dependent_std
            else nn.Parameter(torch.full((action_dim,), log_std_init, dtype=torch.float64))
        )

    def mean_log_std(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log σ, each [..., action_dim]."""
        out = self.net(obs)
        if self.log_std is None:
            mean, raw = out.split(self.action_dim, dim=-1)
            return mean, raw + self.log_std_init
        return out, self.log_std.expand_as(out)

    def distribution(self, obs: torch.Tensor) -> Normal:
        """The action distribution at ``obs`` [..., obs_dim], batch shape [..., action_dim]."""
        mean, log_std = self.mean_log_std(obs)
        return Normal(mean, log_std.exp(), validate_args=False)

    def log_prob(self, obs: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        return self.distribution(obs).log_prob(actions).sum(-1)

    @torch.no_grad()
    def sample(self, obs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mean, log_std = self.mean_log_std(obs)
        noise = torch.randn(mean.shape, dtype=mean.dtype, device=mean.device, generator=generator)
        return mean + log_std.exp() * noise
