"""One pgexp run from a typed config: build the pieces, train, write the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm

from pgexp.compiled import compile_env, compile_policy
from pgexp.config import (
    Baseline,
    Config,
    ExactMethod,
    MinibatchEstimatorConfig,
    Returns,
)
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
from pgexp.metrics import MetricsWriter, write_summary
from pgexp.optim import make_ascent
from pgexp.policies import Policy, TablePolicy, make_policy
from pgexp.provenance import provenance
from pgexp.records import Status, Summary, to_json
from pgexp.rollout import TrajectorySampler, make_sampler
from pgexp.seeding import RngStreams
from pgexp.tracking import make_tracker
from pgexp.training import TrainState, train
from pgexp.validation import validate

EVAL_CHUNK = 100
"""Evaluation episodes sampled per batch (the progress display advances per batch)."""


def eval_episodes(cfg: Config) -> int:
    """``train.eval_episodes``, with null resolved: ``estimator.N`` or 100 (exact)."""
    if cfg.train.eval_episodes is not None:
        return cfg.train.eval_episodes
    return cfg.estimator.N if isinstance(cfg.estimator, MinibatchEstimatorConfig) else 100


def evaluate(
    sampler: TrajectorySampler,
    policy: Policy,
    episodes: int,
    generator: torch.Generator,
    progress: bool,
) -> float:
    """Mean return of ``episodes`` fresh trajectories, sampled ``EVAL_CHUNK`` at a time."""
    total = 0.0
    with tqdm(total=episodes, desc="eval", unit="ep", disable=not progress, leave=False) as bar:
        for start in range(0, episodes, EVAL_CHUNK):
            n = min(EVAL_CHUNK, episodes - start)
            total += float(sampler.sample(policy, n, generator).returns(sampler.discount).sum())
            bar.update(n)
    return total / episodes


def final_values(
    env: FiniteMDP | ObservationEnv,
    policy: Policy,
    episodes: int,
    generator: torch.Generator,
    progress: bool,
) -> tuple[float | None, float | None]:
    """J(θ^K) (finite MDPs only) and the mean return of ``episodes`` fresh trajectories at θ^K
    (None for 0 episodes)."""
    J = None
    if isinstance(env, FiniteMDP) and isinstance(policy, TablePolicy):
        with torch.no_grad():
            J = float(dp_objective(env, policy))
    if episodes == 0:
        return J, None
    return J, evaluate(make_sampler(env), policy, episodes, generator, progress)


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
        is_dp = isinstance(estimator, ExactGradient) and estimator.method is ExactMethod.dp
        return (estimator if is_dp else ExactGradient(env)), 1, "exact"
    if train_cfg.reference_N > 0:
        sampler = make_sampler(env)
        n = train_cfg.reference_N
        reference = MinibatchGradient(
            sampler, n, generator, Returns.reward_to_go, Baseline.leave_one_out
        )
        return reference, train_cfg.reference_every, f"estimate (N={n})"
    return None, 1, None


def run(
    cfg: Config,
    run_dir: Path,
    *,
    name: str = "pgexp",
    group: str | None = None,
    overrides: list[str] | None = None,
    resolved: dict[str, Any] | None = None,
) -> Summary:
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
    ascent = make_ascent(cfg.train.optimizer, cfg.train.lr)

    run_dir.mkdir(parents=True, exist_ok=True)
    tracker = make_tracker(cfg.logger, run_dir, name, group, resolved or {})
    state = TrainState()
    try:
        with MetricsWriter(run_dir / "metrics.jsonl") as writer:
            state = train(
                policy, estimator, ascent, cfg.train.iters, writer, tracker,
                reference=reference, reference_every=every, state=state,
                progress=cfg.train.progress,
            )  # fmt: skip
    except KeyboardInterrupt:
        state.status = Status.interrupted
    finally:
        if state.status is None:  # an exception is on its way up
            state.status = Status.failed
        episodes = eval_episodes(cfg) if state.status is Status.ok else 0
        J_final, return_final = final_values(env, policy, episodes, rng.eval, cfg.train.progress)
        summary = Summary(
            J_final=J_final,
            return_final=return_final,
            eval_episodes=episodes,
            iters=state.iters,
            env_steps=state.env_steps,
            trajectories=state.trajectories,
            time_s=state.time_s,
            status=state.status,
            grad_reference=reference_kind,
            seed=cfg.seed,
            **provenance(device_description(device), overrides or []),
        )
        write_summary(run_dir / "summary.json", summary)
        tracker.summary(to_json(summary))
        tracker.finish(exit_code=0 if state.status is Status.ok else 1)
        if isinstance(env, GymVectorEnv):
            env.close()
    return summary
