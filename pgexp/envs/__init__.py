"""Environments: finite MDPs as sparse tensors (from gymnasium, generated, or one's own file or
arrays), torch-native batched envs, and gymnasium vector envs."""

from __future__ import annotations

from pgexp.config import (
    BanditEnvConfig,
    ChainEnvConfig,
    EnvConfig,
    FileEnvConfig,
    GarnetEnvConfig,
    GymEnvConfig,
    TorchEnvConfig,
    ToyTextEnvConfig,
)
from pgexp.envs.base import Env, ObservationEnv
from pgexp.envs.batched import TORCH_ENVS, BatchedEnv, make_batched_env
from pgexp.envs.finite_mdp import FiniteMDP, from_entries
from pgexp.envs.generated import make_bandit, make_chain, make_garnet
from pgexp.envs.gym_vector import GymVectorEnv
from pgexp.envs.tabular import MDPFileError, TabularMDP, load_mdp_file
from pgexp.envs.time_unrolled import unroll_time
from pgexp.envs.toy_text import from_gymnasium, make_toy_text
from pgexp.errors import ConfigError

__all__ = [
    "BatchedEnv",
    "Env",
    "FiniteMDP",
    "GymVectorEnv",
    "MDPFileError",
    "ObservationEnv",
    "TabularMDP",
    "from_entries",
    "from_gymnasium",
    "load_mdp_file",
    "make_bandit",
    "make_batched_env",
    "make_chain",
    "make_env",
    "make_garnet",
    "make_toy_text",
    "unroll_time",
]


def make_env(cfg: EnvConfig) -> Env:
    """The env a config describes: a finite MDP (on the CPU; move it with ``.to``), a
    torch-native batched env (which samples on the policy's device) or a gymnasium vector env."""
    gamma = cfg.discount
    if isinstance(cfg, GymEnvConfig):
        return GymVectorEnv(cfg.id, dict(cfg.kwargs), cfg.horizon, gamma,
                            cfg.vectorization, cfg.num_envs, cfg.name)  # fmt: skip
    if cfg.horizon is None:
        raise ConfigError("env.horizon", "must be an integer >= 1 (got None)")
    T = cfg.horizon
    if isinstance(cfg, ToyTextEnvConfig):
        return make_toy_text(cfg.id, dict(cfg.kwargs), T, gamma)
    if isinstance(cfg, BanditEnvConfig):
        return make_bandit(list(cfg.rewards), T, gamma)
    if isinstance(cfg, ChainEnvConfig):
        return make_chain(cfg.n_states, cfg.slip, cfg.small_reward, cfg.large_reward, T, gamma)
    if isinstance(cfg, GarnetEnvConfig):
        return make_garnet(cfg.n_states, cfg.n_actions, cfg.branching, cfg.seed, T, gamma)
    if isinstance(cfg, FileEnvConfig):
        try:
            return load_mdp_file(cfg.path, T, gamma)
        except MDPFileError as err:
            raise ConfigError("env.path", f"{cfg.path}: {err}") from None
        except OSError as err:
            raise ConfigError("env.path", f"cannot be read ({err.strerror}: {cfg.path})") from None
    if isinstance(cfg, TorchEnvConfig):
        if cfg.name not in TORCH_ENVS:
            raise ConfigError(
                "env.name", f"must be one of {', '.join(TORCH_ENVS)} (got {cfg.name!r})"
            )
        return make_batched_env(cfg.name, T, gamma)
    raise ConfigError("env", f"has an unknown schema {type(cfg).__name__}")
