"""Environments: finite MDPs as sparse tensors, from gymnasium or generated."""

from __future__ import annotations

from pgexp.config import (
    BanditEnvConfig,
    ChainEnvConfig,
    EnvConfig,
    GarnetEnvConfig,
    TorchEnvConfig,
    ToyTextEnvConfig,
)
from pgexp.envs.batched import TORCH_ENVS, BatchedEnv, make_batched_env
from pgexp.envs.finite_mdp import FiniteMDP, from_entries
from pgexp.envs.generated import make_bandit, make_chain, make_garnet
from pgexp.envs.toy_text import from_gymnasium, make_toy_text
from pgexp.errors import ConfigError

__all__ = [
    "BatchedEnv",
    "FiniteMDP",
    "from_entries",
    "from_gymnasium",
    "make_bandit",
    "make_chain",
    "make_env",
    "make_garnet",
    "make_toy_text",
]


def make_env(cfg: EnvConfig) -> FiniteMDP | BatchedEnv:
    """The env a config describes: a finite MDP (on the CPU; move it with ``.to``) or a
    torch-native batched env (which samples on the policy's device)."""
    T, gamma = cfg.horizon, cfg.discount
    if isinstance(cfg, ToyTextEnvConfig):
        return make_toy_text(cfg.id, dict(cfg.kwargs), T, gamma)
    if isinstance(cfg, BanditEnvConfig):
        return make_bandit(list(cfg.rewards), T, gamma)
    if isinstance(cfg, ChainEnvConfig):
        return make_chain(cfg.n_states, cfg.slip, cfg.small_reward, cfg.large_reward, T, gamma)
    if isinstance(cfg, GarnetEnvConfig):
        return make_garnet(cfg.n_states, cfg.n_actions, cfg.branching, cfg.seed, T, gamma)
    if isinstance(cfg, TorchEnvConfig):
        if cfg.name not in TORCH_ENVS:
            raise ConfigError(
                "env.name", f"must be one of {', '.join(TORCH_ENVS)} (got {cfg.name!r})"
            )
        return make_batched_env(cfg.name, T, gamma)
    raise ConfigError("env", f"has an unknown schema {type(cfg).__name__}")
