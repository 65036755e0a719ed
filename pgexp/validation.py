"""Up-front checks of config values that types alone cannot express.

Each failure is a :class:`ConfigError` naming the key, the value and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Callable, Mapping
from typing import Any

from pgexp.config import (
    BanditEnvConfig,
    Baseline,
    ChainEnvConfig,
    Config,
    ExactEstimatorConfig,
    GarnetEnvConfig,
    GymEnvConfig,
    LinearSoftmaxConfig,
    MinibatchEstimatorConfig,
    MLPPolicyConfig,
    TablePolicyConfig,
    WandbLoggerConfig,
)
from pgexp.errors import ConfigError

MOST = 10**9
"""The most iterations or evaluation episodes a run may ask for (a billion: days of work even
at a millisecond each; beyond that a typo is likelier than a plan)."""


def _require(ok: bool, key: str, value: object, allowed: str) -> None:
    if not ok:
        raise ConfigError(key, f"must be {allowed} (got {value!r})")


def _int_at_least(key: str, value: int, low: int) -> None:
    _require(value >= low, key, value, f"an integer >= {low}")


def _positive_finite(key: str, value: float) -> None:
    _require(math.isfinite(value) and value > 0, key, value, "a finite number > 0")


def validate_env(cfg: Config) -> None:
    env = cfg.env
    # null is resolved (env=gym: the id's TimeLimit) or rejected by make_env, which alone knows
    if env.horizon is not None:
        _int_at_least("env.horizon", env.horizon, 1)
    _require(0 < env.discount <= 1, "env.discount", env.discount, "in (0, 1]")
    if isinstance(env, BanditEnvConfig):
        _require(len(env.rewards) > 0, "env.rewards", list(env.rewards), "a non-empty list")
        _require(
            all(math.isfinite(r) for r in env.rewards),
            "env.rewards",
            list(env.rewards),
            "a list of finite numbers",
        )
    elif isinstance(env, ChainEnvConfig):
        _int_at_least("env.n_states", env.n_states, 2)
        _require(0 <= env.slip <= 1, "env.slip", env.slip, "in [0, 1]")
    elif isinstance(env, GarnetEnvConfig):
        _int_at_least("env.n_states", env.n_states, 1)
        _int_at_least("env.n_actions", env.n_actions, 1)
        _require(
            1 <= env.branching <= env.n_states,
            "env.branching",
            env.branching,
            f"an integer in [1, env.n_states={env.n_states}]",
        )
        _require(0 <= env.seed < 2**32, "env.seed", env.seed, "an integer in [0, 2^32)")
    elif isinstance(env, GymEnvConfig) and env.num_envs is not None:
        _int_at_least("env.num_envs", env.num_envs, 1)


def validate_policy(cfg: Config) -> None:
    policy = cfg.policy
    if isinstance(policy, MLPPolicyConfig):
        _require(
            all(h >= 1 for h in policy.hidden), "policy.hidden", list(policy.hidden), "sizes >= 1"
        )
    if isinstance(policy, TablePolicyConfig):
        _require(policy.init_scale >= 0, "policy.init_scale", policy.init_scale, ">= 0")
    if isinstance(policy, LinearSoftmaxConfig):
        _int_at_least("policy.dim", policy.dim, 1)


def validate_estimator(cfg: Config) -> None:
    est = cfg.estimator
    if isinstance(est, MinibatchEstimatorConfig):
        _int_at_least("estimator.N", est.N, 1)
        if est.chunk is not None:
            _int_at_least("estimator.chunk", est.chunk, 1)
        if est.baseline is Baseline.leave_one_out:
            _int_at_least("estimator.N (with estimator.baseline=leave_one_out)", est.N, 2)
    elif isinstance(est, ExactEstimatorConfig):
        _int_at_least("estimator.max_trajectories", est.max_trajectories, 1)


def validate_train(cfg: Config) -> None:
    _require(0 <= cfg.seed < 2**64, "seed", cfg.seed, "an integer in [0, 2^64)")
    _require(1 <= cfg.train.iters <= MOST, "train.iters", cfg.train.iters, f"in [1, {MOST:.0e}]")
    _positive_finite("train.lr", cfg.train.lr)
    if cfg.train.eval_episodes is not None:
        episodes = cfg.train.eval_episodes
        _require(0 <= episodes <= MOST, "train.eval_episodes", episodes, f"in [0, {MOST:.0e}]")
    _int_at_least("train.reference_N", cfg.train.reference_N, 0)
    _int_at_least("train.reference_every", cfg.train.reference_every, 1)
    _int_at_least("train.checkpoint_every", cfg.train.checkpoint_every, 0)
    if cfg.train.reference_N == 1:
        raise ConfigError("train.reference_N", "must be 0 (off) or >= 2 (got 1)")
    if isinstance(cfg.logger, WandbLoggerConfig):
        _positive_finite("logger.init_timeout_s", cfg.logger.init_timeout_s)
    if cfg.hardware.threads is not None:
        most = 4 * (os.cpu_count() or 1)
        _require(
            1 <= cfg.hardware.threads <= most,
            "hardware.threads",
            cfg.hardware.threads,
            f"an integer in [1, {most}] (4 per core of this machine), or null (one per core)",
        )
    if cfg.train.overwrite and cfg.train.resume:
        raise ConfigError(
            "train.overwrite=true and train.resume=true",
            "contradict each other (replace the run, or continue it): give one of them",
        )


VALIDATORS: tuple[Callable[[Config], None], ...] = (
    validate_env,
    validate_policy,
    validate_estimator,
    validate_train,
)


def unknown_keys(node: Any, typed: Any, path: str = "") -> list[str]:
    """Dotted keys of the untyped config ``node`` (a mapping) that the typed config ``typed`` (a
    dataclass) has no field for, such as one added with Hydra's ``+key=value`` (which
    ``OmegaConf.to_object`` would drop without a word). Dict-valued fields take any key."""
    if not dataclasses.is_dataclass(typed) or not isinstance(node, Mapping):
        return []
    names = {f.name for f in dataclasses.fields(typed)}
    found = []
    for key, value in node.items():
        dotted = f"{path}{key}"
        if key not in names:
            found.append(dotted)
        else:
            found += unknown_keys(value, getattr(typed, str(key)), f"{dotted}.")
    return found


def check_known_keys(node: Any, cfg: Config) -> None:
    """:class:`ConfigError` for the first key of ``node`` that pgexp's schema does not have."""
    extra = unknown_keys(node, cfg)
    if extra:
        parent = extra[0].rpartition(".")[0]
        typed = cfg
        for part in parent.split(".") if parent else []:
            typed = getattr(typed, part)
        known = ", ".join(f.name for f in dataclasses.fields(typed))
        raise ConfigError(
            extra[0], f"is not a pgexp key (keys{' of ' + parent if parent else ''}: {known})"
        )


def validate(cfg: Config) -> None:
    """Raise :class:`ConfigError` on the first config value pgexp cannot run with."""
    for check in VALIDATORS:
        check(cfg)
