"""Gradient estimators: exact (dp, enumerate) and mini-batch."""

from __future__ import annotations

from pgexp.config import (
    Baseline,
    EstimatorConfig,
    ExactEstimatorConfig,
    ExactMethod,
    MinibatchEstimatorConfig,
)
from pgexp.envs import Env
from pgexp.errors import ConfigError
from pgexp.estimators.base import GradientEstimate, GradientEstimator, flat_grad
from pgexp.estimators.exact import (
    ExactGradient,
    TrajectoryLimitError,
    count_trajectories,
    dp_objective,
    enumerate_objective,
    optimal_objective,
)
from pgexp.estimators.minibatch import MinibatchGradient, weights
from pgexp.estimators.natural import CG
from pgexp.rollout import make_sampler

__all__ = [
    "ExactGradient",
    "GradientEstimate",
    "GradientEstimator",
    "MinibatchGradient",
    "TrajectoryLimitError",
    "cg_of",
    "count_trajectories",
    "dp_objective",
    "enumerate_objective",
    "flat_grad",
    "make_estimator",
    "optimal_objective",
    "weights",
]


def cg_of(cfg: EstimatorConfig) -> CG:
    """How the estimator ``cfg`` solves a natural gradient by conjugate gradients."""
    return CG(cfg.cg_iters, cfg.damping)


def env_name(env: Env) -> str:
    """What messages call ``env``: an observation env's name, else the env itself."""
    obs = env.observation_env
    return obs.name if obs else str(env)


def make_estimator(cfg: EstimatorConfig, env: Env) -> ExactGradient | MinibatchGradient:
    """The estimator an ``estimator`` config asks for."""
    if isinstance(cfg, ExactEstimatorConfig):
        mdp = env.finite_mdp
        if mdp is None:
            raise ConfigError(
                "estimator=exact",
                f"needs a finite MDP with a transition table; env={env_name(env)} has none: use "
                "estimator=minibatch",
            )
        if cfg.method is ExactMethod.enumerate:
            n = count_trajectories(mdp)
            if n > cfg.max_trajectories:
                raise ConfigError(
                    "estimator.method=enumerate",
                    f"would sum over {n:.3g} trajectories (horizon {mdp.horizon}), more than "
                    f"estimator.max_trajectories={cfg.max_trajectories}: use estimator.method=dp, "
                    "a shorter env.horizon or a larger estimator.max_trajectories",
                )
        return ExactGradient(mdp, cfg.method, cfg.max_trajectories, cfg.natural, cg_of(cfg))
    if isinstance(cfg, MinibatchEstimatorConfig):
        if cfg.baseline is Baseline.value and env.finite_mdp is None:
            raise ConfigError(
                "estimator.baseline=value",
                f"needs a finite MDP to compute V^π exactly; env={env_name(env)} has none: use "
                "leave_one_out",
            )
        sampler = make_sampler(env)
        return MinibatchGradient(sampler, cfg.N, cfg.returns, cfg.baseline, cfg.chunk,
                                 cfg.natural, env.finite_mdp, cg_of(cfg))  # fmt: skip
    raise ConfigError("estimator", f"has an unknown schema {type(cfg).__name__}")
