"""pgexp on a real SLURM cluster: `scripts/slurm-local.sh start` brings one up on this machine
(`.ci/run` does); without one these tests skip, saying why."""

from __future__ import annotations

import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pgexp.metrics import read_metrics, read_summary
from pgexp.records import Status
from tests.test_batching import outputs
from tests.test_cli import PGEXP, pgexp
from tests.test_resume import records, uninterrupted


def cluster_state() -> str | None:
    """Why there is no usable SLURM here, or None when a node is up."""
    if shutil.which("sinfo") is None:
        return "no SLURM installed (scripts/slurm-local.sh start sets one up)"
    out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, check=False)
    if out.returncode != 0 or not any(s in out.stdout for s in ("idle", "mix", "alloc")):
        return f"no SLURM node up (sinfo: {out.stdout.strip() or out.stderr.strip()})"
    return None


pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(cluster_state() is not None, reason=str(cluster_state())),
]


def test_a_sweep_on_slurm_completes_every_job_with_its_files(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    out = pgexp(
        tmp_path, "-m", "hydra/launcher=slurm", "estimator=minibatch", "estimator.N=1,10",
        "train.lr=0.1,1", "train.iters=3", "logger=none", "train.progress=false",
        f"hydra.sweep.dir={sweep}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    for job in range(4):
        assert len(read_metrics(sweep / str(job) / "metrics.jsonl")) == 3
        assert read_summary(sweep / str(job) / "summary.json").status is Status.ok
    assert list(sweep.glob(".submitit/*/*_log.out"))  # it went through SLURM


@pytest.mark.parametrize(
    "stop",
    [["scontrol", "requeue"], ["scancel", "--signal=USR2"]],
    ids=["scontrol-requeue", "time-limit-signal"],
)
def test_a_requeued_job_resumes_to_the_metrics_of_an_uninterrupted_run(
    tmp_path: Path, stop: list[str]
) -> None:
    """`scontrol requeue`, as an administrator's pre-emption does: SLURM sends SIGTERM, the run
    checkpoints and stops. SIGUSR2 to the job's steps, as SLURM sends before the time limit that
    submitit asked for: the run checkpoints and stops, then submitit requeues the job. Either
    way the stopped job ends without a result, so the sweep keeps waiting while SLURM holds the
    requeued job, which (its two-minute hold lifted) continues the run; the sweep then ends with
    the run's final metrics."""
    args = ["estimator=minibatch", "estimator.N=300", "train.iters=60", "train.checkpoint_every=4"]
    common = ["logger=none", "train.progress=false", "train.eval_episodes=50", "seed=0"]
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen(
        [PGEXP, "-m", "hydra/launcher=slurm", *args, *common, f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    metrics = sweep / "0" / "metrics.jsonl"
    deadline = time.monotonic() + 300
    while records(metrics) < 8:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.1)
    (job_id,) = {p.name.split("_")[0] for p in sweep.glob(".submitit/*") if p.is_dir()}
    subprocess.run([*stop, job_id], check=True)
    while not (sweep / "0" / "summary.json").exists():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert read_summary(sweep / "0" / "summary.json").status is Status.interrupted
    start_requeued(job_id, deadline, check=lambda: proc.poll() is None)  # still waiting
    err = proc.communicate(timeout=300)[1]
    assert proc.returncode == 0, err
    assert read_summary(sweep / "0" / "summary.json").status is Status.ok
    assert [r.iter for r in read_metrics(metrics)] == list(range(1, 61))
    assert outputs(sweep / "0") == outputs(uninterrupted(tmp_path, [*args, "seed=0"]))


def start_requeued(job_id: str, deadline: float, check: Callable[[], bool] = lambda: True) -> None:
    """Wait for the job to be pending again (requeued by SLURM, or by submitit), assert
    ``check()`` then, and lift SLURM's two-minute hold. Not within the second of the requeue:
    slurmd refuses to launch a job whose credential was revoked in the same second ("Job
    credential revoked", seen here), and SLURM marks the job failed."""
    while "JobState=PENDING" not in job_state(job_id):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert check()
    time.sleep(2)
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)


def job_state(job_id: str) -> str:
    out = subprocess.run(["scontrol", "show", "job", job_id], capture_output=True, text=True)
    return out.stdout


def test_batched_groups_are_one_slurm_job_each_and_a_requeued_one_resumes(tmp_path: Path) -> None:
    """Four seeds in batches of two: two SLURM jobs. The first, sent SIGUSR2 mid-run, checkpoints
    both its runs and is requeued by submitit; every run ends as it would alone."""
    args = ["estimator=minibatch", "estimator.N=300", "train.iters=60", "train.checkpoint_every=4"]
    common = ["logger=none", "train.progress=false", "train.eval_episodes=50"]
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen(
        [PGEXP, "-m", "hydra/launcher=batched_slurm", "hydra.launcher.max_batch=2", *args,
         *common, "seed=0,1,2,3", f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while records(sweep / "0" / "metrics.jsonl") < 8:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.1)
    tasks = sorted(p.name for p in sweep.glob(".submitit/*_*") if p.is_dir())
    assert [t.split("_")[1] for t in tasks] == ["0", "1"]  # one array job, one task per batch
    subprocess.run(["scancel", "--signal=USR2", tasks[0]], check=True)
    start_requeued(tasks[0], deadline, check=lambda: [
        read_summary(sweep / run / "summary.json").status for run in ("0", "1")
    ] == [Status.interrupted] * 2)  # fmt: skip
    err = proc.communicate(timeout=300)[1]
    assert proc.returncode == 0, err
    for seed in range(4):
        reference = uninterrupted(tmp_path, args, seed)
        assert outputs(sweep / str(seed)) == outputs(reference)
