"""Interruption and resume: real processes, real signals; and the rules of a run directory."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest

from pgexp.checkpoint import CHECKPOINT
from pgexp.errors import ConfigError
from pgexp.interrupt import Interrupted, SignalGuard
from pgexp.job import Job
from pgexp.metrics import read_metrics, read_summary
from pgexp.records import Status
from pgexp.run import run_batch
from tests.helpers import compose, quiet
from tests.test_batching import outputs
from tests.test_cli import PGEXP

TABULAR = ["estimator=minibatch", "estimator.N=300", "train.iters=30", "train.checkpoint_every=4"]
MLP = ["env=cartpole", "env.horizon=200", "policy=mlp", "policy.hidden=[32]",
       "estimator=minibatch", "estimator.N=32", "train.optimizer=adam", "train.lr=0.01",
       "train.iters=25", "train.checkpoint_every=4", "hardware.dtype=float64"]  # fmt: skip
COMMON = ["logger=none", "train.progress=false", "train.eval_episodes=50"]


def start(cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([PGEXP, *args, *COMMON], cwd=cwd, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip


def records(path: Path) -> int:
    try:
        return sum(1 for _ in path.open())
    except OSError:
        return 0


def stop_after(proc: subprocess.Popen[str], metrics: list[Path], k: int, signum: int) -> str:
    """Send ``signum`` once every file in ``metrics`` has ``k`` records; the process's stderr."""
    deadline = time.monotonic() + 300
    while min(records(m) for m in metrics) < k:
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline
        time.sleep(0.02)
    proc.send_signal(signum)
    return proc.communicate(timeout=300)[1]


def uninterrupted(tmp_path: Path, args: list[str], seed: int = 0) -> Path:
    run_dir = tmp_path / f"reference-{seed}"
    run_batch([Job(compose([*args, *COMMON, f"seed={seed}"]), run_dir)])
    return run_dir


def test_a_held_time_limit_signal_is_passed_on_once_the_block_has_stopped() -> None:
    """SIGUSR2 inside the guard's critical part waits for it, stops the block, and then reaches
    the handler installed before the guard (submitit's, which requeues the job)."""
    calls: list[int] = []
    previous = signal.signal(signal.SIGUSR2, lambda signum, frame: calls.append(signum))
    try:
        with pytest.raises(Interrupted) as stopped, SignalGuard() as guard, guard.critical():
            os.kill(os.getpid(), signal.SIGUSR2)
            time.sleep(0.01)
            assert calls == []  # held, not passed on while the block runs
        assert stopped.value.signum == signal.SIGUSR2 and stopped.value.exit_code == 140
        assert calls == [signal.SIGUSR2]
        with pytest.raises(Interrupted), SignalGuard():
            os.kill(os.getpid(), signal.SIGINT)  # SIGINT is not passed on
            time.sleep(0.01)
        assert calls == [signal.SIGUSR2]
    finally:
        signal.signal(signal.SIGUSR2, previous)


def test_a_signal_waits_from_hold_to_release_and_release_alone_raises_nothing() -> None:
    """``hold`` (the update) to ``release`` (after the records) holds a signal like a critical
    block, also around one nested inside it; ``release`` without a hold is a no-op."""
    with SignalGuard() as guard:
        guard.release()
        guard.hold()
        guard.hold()
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.01)
        with guard.critical():
            pass  # the hold still holds when a nested block ends
        with pytest.raises(Interrupted) as stopped:
            guard.release()
        assert stopped.value.signum == signal.SIGINT
        guard.release()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("args", "signum"),
    [(TABULAR, signal.SIGTERM), (TABULAR, signal.SIGKILL), (MLP, signal.SIGINT)],
    ids=["tabular-SIGTERM", "tabular-SIGKILL", "mlp-SIGINT"],
)
def test_a_stopped_run_resumes_to_the_metrics_of_an_uninterrupted_one(
    tmp_path: Path, args: list[str], signum: int
) -> None:
    run_dir = tmp_path / "run"
    k = random.Random(f"{args}{signum}").randint(2, 12)
    err = stop_after(
        start(tmp_path, *args, f"hydra.run.dir={run_dir}"), [run_dir / "metrics.jsonl"], k, signum
    )
    if signum == signal.SIGKILL:  # no chance to clean up: the periodic checkpoint is what is left
        assert (run_dir / CHECKPOINT).is_file() and not (run_dir / "summary.json").exists()
    else:
        assert f"pgexp: interrupted by {signal.Signals(signum).name}" in err, err
        assert read_summary(run_dir / "summary.json").status is Status.interrupted
        assert read_summary(run_dir / "summary.json").iters == records(run_dir / "metrics.jsonl")
    again = subprocess.run([PGEXP, *args, *COMMON, f"hydra.run.dir={run_dir}"], cwd=tmp_path,
                           capture_output=True, text=True, timeout=300, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr
    assert [r.iter for r in read_metrics(run_dir / "metrics.jsonl")] == list(
        range(1, 31 if args is TABULAR else 26)
    )
    assert outputs(run_dir) == outputs(uninterrupted(tmp_path, args))


@pytest.mark.slow
def test_the_exit_status_says_which_signal_stopped_the_run(tmp_path: Path) -> None:
    for signum, code in ((signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGUSR2, 140)):
        run_dir = tmp_path / signal.Signals(signum).name
        proc = start(tmp_path, *TABULAR, f"hydra.run.dir={run_dir}")
        stop_after(proc, [run_dir / "metrics.jsonl"], 2, signum)
        assert proc.returncode == code


@pytest.mark.slow
def test_batched_jobs_resume_together_to_their_uninterrupted_metrics(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    args = ["-m", "hydra/launcher=batched", *TABULAR, "seed=0,1", f"hydra.sweep.dir={sweep}"]
    proc = start(tmp_path, *args)
    err = stop_after(proc, [sweep / "0" / "metrics.jsonl", sweep / "1" / "metrics.jsonl"], 5,
                     signal.SIGTERM)  # fmt: skip
    assert proc.returncode == 143, err
    again = subprocess.run([PGEXP, *args, *COMMON], cwd=tmp_path, capture_output=True, text=True,
                           timeout=300, check=False)  # fmt: skip
    assert again.returncode == 0, again.stderr
    for job, seed in ((0, 0), (1, 1)):
        assert outputs(sweep / str(job)) == outputs(uninterrupted(tmp_path, TABULAR, seed))


def small(tmp_path: Path, *overrides: str) -> Job:
    return Job(compose(quiet(["env=bandit", "train.iters=3", *overrides])), tmp_path / "run")


def test_a_finished_run_is_never_replaced_and_its_hydra_files_come_back(tmp_path: Path) -> None:
    run_batch([small(tmp_path)])
    hydra = tmp_path / "run" / ".hydra" / "config.yaml"
    hydra.parent.mkdir()
    hydra.write_text("the finished run's config\n")
    run_batch([small(tmp_path, "train.overwrite=true")])  # replaces it, as asked
    for other, change in (("train.lr=0.5", "its config differs"), ("seed=3", "")):
        hydra.write_text("a new attempt's config, written by Hydra\n")
        with pytest.raises(
            ConfigError,
            match=rf"holds a finished run of another config \({change}.*train\.overwrite=true",
        ):
            run_batch([small(tmp_path, other)])
        assert hydra.read_text() == "the finished run's config\n"
    assert len(read_metrics(tmp_path / "run" / "metrics.jsonl")) == 3


def test_an_unfinished_run_of_another_config_is_refused(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    run_batch([small(tmp_path)])
    (run_dir / "summary.json").unlink()  # as if killed before the end
    with pytest.raises(ConfigError, match="holds an unfinished run of another config"):
        run_batch([small(tmp_path, "train.lr=0.5")])
    # the same config continues (here: nothing left to train, the summary is written again)
    assert run_batch([small(tmp_path, "train.progress=true")])[0].status is Status.ok


def test_resume_true_needs_a_run_to_continue(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"train\.resume is true but .* holds no run to continue"):
        run_batch([small(tmp_path, "train.resume=true")])
    assert not (tmp_path / "run").exists()


def test_a_damaged_checkpoint_is_refused_by_name(tmp_path: Path) -> None:
    run_batch([small(tmp_path)])
    (tmp_path / "run" / "summary.json").unlink()
    (tmp_path / "run" / CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(ConfigError, match="holds an unreadable checkpoint"):
        run_batch([small(tmp_path)])


@pytest.mark.slow
def test_a_signal_stops_a_sequential_sweep_and_the_later_jobs_never_start(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = start(tmp_path, "-m", *TABULAR, "seed=0,1,2", f"hydra.sweep.dir={sweep}")
    stop_after(proc, [sweep / "0" / "metrics.jsonl"], 3, signal.SIGTERM)
    assert proc.returncode == 143
    assert read_summary(sweep / "0" / "summary.json").status is Status.interrupted
    assert not (sweep / "1").exists() and not (sweep / "2").exists()


@pytest.mark.slow
def test_a_diverged_single_run_exits_3_with_complete_files(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    out = subprocess.run(
        [PGEXP, "env=bandit", "env.rewards=[1e10,0]", "train.lr=1e300", "train.iters=50",
         *COMMON, f"hydra.run.dir={run_dir}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert out.returncode == 3, out.stderr
    assert "pgexp: diverged," in out.stderr
    summary = read_summary(run_dir / "summary.json")
    assert summary.status is Status.diverged
    assert summary.iters == len(read_metrics(run_dir / "metrics.jsonl")) < 50


def children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid``."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return found


@pytest.mark.slow
def test_sigterm_to_a_joblib_sweep_stops_its_workers_and_keeps_their_summaries(
    tmp_path: Path,
) -> None:
    sweep = tmp_path / "sweep"
    proc = start(tmp_path, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *TABULAR,
                 "train.iters=100000", "seed=0,1,2", f"hydra.sweep.dir={sweep}")  # fmt: skip
    metrics = [sweep / "0" / "metrics.jsonl", sweep / "1" / "metrics.jsonl"]
    deadline = time.monotonic() + 300
    while min(records(m) for m in metrics) < 3:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()[1]
        time.sleep(0.05)
    workers = children(proc.pid)
    proc.send_signal(signal.SIGTERM)
    err = proc.communicate(timeout=300)[1]
    assert proc.returncode == 143, err
    assert "pgexp: interrupted by SIGTERM" in err
    for job in ("0", "1"):
        assert read_summary(sweep / job / "summary.json").status is Status.interrupted
    time.sleep(2)
    assert not [pid for pid in workers if running(pid)], workers


def running(pid: int) -> bool:
    """The process exists and is not a zombie waiting to be reaped."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
