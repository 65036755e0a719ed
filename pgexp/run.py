"""One pgexp run from a typed config: build the pieces, train, write the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pgexp.compiled import compile_env, compile_policy
from pgexp.config import Config, TrainConfig, choice
from pgexp.envs import FiniteMDP, GymVectorEnv, ObservationEnv, make_env
from pgexp.errors import ConfigError
from pgexp.estimators import (
    ExactGradient,
    GradientEstimator,
    MinibatchGradient,
    dp_objective,
    make_estimator,
)
from pgexp.hardware import apply_hardware, device_description
from pgexp.metrics import MetricsWriter, write_json_atomic
from pgexp.policies import Policy, TablePolicy, make_policy
from pgexp.provenance import provenance
from pgexp.rollout import make_sampler
from pgexp.seeding import RngStreams
from pgexp.tracking import make_tracker
from pgexp.training import TrainState, train
from pgexp.validation import validate


def final_values(
    env: FiniteMDP | ObservationEnv, policy: Policy, episodes: int, generator: torch.Generator
) -> dict[str, float | None]:
    """J(θ^K) (finite MDPs only) and the mean return of ``episodes`` fresh trajectories at θ^K."""
    J = None
    if isinstance(env, FiniteMDP) and isinstance(policy, TablePolicy):
        with torch.no_grad():
            J = float(dp_objective(env, policy))
    ret = None
    if episodes > 0:
        batch = make_sampler(env).sample(policy, episodes, generator)
        ret = float(batch.returns(env.discount).mean())
    return {"J_final": J, "return_final": ret}


def make_reference(
    cfg: Config,
    env: FiniteMDP | ObservationEnv,
    estimator: GradientEstimator,
    generator: torch.Generator,
) -> tuple[GradientEstimator | None, int, str | None]:
    """The reference gradient of ``grad_cos``/``grad_rel_err``, every how many iterations it is
    computed, and what it is (``exact``, ``estimate (N=...)`` or None).

    On a finite MDP with ``train.exact_metrics`` it is the exact dp gradient at every iteration
    (the estimator itself when that is exact dp); elsewhere, with ``train.reference_N > 0``, an
    unbiased mini-batch estimate (reward-to-go returns, leave-one-out baseline) from its own
    random stream, every ``train.reference_every`` iterations.
    """
    train_cfg = cfg.train
    if train_cfg.exact_metrics and isinstance(env, FiniteMDP):
        if train_cfg.reference_N > 0:
            raise ConfigError(
                "train.reference_N",
                f"is for envs without an exact gradient; env={cfg.env.name} has one "
                "(train.exact_metrics=true): set train.exact_metrics=false to use an estimate",
            )
        is_dp = isinstance(estimator, ExactGradient) and estimator.method == "dp"
        return (estimator if is_dp else ExactGradient(env, "dp")), 1, "exact"
    if train_cfg.reference_N > 0:
        sampler = make_sampler(env)
        n = train_cfg.reference_N
        reference = MinibatchGradient(sampler, n, generator, "reward_to_go", "leave_one_out")
        return reference, train_cfg.reference_every, f"estimate (N={n})"
    return None, 1, None


def make_optimizer(cfg: TrainConfig, policy: Policy) -> torch.optim.Optimizer:
    """Gradient *ascent*: SGD gives θ + lr·g exactly; Adam is the option for neural policies."""
    if choice(cfg.optimizer) == "adam":
        return torch.optim.Adam(policy.parameters(), lr=cfg.lr, maximize=True)
    return torch.optim.SGD(policy.parameters(), lr=cfg.lr, maximize=True)


def run(
    cfg: Config,
    run_dir: Path,
    *,
    name: str = "pgexp",
    group: str | None = None,
    overrides: list[str] | None = None,
    resolved: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train as ``cfg`` says and write ``metrics.jsonl`` and ``summary.json`` into ``run_dir``.

    Returns the summary. Bad config values raise :class:`pgexp.errors.ConfigError` before
    anything is written.
    """
    validate(cfg)
    device, dtype = apply_hardware(cfg.hardware)
    rng = RngStreams.from_seed(cfg.seed, device)
    env = make_env(cfg.env)
    if isinstance(env, FiniteMDP):
        env = env.to(device)
    if cfg.hardware.compile:
        env = compile_env(env)
    estimator = make_estimator(cfg.estimator, env, rng.sample)
    policy = make_policy(cfg.policy, env, rng.init).to(device=device, dtype=dtype)
    if cfg.hardware.compile:
        compile_policy(policy)
    reference, every, reference_kind = make_reference(cfg, env, estimator, rng.reference)
    optimizer = make_optimizer(cfg.train, policy)

    run_dir.mkdir(parents=True, exist_ok=True)
    tracker = make_tracker(cfg.logger, run_dir, name, group, resolved or {})
    state = TrainState()
    summary: dict[str, Any] = {}
    try:
        with MetricsWriter(run_dir / "metrics.jsonl") as writer:
            state = train(
                policy, estimator, optimizer, cfg.train.iters, writer, tracker,
                reference=reference, reference_every=every, state=state,
                progress=cfg.train.progress,
            )  # fmt: skip
    except KeyboardInterrupt:
        state.status = "interrupted"
    finally:
        if state.status == "running":  # an exception is on its way up
            state.status = "failed"
        episodes = cfg.train.eval_episodes if state.status in ("ok", "interrupted") else 0
        summary = {
            **final_values(env, policy, episodes, rng.eval),
            "iters": state.iters,
            "env_steps": state.env_steps,
            "trajectories": state.trajectories,
            "time_s": state.time_s,
            "status": state.status,
            "grad_reference": reference_kind,
            "seed": cfg.seed,
            **provenance(device_description(device), overrides or []),
        }
        write_json_atomic(run_dir / "summary.json", summary)
        tracker.summary(summary)
        tracker.finish(exit_code=0 if state.status == "ok" else 1)
        if isinstance(env, GymVectorEnv):
            env.close()
    return summary
