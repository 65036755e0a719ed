"""Whole runs in-process: the algorithms improve J, files follow the metrics contract."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import pairwise
from pathlib import Path

import pytest
import torch

from pgexp.envs import make_toy_text
from pgexp.errors import ConfigError
from pgexp.estimators import dp_objective, optimal_objective
from pgexp.metrics import read_metrics, read_summary
from pgexp.policies import TabularSoftmax
from pgexp.records import METRIC_KEYS, IterationRecord, Status, Summary
from pgexp.run import run
from tests.helpers import compose, quiet


def run_overrides(tmp_path: Path, overrides: list[str]) -> tuple[list[IterationRecord], Summary]:
    summary = run(compose(quiet(overrides)), tmp_path)
    return read_metrics(tmp_path / "metrics.jsonl"), summary


def test_exact_ascent_raises_J_monotonically_from_the_uniform_policy(tmp_path: Path) -> None:
    records, summary = run_overrides(
        tmp_path, ["env=frozenlake4x4", "train.lr=1.0", "train.iters=30"]
    )
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=100)
    uniform = dp_objective(mdp, TabularSoftmax(17, 4, 16)).item()
    J = [r.J for r in records] + [summary.J_final]
    assert J[0] == pytest.approx(uniform, rel=1e-12)
    assert all(b > a for a, b in pairwise(J))
    assert [r.iter for r in records] == list(range(1, 31))
    assert all(r.grad_rel_err == 0 and r.return_mean is None for r in records)
    assert summary.status is Status.ok and summary.iters == 30
    assert summary.J_star == optimal_objective(mdp)
    assert all(r.gap == summary.J_star - r.J and r.gap > 0 for r in records)


def test_minibatch_ascent_rises_and_logs_gradient_error(tmp_path: Path) -> None:
    records, summary = run_overrides(
        tmp_path, ["estimator=minibatch", "estimator.N=100", "train.lr=30", "train.iters=20"]
    )
    assert summary.J_final > records[0].J * 1.2
    lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
    assert all(list(json.loads(line)) == list(METRIC_KEYS) for line in lines)
    assert all(r.grad_rel_err > 0 and -1 <= r.grad_cos <= 1 for r in records)
    assert [r.trajectories for r in records] == [100 * k for k in range(1, 21)]
    steps = [r.env_steps for r in records]
    assert all(0 < b - a <= 100 * 100 for a, b in pairwise([0, *steps]))
    assert summary.env_steps == steps[-1] and summary.time_s == records[-1].time_s
    assert all(r.gap == summary.J_star - r.J for r in records)  # exact J beside the estimate


def test_a_run_repeats_bit_for_bit_and_seeds_differ(tmp_path: Path) -> None:
    def metrics(seed: int, where: str) -> list[IterationRecord]:
        overrides = ["estimator=minibatch", "estimator.N=20", "train.iters=6", f"seed={seed}"]
        records, _ = run_overrides(tmp_path / where, overrides)
        return [replace(r, time_s=0.0) for r in records]

    first, again, other = metrics(0, "a"), metrics(0, "b"), metrics(1, "c")
    assert first == again
    assert first != other


def test_summary_has_provenance(tmp_path: Path) -> None:
    _, summary = run_overrides(tmp_path, ["env=bandit", "train.iters=3"])
    assert read_summary(tmp_path / "summary.json") == summary
    assert summary.versions["torch"] == torch.__version__
    assert summary.device == "cpu" and "pgexp" in summary.command


def test_divergence_is_recorded_not_raised(tmp_path: Path) -> None:
    records, summary = run_overrides(
        tmp_path, ["env=bandit", "env.rewards=[1e10,0]", "train.lr=1e300", "train.iters=50"]
    )
    assert summary.status is Status.diverged
    assert len(records) < 50 and summary.iters == len(records)


def test_bad_input_writes_nothing(tmp_path: Path) -> None:
    cfg = compose(quiet(["estimator=exact", "estimator.method=enumerate"]))
    with pytest.raises(
        ConfigError, match=r"estimator.method=enumerate would sum over .* trajectories"
    ):
        run(cfg, tmp_path / "run")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is present")
def test_cuda_without_a_gpu_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"hardware\.device is cuda but no CUDA GPU"):
        run(compose(quiet(["hardware=gpu"])), tmp_path)


def test_auto_device_picks_what_exists(tmp_path: Path) -> None:
    _, summary = run_overrides(tmp_path, ["hardware=auto", "env=bandit", "train.iters=2"])
    assert summary.device.startswith("cuda" if torch.cuda.is_available() else "cpu")


def test_evaluation_defaults_to_one_batch_and_is_off_for_unfinished_runs(tmp_path: Path) -> None:
    base = ["logger=none", "train.progress=false", "env=bandit", "train.iters=2"]
    minibatch = run(compose([*base, "estimator=minibatch", "estimator.N=8"]), tmp_path / "a")
    exact = run(compose(base), tmp_path / "b")
    assert (minibatch.eval_episodes, exact.eval_episodes) == (8, 100)
    diverged = run(
        compose([*base, "env.rewards=[1e10,0]", "train.lr=1e300", "train.iters=50"]), tmp_path / "c"
    )
    assert diverged.status is Status.diverged
    assert (diverged.eval_episodes, diverged.return_final) == (0, None)
