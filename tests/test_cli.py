"""The ``pgexp`` command as users type it: help, errors, runs and multiruns (subprocesses)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from itertools import pairwise
from pathlib import Path

import pytest
import torch

from pgexp.metrics import read_metrics, read_summary
from pgexp.records import Status
from pgexp.wandb_offline import RunFileContents

PGEXP = str(Path(sys.executable).with_name("pgexp"))


def pgexp(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PGEXP, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.slow
def test_help_works_from_any_directory(tmp_path: Path) -> None:
    out = pgexp(tmp_path, "--help")
    assert out.returncode == 0, out.stderr
    assert "env: acrobot, bandit, cartpole, chain, cliffwalking, file, frozenlake4x4" in out.stdout
    assert "estimator: exact, minibatch" in out.stdout
    assert "policy: gaussian, linear_softmax, mlp, tabular_softmax" in out.stdout


@pytest.mark.slow
def test_the_readme_run_writes_a_complete_run_directory(tmp_path: Path) -> None:
    out = pgexp(
        tmp_path, "env=frozenlake4x4", "estimator=exact", "train.lr=1.0", "train.iters=100",
        "logger=none", f"hydra.run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    run = tmp_path / "run"
    assert (run / ".hydra" / "config.yaml").is_file()
    J = [r.J for r in read_metrics(run / "metrics.jsonl")]
    assert len(J) == 100 and all(b > a for a, b in pairwise(J))  # type: ignore[operator]
    assert read_summary(run / "summary.json").status is Status.ok
    assert "pgexp: ok, 100 iterations in" in out.stderr and f"-> {run}" in out.stderr


BAD_INPUT = [
    (["estimator=minibatch", "estimator.N=0"], "estimator.N must be an integer >= 1 (got 0)"),
    (["train.lr=0"], "train.lr must be a finite number > 0 (got 0.0)"),
    (["env.horizon=-3"], "env.horizon must be an integer >= 1 (got -3)"),
    (["env=bandit", "env.rewards=[]"], "env.rewards must be a non-empty list (got [])"),
    (["env=taxi", "env.id=CartPole-v1"], "env.id must name a finite MDP with a transition table"),
    (["env.id=Nope-v0"], "env.id must be a registered gymnasium id"),
    (["env.kwargs.map_name=9x9"], "env.kwargs do not fit FrozenLake-v1"),
    (["estimator.method=enumerate"], "estimator.method=enumerate would sum over"),
    (["hardware=gpu"], "hardware.device is cuda but no CUDA GPU is visible"),
    (["seed=-1"], "seed must be an integer in [0, 2^64) (got -1)"),
    (
        ["estimator=minibatch", "estimator.N=1000000000000"],
        "estimator.N=1000000000000 with env.horizon=100 needs about",
    ),
    (["env.horizon=1000000000"], "env.horizon=1000000000 (steps of the exact recursion) needs"),
    (
        ["env=gym", "env.horizon=1000000000", "policy=mlp", "estimator=minibatch"],
        "estimator.N=100 with env.horizon=1000000000 needs about",
    ),
]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(*BAD_INPUT[0], id="N=0"),
        *(pytest.param(*b, marks=pytest.mark.slow) for b in BAD_INPUT[1:]),
    ],
)
def test_a_bad_value_is_one_line_a_nonzero_exit_and_no_run_directory(
    tmp_path: Path, args: list[str], message: str
) -> None:
    if "hardware=gpu" in args and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    run = tmp_path / "outputs" / "day" / "time"
    out = pgexp(tmp_path, *args, "logger=none", f"hydra.run.dir={run}")
    lines = out.stderr.strip().splitlines()
    assert out.returncode == 1
    assert len(lines) == 1 and lines[0].startswith(f"pgexp: error: {message}"), out.stderr
    assert not (tmp_path / "outputs" / "day").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["env=atari"], "Could not find 'env/atari'"),
        (["estimator.method=guess"], "Invalid value 'guess', expected one of [dp, enumerate]"),
        (["policy=mlp", "policy.init_scale=99"], "Key 'init_scale' not in 'MLPPolicyConfig'"),
        (["+train.foo=1"], "pgexp: error: train.foo is not a pgexp key (keys of train: iters,"),
    ],
)
def test_hydra_rejects_unknown_options_and_keys_before_any_output(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = pgexp(tmp_path, *args, "logger=none", f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode == 1 and message in out.stderr and "Traceback" not in out.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "batched"])
def test_a_bad_value_in_a_sweep_names_the_job_and_the_other_jobs_run(
    tmp_path: Path, launcher: str
) -> None:
    sweep = tmp_path / "sweep"
    out = pgexp(
        tmp_path, "-m", f"hydra/launcher={launcher}", "env=bandit", "estimator=minibatch",
        "estimator.N=0,4", "train.iters=2", "logger=none", "train.progress=false",
        f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert out.returncode == 1
    job = "['env=bandit', 'estimator=minibatch', 'estimator.N=0'"
    assert f"Error executing job with overrides: {job}" in out.stderr
    assert "pgexp: error: estimator.N must be an integer >= 1 (got 0)" in out.stderr
    assert not (sweep / "0").exists()  # nothing is left of the bad job
    assert read_summary(sweep / "1" / "summary.json").status is Status.ok


@pytest.mark.slow
def test_multirun_over_n_and_lr_with_the_basic_launcher(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = pgexp(
        tmp_path, "-m", "estimator=minibatch", "estimator.N=1,10", "train.lr=0.1,1.0", "seed=0",
        "train.iters=5", "logger=none", "train.progress=false", f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for job in range(4):
        assert len(read_metrics(sweep / str(job) / "metrics.jsonl")) == 5
        assert read_summary(sweep / str(job) / "summary.json").status is Status.ok
    assert not (sweep / "4").exists()


@pytest.mark.slow
@pytest.mark.parametrize(
    "launcher", [["hydra/launcher=joblib", "hydra.launcher.n_jobs=2"], ["hydra/launcher=batched"]]
)
def test_a_multirun_writes_one_offline_wandb_run_per_job_in_one_group(
    tmp_path: Path, launcher: list[str]
) -> None:
    """The test of the real W&B (offline): three joblib workers, or three runs open at once in
    one process (batched). pgexp's local files must be complete; wandb-core's own file may lag,
    which pgexp detects and reports (then: skip)."""
    sweep = tmp_path / "sweep"
    out = pgexp(
        tmp_path, "-m", *launcher, "estimator=minibatch", "estimator.N=10", "seed=0,1,2",
        "train.iters=4", "train.progress=false", f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    groups = set()
    for job in range(3):
        run_dir = sweep / str(job)
        assert len(read_metrics(run_dir / "metrics.jsonl")) == 4
        assert read_summary(run_dir / "summary.json").status is Status.ok
        (run_file,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
        held = RunFileContents.of(run_file)
        if "holds" in out.stderr and held.history < 4:
            pytest.skip(f"wandb-core left an incomplete run file, as pgexp warned: {out.stderr}")
        assert held.has_run and held.history == 4 and held.summaries >= 1
        groups.add(held.group)
    assert len(groups) == 1 and groups != {""}


@pytest.mark.slow
@pytest.mark.parametrize("api_key", [None, "f" * 40], ids=["no-api-key", "no-network"])
def test_online_wandb_without_a_key_or_network_falls_back_offline(
    tmp_path: Path, api_key: str | None
) -> None:
    """The real wandb, online, here (no network): one warning within the bounded wait, then an
    offline W&B run with every record, complete local files, exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("WANDB_")}
    env["HOME"] = str(tmp_path)  # no ~/.netrc credentials
    if api_key:
        env["WANDB_API_KEY"] = api_key
    run_dir = tmp_path / "run"
    start = time.monotonic()
    out = subprocess.run(
        [PGEXP, "estimator=minibatch", "estimator.N=10", "train.iters=4", "train.progress=false",
         "logger.mode=online", "logger.init_timeout_s=5", f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert time.monotonic() - start < 60  # wandb's own default would wait 90 s and more
    warnings = [line for line in out.stderr.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "logging to an offline W&B run" in warnings[0], out.stderr
    assert len(read_metrics(run_dir / "metrics.jsonl")) == 4
    assert read_summary(run_dir / "summary.json").status is Status.ok
    (run_file,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    held = RunFileContents.of(run_file)
    if "holds" not in out.stderr:
        assert held.has_run and held.history == 4
