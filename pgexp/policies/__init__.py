"""Policies: a batch of states in, action probabilities and log-probabilities out."""

from __future__ import annotations

import torch

from pgexp.config import LinearSoftmaxConfig, PolicyConfig, TabularSoftmaxConfig
from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.errors import ConfigError
from pgexp.policies.features import load_features, one_hot_features, random_features
from pgexp.policies.softmax import LinearSoftmax, TablePolicy, TabularSoftmax

__all__ = ["LinearSoftmax", "TablePolicy", "TabularSoftmax", "make_policy"]


def make_policy(cfg: PolicyConfig, mdp: FiniteMDP, generator: torch.Generator) -> TablePolicy:
    """The policy a config describes, in float64 on the CPU (move it with ``.to``).

    ``generator`` draws the initial parameters (``init=normal``) and random features.
    """
    S, A, S_pol = mdp.n_states, mdp.n_actions, mdp.n_policy_states
    if isinstance(cfg, TabularSoftmaxConfig):
        return TabularSoftmax(S, A, S_pol, cfg.init, cfg.init_scale, generator)
    if isinstance(cfg, LinearSoftmaxConfig):
        if cfg.features == "one_hot":
            phi = one_hot_features(S, A, S_pol)
        elif cfg.features == "random":
            gen = torch.Generator().manual_seed(cfg.feature_seed)
            phi = random_features(S, A, S_pol, cfg.dim, gen)
        else:
            try:
                phi = load_features(cfg.features, S, A, S_pol)
            except (OSError, ValueError) as err:
                raise ConfigError(
                    "policy.features", f"must be one_hot, random or a readable .npy file: {err}"
                ) from None
        return LinearSoftmax(phi, cfg.init, cfg.init_scale, generator)
    raise ConfigError("policy", f"has an unknown schema {type(cfg).__name__}")
