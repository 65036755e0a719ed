"""The ``pgexp`` command as users type it: help, errors, runs and multiruns (subprocesses)."""

from __future__ import annotations

import json
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import pytest

from pgexp.metrics import read_metrics
from tests.wandb_records import read_records, run_file

PGEXP = str(Path(sys.executable).with_name("pgexp"))


def pgexp(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PGEXP, *args], cwd=cwd, capture_output=True, text=True, timeout=600, check=False
    )


def test_help_works_from_any_directory(tmp_path: Path) -> None:
    out = pgexp(tmp_path, "--help")
    assert out.returncode == 0, out.stderr
    assert "env: acrobot, bandit, cartpole, chain, cliffwalking, frozenlake4x4" in out.stdout
    assert "estimator: exact, minibatch" in out.stdout
    assert "policy: gaussian, linear_softmax, mlp, tabular_softmax" in out.stdout


def test_the_readme_run_writes_a_complete_run_directory(tmp_path: Path) -> None:
    out = pgexp(
        tmp_path, "env=frozenlake4x4", "estimator=exact", "train.lr=1.0", "train.iters=100",
        "logger=none", f"hydra.run.dir={tmp_path / 'run'}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    run = tmp_path / "run"
    assert (run / ".hydra" / "config.yaml").is_file()
    J = [r["J"] for r in read_metrics(run / "metrics.jsonl")]
    assert len(J) == 100 and all(b > a for a, b in pairwise(J))
    assert json.loads((run / "summary.json").read_text())["status"] == "ok"


BAD_INPUT = [
    (["estimator=minibatch", "estimator.N=0"], "estimator.N must be an integer >= 1 (got 0)"),
    (["train.lr=0"], "train.lr must be a finite number > 0 (got 0.0)"),
    (["env.horizon=-3"], "env.horizon must be an integer >= 1 (got -3)"),
    (["env=bandit", "env.rewards=[]"], "env.rewards must be a non-empty list (got [])"),
    (["env=atari"], "Could not find 'env/atari'"),
    (["env=taxi", "env.id=CartPole-v1"], "env.id must name a finite MDP with a transition table"),
    (["env.id=Nope-v0"], "env.id must be a registered gymnasium id"),
    (["estimator.method=enumerate"], "estimator.method=enumerate would sum over"),
    (["estimator.method=guess"], "Invalid value 'guess', expected one of [dp, enumerate]"),
]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(*BAD_INPUT[0], id="N=0"),
        *(pytest.param(*b, marks=pytest.mark.slow) for b in BAD_INPUT[1:]),
    ],
)
def test_bad_input_is_one_clear_line_and_a_nonzero_exit(
    tmp_path: Path, args: list[str], message: str
) -> None:
    out = pgexp(tmp_path, *args, "logger=none", f"hydra.run.dir={tmp_path / 'run'}")
    assert out.returncode != 0
    assert message in out.stderr
    assert "Traceback" not in out.stderr
    assert not (tmp_path / "run" / "metrics.jsonl").exists()


def assert_sweep(sweep: Path, jobs: int, history: int) -> None:
    """Each job directory holds the contract files and an offline W&B run; one group for all."""
    groups = set()
    for job in range(jobs):
        run_dir = sweep / str(job)
        assert (run_dir / ".hydra" / "config.yaml").is_file()
        assert len(read_metrics(run_dir / "metrics.jsonl")) == history
        assert json.loads((run_dir / "summary.json").read_text())["status"] == "ok"
        records = list(read_records(run_file(run_dir)))
        groups |= {r.run.run_group for r in records if r.HasField("run")}
        assert sum(r.HasField("history") for r in records) == history
    assert not (sweep / str(jobs)).exists()
    assert len(groups) == 1 and groups != {""}


@pytest.mark.slow
def test_multirun_over_n_and_lr_with_the_basic_launcher(tmp_path: Path) -> None:
    out = pgexp(
        tmp_path, "-m", "estimator=minibatch", "estimator.N=1,10", "train.lr=0.1,1.0", "seed=0",
        "train.iters=5", "train.eval_episodes=10", f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert_sweep(tmp_path / "sweep", jobs=4, history=5)


@pytest.mark.slow
def test_multirun_with_the_joblib_launcher(tmp_path: Path) -> None:
    out = pgexp(
        tmp_path, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", "estimator=minibatch",
        "estimator.N=10", "seed=0,1,2", "train.iters=4", "train.eval_episodes=10",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert_sweep(tmp_path / "sweep", jobs=3, history=4)
