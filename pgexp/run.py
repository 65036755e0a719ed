"""One pgexp run from a typed config: build the pieces, train, write the run directory."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from pgexp.config import Config
from pgexp.envs import make_env
from pgexp.envs.finite_mdp import FiniteMDP
from pgexp.estimators import ExactGradient, dp_objective, make_estimator
from pgexp.hardware import apply_hardware, device_description
from pgexp.metrics import MetricsWriter, write_json_atomic
from pgexp.policies import TablePolicy, make_policy
from pgexp.provenance import provenance
from pgexp.rollout import Sampler
from pgexp.seeding import RngStreams
from pgexp.tracking import make_tracker
from pgexp.training import TrainState, train
from pgexp.validation import validate


def final_values(
    mdp: FiniteMDP, policy: TablePolicy, episodes: int, generator: torch.Generator
) -> dict[str, float | None]:
    """J(θ^K) and the mean return of ``episodes`` fresh trajectories at θ^K."""
    with torch.no_grad():
        J = float(dp_objective(mdp, policy))
    ret = None
    if episodes > 0:
        batch = Sampler(mdp).sample(policy, episodes, generator)
        ret = float(batch.returns(mdp.discount).mean())
    return {"J_final": J, "return_final": ret}


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
    mdp = make_env(cfg.env).to(device)
    policy = make_policy(cfg.policy, mdp, rng.init).to(device=device, dtype=dtype)
    estimator = make_estimator(cfg.estimator, mdp, rng.sample)
    reference = None
    if cfg.train.exact_metrics:
        is_dp = isinstance(estimator, ExactGradient) and estimator.method == "dp"
        reference = estimator if is_dp else ExactGradient(mdp, "dp")
    optimizer = torch.optim.SGD(policy.parameters(), lr=cfg.train.lr, maximize=True)

    run_dir.mkdir(parents=True, exist_ok=True)
    tracker = make_tracker(cfg.logger, run_dir, name, group, resolved or {})
    state = TrainState()
    summary: dict[str, Any] = {}
    try:
        with MetricsWriter(run_dir / "metrics.jsonl") as writer:
            state = train(
                policy, estimator, optimizer, cfg.train.iters, writer, tracker,
                reference=reference, state=state, progress=cfg.train.progress,
            )  # fmt: skip
    except KeyboardInterrupt:
        state.status = "interrupted"
    finally:
        if state.status == "running":  # an exception is on its way up
            state.status = "failed"
        episodes = cfg.train.eval_episodes if state.status in ("ok", "interrupted") else 0
        summary = {
            **final_values(mdp, policy, episodes, rng.eval),
            "iters": state.iters,
            "env_steps": state.env_steps,
            "trajectories": state.trajectories,
            "time_s": state.time_s,
            "status": state.status,
            "seed": cfg.seed,
            **provenance(device_description(device), overrides or []),
        }
        write_json_atomic(run_dir / "summary.json", summary)
        tracker.summary(summary)
        tracker.finish(exit_code=0 if state.status == "ok" else 1)
    return summary
