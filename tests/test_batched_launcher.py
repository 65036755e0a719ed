"""``hydra/launcher=batched``: the same jobs, files and numbers as Hydra's basic launcher."""

from __future__ import annotations

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hydra.core.global_hydra import GlobalHydra
from hydra.core.utils import JobReturn
from hydra.errors import ConfigCompositionException
from hydra.types import RunMode
from omegaconf import OmegaConf

from hydra_plugins.pgexp_batched_launcher.batched_launcher import Prepared, check_cluster, groups
from hydra_plugins.pgexp_batched_launcher.on_submitit import Cluster, TrainBatch
from hydra_plugins.pgexp_batched_launcher.sweep_configs import SweepConfigCache
from pgexp.hydra_jobs import UserError
from pgexp.job import Job, Refused
from pgexp.records import Status
from pgexp.run import run_batch
from tests.helpers import compose, compose_raw, quiet
from tests.test_batching import outputs
from tests.test_cli import pgexp

SWEEPS = {
    "tabular minibatch": ["estimator=minibatch", "estimator.N=10", "train.lr=0.3,3"],
    "tabular exact": ["estimator=exact", "env.horizon=20", "train.lr=1,30"],
    "mlp cartpole": ["env=cartpole", "env.horizon=60", "policy=mlp", "policy.hidden=[8]",
                     "estimator=minibatch", "estimator.N=6", "train.optimizer=adam",
                     "train.lr=0.01,0.1"],
}  # fmt: skip


def sweep(tmp_path: Path, launcher: str, args: list[str]) -> Path:
    out_dir = tmp_path / launcher
    out = pgexp(
        tmp_path, "-m", f"hydra/launcher={launcher}", *args, "seed=0,1", "train.iters=3",
        "train.eval_episodes=20", "logger=none", "train.progress=false",
        f"hydra.sweep.dir={out_dir}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return out_dir


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(SWEEPS))
def test_every_job_equals_the_basic_launchers(case: str, tmp_path: Path) -> None:
    basic = sweep(tmp_path, "basic", SWEEPS[case])
    batched = sweep(tmp_path, "batched", SWEEPS[case])
    for job in range(4):
        a, b = basic / str(job), batched / str(job)
        assert outputs(a) == outputs(b), job
        for name in ("config.yaml", "overrides.yaml"):
            assert (a / ".hydra" / name).read_text() == (b / ".hydra" / name).read_text()
        hydra_a, hydra_b = (yaml.safe_load((d / ".hydra/hydra.yaml").read_text()) for d in (a, b))
        assert hydra_a["hydra"]["job"] == hydra_b["hydra"]["job"]
        assert hydra_b["hydra"]["runtime"]["output_dir"] == str(b)
    assert not (batched / "4").exists()
    report = pgexp_report(tmp_path, batched)
    assert report.returncode == 0, report.stderr


def pgexp_report(cwd: Path, sweep_dir: Path) -> subprocess.CompletedProcess[str]:
    report = str(Path(sys.executable).with_name("pgexp-report"))
    return subprocess.run([report, str(sweep_dir)], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip


@pytest.mark.slow
def test_batches_sent_to_submitit_compute_what_batches_trained_here_do(tmp_path: Path) -> None:
    """``hydra/launcher=batched_slurm`` with submitit's local executor: one submitit job per
    batch (max_batch=3 cuts the four jobs into two), the same files and numbers."""
    args = SWEEPS["tabular minibatch"]
    here = sweep(tmp_path, "batched", args)
    there = sweep(tmp_path, "batched_slurm", [*args, "hydra.launcher.max_batch=3",
                                             "hydra.launcher.submitit.cluster=local"])  # fmt: skip
    for job in range(4):
        assert outputs(here / str(job)) == outputs(there / str(job)), job
    assert len([d for d in (there / ".submitit").iterdir() if any(d.glob("*_result.pkl"))]) == 2


def test_a_cluster_that_cannot_run_here_is_refused_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigCompositionException, match=r"submitit\.cluster"):
        compose_raw(["hydra/launcher=batched_slurm", "hydra.launcher.submitit.cluster=slrum"],
                    with_hydra=True)  # fmt: skip
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch on it
    with pytest.raises(UserError, match=r"needs SLURM's sbatch.*cluster=local"):
        check_cluster(Cluster.slurm)
    check_cluster(Cluster.local)


def test_a_requeued_batch_reads_its_finished_runs_back_and_trains_the_rest(tmp_path: Path) -> None:
    def job(seed: int, *more: str) -> Job:
        args = ["estimator=minibatch", "estimator.N=10", "train.iters=3", f"seed={seed}", *more]
        return Job(compose(quiet(args)), tmp_path / str(seed))

    (finished,) = run_batch([job(0)])
    again = TrainBatch()([job(0), job(1)])  # as a requeued batch finds its first run done
    assert not isinstance(again, Refused)
    assert again[0] == finished and again[1].status is Status.ok
    assert again[1].J_final == run_batch([Job(job(1).cfg, tmp_path / "alone")])[0].J_final
    refusal = TrainBatch()([job(0, "train.lr=3"), job(2)])  # a run of another config: refused
    assert isinstance(refusal, Refused)
    assert "holds a finished run of another config" in refusal.message
    assert not (tmp_path / "2").exists()


HYDRA_JOB = OmegaConf.create({"hydra": {"job": {"name": "pgexp", "num": 0}}})


def test_jobs_are_grouped_by_what_they_share_and_cut_at_max_batch(tmp_path: Path) -> None:
    def prepared(*overrides: str) -> Prepared:
        return Prepared(JobReturn(), Job(compose(quiet(list(overrides))), tmp_path), HYDRA_JOB)

    failed = Prepared(JobReturn(), None, HYDRA_JOB)  # a job that did not compose
    jobs = [prepared("seed=0"), prepared("estimator.method=enumerate"), prepared("seed=1"),
            prepared("seed=2", "train.lr=3"), failed]  # fmt: skip
    assert [[jobs.index(p) for p in g] for g in groups(jobs, None)] == [[0, 2, 3], [1]]
    assert [[jobs.index(p) for p in g] for g in groups(jobs, 2)] == [[0, 2], [3], [1]]


def test_cached_sweep_configs_are_hydras_own(tmp_path: Path) -> None:
    """Jobs derived from a composed job of the same shape equal Hydra's composition, hydra node
    included; any other kind of override is composed by Hydra."""
    compose_raw([])  # initialize Hydra
    loader = GlobalHydra.instance().config_loader()
    master = loader.load_configuration(
        "config", [f"hydra.sweep.dir={tmp_path}"], run_mode=RunMode.MULTIRUN
    )
    jobs = [
        ["estimator=minibatch", "seed=0", "train.lr=0.1"],
        ["estimator=minibatch", "seed=12", "train.lr=3"],
        ["estimator=minibatch", "seed=12", "train.lr=1e-3"],
        ["seed=4", "estimator=minibatch", "train.lr=2"],
        ["estimator=exact", "seed=3", "train.lr=2"],
        ["estimator=minibatch", "seed=12", "train.lr='0.5'"],
    ]
    cache = SweepConfigCache(loader.load_sweep_config)
    for overrides in jobs:
        ours = cache(master, overrides)
        hydras = loader.load_sweep_config(master, copy.copy(overrides))
        assert OmegaConf.to_container(ours) == OmegaConf.to_container(hydras), overrides
        assert ours.seed == hydras.seed and ours.train.lr == hydras.train.lr
    assert len(cache.composed) == 4  # jobs 2 and 3 were derived from job 1


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "batched"])
def test_a_sweep_run_again_into_its_directory_replaces_nothing(
    launcher: str, tmp_path: Path
) -> None:
    out_dir = sweep(tmp_path, launcher, SWEEPS["tabular minibatch"])
    before = {p: p.read_bytes() for p in sorted(out_dir.rglob("*")) if p.is_file()}
    again = pgexp(
        tmp_path, "-m", f"hydra/launcher={launcher}", *SWEEPS["tabular minibatch"][:2],
        "train.lr=0.3,3", "seed=0,1", "train.iters=4", "logger=none", "train.progress=false",
        f"hydra.sweep.dir={out_dir}",
    )  # fmt: skip
    assert again.returncode == 1
    assert (
        "holds a finished run of another config (its config differs)" in again.stderr
        and "train.overwrite=true" in again.stderr
    )
    after = {p: p.read_bytes() for p in sorted(out_dir.rglob("*")) if p.is_file()}
    changed = [p for p in before if after.get(p) != before[p] and p.suffix != ".log"]
    assert changed == [p for p in changed if p.name == "multirun.yaml"], changed


@pytest.mark.slow
def test_job_end_callbacks_see_each_jobs_real_end(tmp_path: Path) -> None:
    """Hydra's job-end callbacks run after a job's batch has trained, with its objective (as
    with the basic launcher), not at set-up with pgexp's internal description of the job."""
    out = pgexp(
        tmp_path, "-m", "hydra/launcher=batched", "estimator=minibatch", "seed=0,1",
        "train.iters=2", "logger=none", "train.progress=false", f"hydra.sweep.dir={tmp_path / 's'}",
        "+hydra.callbacks.ljr._target_=hydra.experimental.callbacks.LogJobReturnCallback",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    log = out.stdout  # Hydra's log: set-up lines, then training, then the callbacks' lines
    ends = [line.split(": ")[-1] for line in log.splitlines() if "Succeeded with" in line]
    finals = [yaml.safe_load((tmp_path / "s" / j / "summary.json").read_text())["J_final"]
              for j in ("0", "1")]  # fmt: skip
    assert [float(v) for v in ends] == finals
    assert log.index("Training 2 jobs in 1 batches") < log.index("Succeeded with")


@pytest.mark.slow
@pytest.mark.parametrize("launcher", ["basic", "joblib", "batched"])
def test_a_relative_env_path_is_read_from_where_pgexp_started_even_with_chdir(
    launcher: str, tmp_path: Path
) -> None:
    """``hydra.job.chdir=true`` moves each job into its directory; ``env.path`` still means the
    file relative to the directory the command ran in (Hydra's ``to_absolute_path``)."""
    (tmp_path / "mdps").mkdir()
    chain = Path(__file__).parent.parent / "examples" / "mdps" / "chain.yaml"
    (tmp_path / "mdps" / "chain.yaml").write_text(chain.read_text())
    out = pgexp(
        tmp_path, "-m", f"hydra/launcher={launcher}", "hydra.job.chdir=true", "env=file",
        "env.path=mdps/chain.yaml", "estimator=exact", "train.iters=2", "seed=0,1",
        "logger=none", "train.progress=false", f"hydra.sweep.dir={tmp_path / 's'}",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("pgexp: ok") == 2
    assert "#1 : env=file env.path=mdps/chain.yaml" in out.stdout  # Hydra's line for each job
