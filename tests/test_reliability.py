"""Nothing is lost or mixed silently: one run per directory (an OS lock), runs identified by
the content of their input files, resumes that never leave a gap, refusals before any file is
touched, and a sweep run again that reports its finished jobs."""

from __future__ import annotations

import json
import signal
import subprocess
import time
import zipfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from pgexp.api import train as api_train
from pgexp.envs.tabular import TabularMDP
from pgexp.errors import ConfigError
from pgexp.job import Job
from pgexp.metrics import read_metrics, read_summary
from pgexp.processes import parent_of
from pgexp.records import Status
from pgexp.run import build, prepare, run_batch
from pgexp.rundir_lock import RunDirLock
from pgexp.training import train
from tests.helpers import compose, quiet
from tests.test_cli import PGEXP, pgexp
from tests.test_resume import COMMON, records

CHAIN = Path(__file__).parent.parent / "examples" / "mdps" / "chain.yaml"


def job(run_dir: Path, *overrides: str) -> Job:
    return Job(compose(quiet(["env=bandit", "train.iters=6", *overrides])), run_dir)


def stopped_after(jobs: list[Job], k: int) -> None:
    """Leave the jobs' directories as a kill after iteration k leaves them: records 1..k and a
    checkpoint at k, no summary."""
    pieces = build(jobs[0].cfg, [j.cfg.seed for j in jobs])
    first = prepare(jobs, [None] * len(jobs), pieces, pieces.policy)
    train(first.batch, pieces.gradients, k, progress=False)
    for out in first.batch.runs:
        out.writer.close()
    first.batch.save_checkpoints()


def test_two_jobs_of_one_batch_never_share_a_directory(tmp_path: Path) -> None:
    a, b = job(tmp_path / "d", "seed=0"), job(tmp_path / "d", "seed=1")
    with pytest.raises(ConfigError, match=r"is in use by another pgexp run \(process \d+, this"):
        run_batch([a, b])
    assert not (tmp_path / "d" / "metrics.jsonl").exists()


def test_a_lock_names_its_holder_and_goes_with_it(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        ["python", "-c", "import sys, time; from pathlib import Path; "
         "from pgexp.rundir_lock import RunDirLock; RunDirLock(Path(sys.argv[1])).acquire(); "
         "print('held', flush=True); time.sleep(60)", str(tmp_path / "d")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(
            ConfigError, match=rf"in use by another pgexp run \(process {holder.pid}\)"
        ):
            RunDirLock(tmp_path / "d").acquire()
    finally:
        holder.kill()  # a killed holder's lock goes with it
        holder.wait()
    lock = RunDirLock(tmp_path / "d")
    lock.acquire()
    lock.release()
    assert not (tmp_path / "d" / ".pgexp.lock").exists()


@pytest.mark.slow
def test_a_second_process_into_a_running_runs_directory_is_refused(tmp_path: Path) -> None:
    args = ["estimator=minibatch", "estimator.N=300", "train.iters=1000000", *COMMON]
    first = subprocess.Popen([PGEXP, *args, f"hydra.run.dir={tmp_path / 'd'}"], cwd=tmp_path,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        while records(tmp_path / "d" / "metrics.jsonl") < 2:
            assert first.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        second = pgexp(tmp_path, *args, f"hydra.run.dir={tmp_path / 'd'}")
        assert second.returncode == 1
        assert second.stderr.strip().splitlines() == [
            f"pgexp: error: run directory {tmp_path / 'd'} is in use by another pgexp run "
            f"(process {first.pid}): two runs never share a directory; wait for it, or choose "
            "another hydra.run.dir (in a sweep, a hydra.sweep.subdir that tells the jobs apart)"
        ]
    finally:
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=120)


@pytest.mark.slow
def test_the_batched_launcher_refuses_jobs_that_would_share_a_directory(tmp_path: Path) -> None:
    """Three seeds into one directory: the first job runs, the other two are refused in one
    line each (Hydra prints the first failed job's), as Hydra's basic launcher refuses them;
    nothing is mixed."""
    out = pgexp(
        tmp_path, "-m", "hydra/launcher=batched", "hydra.sweep.subdir=lr${train.lr}",
        "estimator=minibatch", "estimator.N=10", "seed=0,1,2", "train.iters=5", "logger=none",
        "train.progress=false", f"hydra.sweep.dir={tmp_path / 's'}",
    )  # fmt: skip
    assert out.returncode == 1
    assert "pgexp: error: run directory" in out.stderr, out.stderr
    assert "is the directory of job #0 too" in out.stderr
    run_dir = tmp_path / "s" / "lr1.0"
    assert [r.iter for r in read_metrics(run_dir / "metrics.jsonl")] == [1, 2, 3, 4, 5]
    assert read_summary(run_dir / "summary.json").seed == 0


def test_resume_after_an_input_file_changed_is_refused_saying_so(tmp_path: Path) -> None:
    mdp = tmp_path / "m.yaml"
    mdp.write_text(CHAIN.read_text())
    stopped = job(tmp_path / "d", "env=file", f"env.path={mdp}", "env.horizon=10")
    stopped_after([stopped], 2)
    mdp.write_text(CHAIN.read_text().replace("[10, 2]", "[11, 2]"))
    with pytest.raises(ConfigError, match=r"the content of env\.path changed since"):
        run_batch([stopped])
    assert len(read_metrics(tmp_path / "d" / "metrics.jsonl")) == 2


@pytest.mark.parametrize("damage", ["garbage line", "cut short", "deleted"])
def test_a_damaged_metrics_file_is_never_resumed_with_a_gap(tmp_path: Path, damage: str) -> None:
    stopped = job(tmp_path / "d")
    stopped_after([stopped], 4)
    metrics = tmp_path / "d" / "metrics.jsonl"
    lines = metrics.read_text().splitlines()
    if damage == "garbage line":
        lines[1] = "{not json"
        metrics.write_text("\n".join(lines) + "\n")
    elif damage == "cut short":
        metrics.write_text("\n".join(lines[:2]) + "\n")
    else:
        metrics.unlink()
    before = metrics.read_text() if metrics.exists() else None
    with pytest.raises(ConfigError, match=r"metrics\.jsonl does not hold iterations 1\.\.4"):
        run_batch([stopped])
    assert (metrics.read_text() if metrics.exists() else None) == before


def test_overwrite_and_resume_together_are_a_conflict() -> None:
    with pytest.raises(ConfigError, match=r"^train\.overwrite=true and train\.resume=true"):
        compose(quiet(["train.overwrite=true", "train.resume=true"]))


def test_the_api_never_replaces_an_mdp_file_before_refusing(tmp_path: Path) -> None:
    def corridor(reward: float) -> TabularMDP:
        return TabularMDP(P=[[[0, 1], [1, 0]], [[0, 1], [0, 1]]],
                                R=[[reward, 0], [0, 0]], mu0=[1, 0], horizon=3)  # fmt: skip

    quiet_args = quiet(["estimator=exact", "train.iters=2"])
    api_train(quiet_args, env=corridor(1.0), run_dir=tmp_path / "d")
    stored = (tmp_path / "d" / "mdp.npz").read_bytes()
    with pytest.raises(ConfigError, match=r"mdp\.npz holds another MDP"):
        api_train(quiet_args, env=corridor(2.0), run_dir=tmp_path / "d")
    assert (tmp_path / "d" / "mdp.npz").read_bytes() == stored
    again = api_train(quiet_args, env=corridor(1.0), run_dir=tmp_path / "d")  # the same run
    assert again.summary["status"] == "ok" and len(again.metrics) == 2
    assert np.load(tmp_path / "d" / "mdp.npz")["R"][0][0] == 1.0


def test_a_finished_run_of_the_same_config_is_its_result(tmp_path: Path) -> None:
    (first,) = run_batch([job(tmp_path / "d")])
    metrics = (tmp_path / "d" / "metrics.jsonl").read_text()
    (again,) = run_batch([job(tmp_path / "d")])
    assert again == first and (tmp_path / "d" / "metrics.jsonl").read_text() == metrics
    with pytest.raises(ConfigError, match=r"holds a finished run of another config"):
        run_batch([job(tmp_path / "d", "train.lr=3")])


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "batched"])
def test_a_sweep_run_again_reports_its_finished_jobs_and_runs_the_new_ones(
    launcher: str, tmp_path: Path
) -> None:
    def sweep(seeds: str) -> subprocess.CompletedProcess[str]:
        return pgexp(tmp_path, "-m", f"hydra/launcher={launcher}", "estimator=minibatch",
                     "estimator.N=10", f"seed={seeds}", "train.iters=3", "logger=none",
                     "train.progress=false", f"hydra.sweep.dir={tmp_path / 's'}")  # fmt: skip

    assert sweep("0,1").returncode == 0
    summaries = [(tmp_path / "s" / j / "summary.json").read_text() for j in ("0", "1")]
    out = sweep("0,1,2")
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("finished before: its summary is the result") == 2, out.stderr
    assert [(tmp_path / "s" / j / "summary.json").read_text() for j in ("0", "1")] == summaries
    assert read_summary(tmp_path / "s" / "2" / "summary.json").status is Status.ok


@pytest.mark.slow
def test_ctrl_c_says_how_to_continue_a_run_in_its_timestamped_directory(tmp_path: Path) -> None:
    proc = subprocess.Popen(
        [PGEXP, "estimator=minibatch", "estimator.N=3000", "train.iters=300", *COMMON],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob("outputs/*/*/metrics.jsonl")):
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    err = proc.communicate(timeout=120)[1]
    (run_dir,) = (p.parent.resolve() for p in tmp_path.glob("outputs/*/*/metrics.jsonl"))
    hint = err.strip().splitlines()[-1]
    assert f"hydra.run.dir={run_dir}" in hint, err
    command = hint.split("continue it with: ")[1].split()
    assert command[0] == "pgexp"
    again = pgexp(tmp_path, *command[1:])
    assert again.returncode == 0, again.stderr
    assert json.loads((run_dir / "summary.json").read_text())["iters"] == 300


@pytest.mark.slow
@pytest.mark.parametrize(
    "args",
    [
        ["env=null"],
        [f"hydra.run.dir=outputs/{'x' * 300}"],
        ["-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=0", "seed=0,1"],
    ],
    ids=["group-null", "long-name", "n_jobs-0"],
)
def test_command_lines_hydra_would_answer_with_a_traceback_get_one_line(
    tmp_path: Path, args: list[str]
) -> None:
    out = pgexp(tmp_path, *args, "logger=none", "train.iters=1")
    assert out.returncode == 1
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert out.stderr.startswith("pgexp: error: ")


def broken_npz_files(folder: Path) -> dict[str, str]:
    """Five kinds of broken ``.npz`` files and a non-UTF-8 YAML file -> what the line says."""
    good = folder / "good.npz"
    np.savez(good, P=np.eye(2).reshape(2, 1, 2), R=np.zeros((2, 1)), mu0=np.array([1.0, 0]))
    whole = good.read_bytes()
    (folder / "random.npz").write_bytes(bytes(range(256)) * 2)
    (folder / "truncated.npz").write_bytes(whole[: len(whole) // 2])
    np.save(folder / "array.npy", np.eye(2))
    (folder / "renamed.npz").write_bytes((folder / "array.npy").read_bytes())
    objects = np.array([[1, "a"]], dtype=object)
    np.savez(folder / "objects.npz", P=objects, R=np.zeros((2, 1)), mu0=np.array([1.0, 0]))
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 2, 1000000), }"
    header += " " * (118 - len(header)) + "\n"
    npy = b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode() + bytes(64)
    with zipfile.ZipFile(folder / "huge.npz", "w") as archive:
        for name in ("P", "R", "mu0"):
            archive.writestr(f"{name}.npy", npy)
    (folder / "latin1.yaml").write_bytes(b"P: [[[1]]]\nR: [[0]]\nmu0: [1]\n# caf\xe9\n")
    not_npz = "is not an .npz archive"
    return {"random.npz": not_npz, "truncated.npz": not_npz, "renamed.npz": not_npz,
            "objects.npz": "P holds object values", "huge.npz": "P claims an array of shape",
            "latin1.yaml": "is not UTF-8 text"}  # fmt: skip


def test_broken_mdp_files_are_refused_in_one_line(tmp_path: Path) -> None:
    from pgexp.envs import load_mdp_file

    for name, says in broken_npz_files(tmp_path).items():
        with pytest.raises(ConfigError, match=says):
            load_mdp_file(tmp_path / name, horizon=3)


def test_api_mistakes_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"must be a list of overrides such as"):
        api_train("estimator=minibatch")  # type: ignore[arg-type]
    (tmp_path / "a-file").write_text("")
    with pytest.raises(ConfigError, match=r"run_dir .* is a file, not a directory"):
        api_train(quiet(["train.iters=1"]), run_dir=tmp_path / "a-file")
    for horizon in (0, 2.5):
        with pytest.raises(ConfigError, match=r"horizon must be an integer >= 1"):
            TabularMDP(P=[[[1]]], R=[[0]], mu0=[1], horizon=horizon).to_finite_mdp()  # type: ignore[arg-type]


@contextmanager
def small_file_system(folder: Path, size: str, read_only: bool = False) -> Iterator[Path]:
    """A tmpfs of ``size`` mounted on ``folder`` (root only: skips otherwise)."""
    folder.mkdir()
    options = f"size={size}" + (",ro" if read_only else "")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(folder)],
                             capture_output=True, check=False)  # fmt: skip
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


@pytest.mark.slow
def test_a_full_disk_mid_run_is_one_line_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    with small_file_system(tmp_path / "disk", "256k") as disk:
        out = pgexp(tmp_path, "estimator=minibatch", "estimator.N=10", "train.iters=5000",
                    "train.checkpoint_every=1", *COMMON,
                    f"hydra.run.dir={disk / 'run'}")  # fmt: skip
        assert out.returncode == 1
        (line,) = out.stderr.strip().splitlines()[-1:]
        assert line.startswith("pgexp: error: writing or reading") and "No space left" in line
        assert not list(disk.rglob("*.tmp")), list(disk.rglob("*"))


@pytest.mark.slow
def test_a_read_only_output_directory_is_one_line(tmp_path: Path) -> None:
    with small_file_system(tmp_path / "ro", "64k", read_only=True) as folder:
        out = pgexp(tmp_path, "train.iters=2", *COMMON, f"hydra.run.dir={folder / 'run'}")
        assert out.returncode == 1
        assert out.stderr.strip().splitlines() == [
            f"pgexp: error: hydra.run.dir cannot be written: {folder} is on a read-only file "
            "system or not writable"
        ]
        finished = pgexp(tmp_path, "-m", "train.iters=2", "seed=0,1", *COMMON,
                         f"hydra.sweep.dir={tmp_path / 'sweep'}")  # fmt: skip
        assert finished.returncode == 0, finished.stderr
        report = subprocess.run(
            [str(Path(PGEXP).with_name("pgexp-report")), str(tmp_path / "sweep"),
             "--out", str(folder / "report")],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        assert report.returncode != 0
        assert report.stderr.strip().splitlines() == [
            f"pgexp-report: error: cannot write the report into {folder / 'report'}: Read-only "
            "file system (choose another folder with --out)"
        ]


def test_a_network_whose_parameters_overflow_ends_diverged(tmp_path: Path) -> None:
    """lr = 1e300 puts CartPole's MLP at |θ| ≈ 1e301 after one step: finite, but saturated with
    a gradient of exactly 0 from then on; the run ends diverged instead of ok."""
    cfg = compose(quiet(["env=cartpole", "env.horizon=50", "policy=mlp", "policy.hidden=[8]",
                         "estimator=minibatch", "estimator.N=8", "train.lr=1e300",
                         "train.iters=5"]))  # fmt: skip
    (summary,) = run_batch([Job(cfg, tmp_path / "d")])
    assert summary.status is Status.diverged and summary.iters == 1


def processes_with(marker: str) -> list[int]:
    """Process ids whose command line holds ``marker``."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            if marker.encode() in cmdline.read_bytes():
                found.append(int(cmdline.parent.name))
        except OSError:
            continue
    return found


def wait_for(condition: Callable[[], bool], timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.1)


LONG_SWEEP = ["estimator=minibatch", "estimator.N=2000", "train.iters=3000", "seed=0,1", *COMMON]


@pytest.mark.slow
def test_ctrl_c_on_a_submitit_local_sweep_stops_its_jobs(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen(
        [PGEXP, "-m", "hydra/launcher=submitit_local", *LONG_SWEEP, f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    metrics = [sweep / j / "metrics.jsonl" for j in ("0", "1")]
    wait_for(lambda: min(records(m) for m in metrics) >= 3)
    proc.send_signal(signal.SIGINT)
    proc.communicate(timeout=300)
    assert proc.returncode == 130
    assert processes_with(str(sweep)) == []  # no job left running under PID 1
    for job in ("0", "1"):
        assert read_summary(sweep / job / "summary.json").status is Status.interrupted
    lengths = [records(m) for m in metrics]
    time.sleep(2)
    assert [records(m) for m in metrics] == lengths


@pytest.mark.slow
def test_a_joblib_worker_stops_when_its_sweep_is_killed(tmp_path: Path) -> None:
    sweep = tmp_path / "sweep"
    proc = subprocess.Popen(
        [PGEXP, "-m", "hydra/launcher=joblib", "hydra.launcher.n_jobs=2", *LONG_SWEEP,
         f"hydra.sweep.dir={sweep}"],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    metrics = [sweep / j / "metrics.jsonl" for j in ("0", "1")]
    wait_for(lambda: min(records(m) for m in metrics) >= 3)
    workers = [pid for pid in processes_with("popen_loky_posix") if parent_of(pid) == proc.pid]
    assert workers
    proc.kill()  # kill -9: the sweep's process passes nothing on
    proc.communicate(timeout=60)
    wait_for(lambda: all(parent_of(pid) is None for pid in workers), timeout_s=60)
    for job in ("0", "1"):
        assert read_summary(sweep / job / "summary.json").status is Status.interrupted
