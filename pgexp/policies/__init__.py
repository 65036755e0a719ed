"""Policies: a batch of states in, action probabilities and log-probabilities out."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from pgexp.config import (
    GaussianPolicyConfig,
    LinearSoftmaxConfig,
    MLPPolicyConfig,
    PolicyConfig,
    TabularSoftmaxConfig,
)
from pgexp.envs import Env, ObservationEnv, unroll_time
from pgexp.errors import ConfigError
from pgexp.policies.base import Policy
from pgexp.policies.features import load_features, one_hot_features, random_features
from pgexp.policies.neural import CategoricalMLP, GaussianMLP
from pgexp.policies.softmax import LinearSoftmax, TablePolicy, TabularSoftmax

__all__ = [
    "CategoricalMLP",
    "GaussianMLP",
    "LinearSoftmax",
    "Policy",
    "TablePolicy",
    "TabularSoftmax",
    "make_policy",
    "policy_env",
]


def policy_env(cfg: PolicyConfig, env: Env) -> Env:
    """The env as the policy sees it: ``env`` itself, or for a time-dependent tabular policy the
    finite MDP whose states are the pairs (t, s) (:func:`pgexp.envs.unroll_time`)."""
    if not (isinstance(cfg, TabularSoftmaxConfig) and cfg.time_dependent):
        return env
    mdp = env.finite_mdp
    if mdp is None:
        raise ConfigError(
            "policy.time_dependent=true", "needs a finite MDP (one table per step and state)"
        )
    return unroll_time(mdp)


def make_policy(cfg: PolicyConfig, env: Env, generators: Sequence[torch.Generator]) -> Policy:
    """The policy a config describes for R = ``len(generators)`` runs, in float64 on the CPU
    (move it with ``.to``); run r draws its initial parameters from ``generators[r]``.
    """
    mdp, obs = env.finite_mdp, env.observation_env
    if mdp is None:
        assert obs is not None, "an env is a finite MDP or has observation vectors"
        return make_neural_policy(cfg, obs, generators)
    if isinstance(cfg, MLPPolicyConfig):
        raise ConfigError(
            f"policy={cfg.name}",
            "needs an env with observation vectors "
            "(cartpole, acrobot, pendulum, gym): use tabular_softmax or linear_softmax",
        )
    S, A, S_pol = mdp.n_states, mdp.n_actions, mdp.n_policy_states
    if isinstance(cfg, TabularSoftmaxConfig):
        return TabularSoftmax(S, A, S_pol, cfg.init, cfg.init_scale, generators)
    if isinstance(cfg, LinearSoftmaxConfig):
        if cfg.features == "one_hot":
            phi = one_hot_features(S, A, S_pol)
        elif cfg.features == "random":
            gen = torch.Generator().manual_seed(cfg.feature_seed)
            phi = random_features(S, A, S_pol, cfg.dim, gen)
        elif cfg.features == "env":
            if mdp.features is None:
                raise ConfigError(
                    "policy.features=env",
                    "needs an MDP with features: env=file with a features field",
                )
            phi = mdp.features
        else:
            try:
                phi = load_features(cfg.features, S, A, S_pol)
            except (OSError, ValueError) as err:
                raise ConfigError(
                    "policy.features",
                    f"must be one_hot, random, env or a readable .npy file: {err}",
                ) from None
        return LinearSoftmax(phi, cfg.init, cfg.init_scale, generators)
    raise ConfigError("policy", f"has an unknown schema {type(cfg).__name__}")


def make_neural_policy(
    cfg: PolicyConfig, env: ObservationEnv, generators: Sequence[torch.Generator]
) -> Policy:
    """``mlp`` for discrete actions, ``gaussian`` for continuous ones."""
    obs_dim = env.obs_dim
    if isinstance(cfg, GaussianPolicyConfig):
        if env.n_actions is not None:
            raise ConfigError(
                "policy=gaussian",
                f"needs continuous actions; env={env.name} has "
                f"{env.n_actions} discrete actions: use policy=mlp",
            )
        return GaussianMLP(obs_dim, env.action_dim, list(cfg.hidden), cfg.activation, cfg.init,
                           generators, cfg.state_dependent_std, cfg.log_std_init)  # fmt: skip
    if isinstance(cfg, MLPPolicyConfig):
        if env.n_actions is None:
            raise ConfigError(
                "policy=mlp",
                f"needs discrete actions; env={env.name} has "
                "continuous actions: use policy=gaussian",
            )
        return CategoricalMLP(obs_dim, env.n_actions, list(cfg.hidden), cfg.activation, cfg.init,
                              generators)  # fmt: skip
    raise ConfigError(
        f"policy={cfg.name}",
        f"needs a finite MDP; env={env.name} has observation "
        "vectors: use policy=mlp or policy=gaussian",
    )
