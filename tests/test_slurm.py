"""pgexp on a real SLURM cluster: `scripts/slurm-local.sh start` brings one up on this machine
(`.ci/run` does); without one these tests skip, saying why."""

from __future__ import annotations

import shutil
import subprocess
import time
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


def test_a_requeued_job_resumes_to_the_metrics_of_an_uninterrupted_run(tmp_path: Path) -> None:
    """`scontrol requeue`, as an administrator's pre-emption does: SLURM sends SIGTERM, the run
    checkpoints and stops; the requeued job (its two-minute hold lifted) continues it."""
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
    subprocess.run(["scontrol", "requeue", job_id], check=True)
    while not (sweep / "0" / "summary.json").exists():
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert read_summary(sweep / "0" / "summary.json").status is Status.interrupted
    time.sleep(1)
    subprocess.run(["scontrol", "update", f"JobId={job_id}", "StartTime=now"], check=True)
    err = proc.communicate(timeout=300)[1]
    assert proc.returncode == 0, err
    assert [r.iter for r in read_metrics(metrics)] == list(range(1, 61))
    assert outputs(sweep / "0") == outputs(uninterrupted(tmp_path, [*args, "seed=0"]))
