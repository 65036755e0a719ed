"""Hydra's other engines with pgexp: submitit (local processes, SLURM preset) and Optuna."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from pgexp.hydra_jobs import objective
from pgexp.metrics import read_metrics, read_summary
from pgexp.records import Status, Summary
from pgexp.run import run
from tests.helpers import compose, compose_raw, quiet
from tests.test_batching import outputs
from tests.test_cli import PGEXP, pgexp
from tests.test_resume import records, uninterrupted


def test_the_slurm_preset_documents_submitits_keys() -> None:
    launcher = compose_raw(["hydra/launcher=slurm"], with_hydra=True).hydra.launcher
    assert (
        launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    )
    assert (launcher.partition, launcher.timeout_min, launcher.cpus_per_task) == (None, 60, 1)
    assert (launcher.gpus_per_node, launcher.mem_gb, launcher.array_parallelism) == (0, 4, 256)
    assert (launcher.signal_delay_s, launcher.max_num_timeout) == (120, 3)


def summary(J: float | None, ret: float | None) -> Summary:
    cfg = compose(quiet(["env=bandit", "train.iters=1"]))
    return Summary(J, ret, 0, 1, 0, 0, 0.0, Status.ok, None, cfg.seed, "cpu", "pgexp", "3", "2")


def test_the_objective_is_J_else_the_final_return_else_nan() -> None:
    assert objective(summary(0.5, 0.4)) == 0.5
    assert objective(summary(None, 120.0)) == 120.0  # continuous envs have no exact J
    assert objective(summary(None, None)) != objective(summary(None, None))  # NaN: failed trial


@pytest.mark.slow
def test_submitit_local_runs_every_job_with_its_files(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = pgexp(
        tmp_path, "-m", "hydra/launcher=submitit_local", "estimator=minibatch",
        "estimator.N=1,10", "train.iters=3", "logger=none", "train.progress=false",
        f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for job in ("0", "1"):
        assert len(read_metrics(sweep / job / "metrics.jsonl")) == 3
        assert read_summary(sweep / job / "summary.json").status is Status.ok
        assert (sweep / job / ".hydra" / "config.yaml").is_file()


def task_processes(sweep: Path) -> list[int]:
    """The pids of the task processes that submitit_local's controllers (one per job, each
    named by its pid under ``.submitit/``) are running now."""
    pids = []
    for folder in (sweep / ".submitit").glob("[0-9]*"):
        children = Path(f"/proc/{folder.name}/task/{folder.name}/children")
        with contextlib.suppress(OSError):
            pids += [int(pid) for pid in children.read_text().split()]
    return pids


@pytest.mark.slow
def test_a_job_past_its_time_limit_is_requeued_by_submitit_and_resumes(tmp_path: Path) -> None:
    """submitit's time-limit path: SIGUSR2 to the job's task (what submitit_local's timer
    sends 30 s before `timeout_min`, and SLURM before a time limit). The run checkpoints and
    stops, submitit counts a timeout and requeues the job, and the job continues the run to the
    metrics of an uninterrupted one. The signal is sent at iteration 100 of 500 rather than
    left to the timer, so the test holds whatever the machine's speed (the timer still fires
    after 30 s on a slow machine: a second requeue, and the same result)."""
    args = ["estimator=minibatch", "estimator.N=2000", "train.iters=500", "seed=0"]
    common = ["logger=none", "train.progress=false", "train.eval_episodes=50"]
    sweep, seen = tmp_path / "sweep", set()
    proc = subprocess.Popen(
        [PGEXP, "-m", "hydra/launcher=submitit_local", "hydra.launcher.timeout_min=1", *args,
         *common, f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    metrics, signalled = sweep / "0" / "metrics.jsonl", False
    deadline = time.monotonic() + 600
    while proc.poll() is None:
        assert time.monotonic() < deadline
        with contextlib.suppress(OSError, ValueError):  # not written yet, or being replaced
            seen.add(read_summary(sweep / "0" / "summary.json").status)
        if not signalled and records(metrics) >= 100 and Status.interrupted not in seen:
            for pid in task_processes(sweep):
                os.kill(pid, signal.SIGUSR2)
                signalled = True
        time.sleep(0.05)
    assert proc.returncode == 0, proc.communicate()[1]
    assert Status.interrupted in seen  # stopped by the signal inside training, then finished
    log = "".join(p.read_text() for p in sweep.glob(".submitit/*/*_log.out"))
    assert "Job has timed out" in log and "Requeued job" in log, log
    assert [r.iter for r in read_metrics(metrics)] == list(range(1, 501))
    assert outputs(sweep / "0") == outputs(uninterrupted(tmp_path, args))


@pytest.mark.slow
def test_optuna_finds_a_learning_rate_several_times_better_than_one(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = pgexp(tmp_path, "-m", "+experiment=lr_search", "logger=none", f"hydra.sweep.dir={sweep}")
    assert out.returncode == 0, out.stderr
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    n = best["best_params"]["estimator.N"]
    baseline = run(compose(quiet(["+experiment=lr_search", f"estimator.N={n}", "train.lr=1"])),
                   tmp_path / "lr1")  # fmt: skip
    assert baseline.J_final is not None
    assert best["best_value"] > 3 * baseline.J_final, (best, baseline.J_final)
    assert len(list(sweep.glob("[0-9]*/summary.json"))) == 12


@pytest.mark.slow
def test_the_optuna_sweeper_maximizes_without_being_told(tmp_path: Path) -> None:
    """Hydra's Optuna sweeper minimizes by default; for pgexp, whose jobs return J, it
    maximizes, and finds a rate far better than lr = 1."""
    sweep = tmp_path / "sweep"
    out = pgexp(
        tmp_path, "-m", "hydra/sweeper=optuna", "hydra.sweeper.n_trials=12", "env=frozenlake4x4",
        "estimator=exact", "train.iters=30", "logger=none", "train.progress=false",
        "train.lr=tag(log,interval(0.1,1000))", "hydra.sweeper.sampler.seed=0",
        f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    best = yaml.safe_load((sweep / "optimization_results.yaml").read_text())
    lr1 = run(compose(quiet(["env=frozenlake4x4", "estimator=exact", "train.iters=30",
                             "train.lr=1"])), tmp_path / "lr1")  # fmt: skip
    assert lr1.J_final is not None and best["best_value"] > 5 * lr1.J_final


@pytest.mark.slow
def test_a_diverged_trial_fails_and_the_search_goes_on(tmp_path: Path) -> None:
    """Every trial diverges: each is a failed trial, all three run, and the search ends with
    one line saying no trial completed (exit 1), not Optuna's traceback."""
    sweep = tmp_path / "sweep"
    out = pgexp(
        tmp_path, "-m", "+experiment=lr_search", "env=pendulum", "policy=gaussian",
        "train.lr=tag(log,interval(1000,1000000))", "hydra.sweeper.n_trials=3", "train.iters=5",
        "logger=none", f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert out.returncode == 1
    text = out.stdout + out.stderr
    assert text.count("Failed experiment: pgexp: the run diverged") == 3, text
    assert "pgexp: error: no trial completed" in out.stderr and "Traceback" not in text
    for job in ("0", "1", "2"):
        assert read_summary(sweep / job / "summary.json").status is Status.diverged
