"""``hydra/launcher=batched``: a sweep's jobs grouped into batched computations.

Hydra finds this launcher like any other (a module under the ``hydra_plugins`` namespace). For
each job it does what Hydra's basic launcher does (the sweep config, the job's output directory,
its ``.hydra/`` files and logging set-up), but instead of running the job right away it collects
it. The jobs that differ only in ``seed``, ``train.lr`` and the logger are then trained together
by :func:`pgexp.run.run_batch`, at most ``max_batch`` at a time, each still writing its own
``metrics.jsonl``, ``summary.json`` and W&B run. Jobs that share nothing run as batches of one.
With ``submitit`` set, each batch is one submitit job instead (see ``on_submitit.py``). It
launches pgexp jobs only: the task function Hydra passes in is not called.
"""

# no `from __future__ import annotations`: Hydra's plugin scan imports this module without
# registering it in sys.modules, where dataclasses look string annotations up
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import JobReturn, JobStatus, configure_log, run_job, setup_globals
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from hydra_plugins.pgexp_batched_launcher.on_submitit import (
    Outcome,
    SubmititConf,
    TrainBatch,
    submit,
)
from hydra_plugins.pgexp_batched_launcher.sweep_configs import SweepConfigCache
from pgexp.app import (
    UserError,
    forget_unstarted,
    job_from_hydra,
    objective,
    remove_hydra_files,
    report_outcome,
)
from pgexp.errors import ConfigError
from pgexp.job import Job, batch_key

log = logging.getLogger(__name__)


@dataclass
class BatchedLauncherConf:
    _target_: str = "hydra_plugins.pgexp_batched_launcher.batched_launcher.BatchedLauncher"
    max_batch: int | None = None
    """Most jobs trained as one batch (memory grows with it); null: a whole group at once."""
    submitit: SubmititConf | None = None
    """null: batches train in this process, one after the other; else each is a submitit job."""


ConfigStore.instance().store(
    group="hydra/launcher", name="batched", node=BatchedLauncherConf, provider="pgexp"
)


@dataclass
class Prepared:
    """A job whose directory and Hydra files exist, and what Hydra reports for it."""

    ret: JobReturn
    job: Job | None
    """None when the job failed before it could run (its ``ret`` says why)."""
    hydra_job_name: str


def prepare(task_cfg: DictConfig) -> Job:
    """The task function of the collecting pass: validate and describe the job, train nothing."""
    hc = HydraConfig.get()
    try:
        return job_from_hydra(task_cfg)
    except ConfigError as err:
        remove_hydra_files(Path(hc.runtime.output_dir), hc.job.name)
        raise UserError(f"pgexp: error: {err}") from None


def groups(jobs: Sequence[Prepared], max_batch: int | None) -> list[list[Prepared]]:
    """The runnable jobs grouped by :func:`pgexp.job.batch_key`, in order of first appearance,
    each group cut into batches of at most ``max_batch``."""
    by_key: dict[str, list[Prepared]] = {}
    for p in jobs:
        if p.job is not None:
            by_key.setdefault(batch_key(p.job.cfg), []).append(p)
    size = max_batch or max((len(g) for g in by_key.values()), default=1)
    return [g[i : i + size] for g in by_key.values() for i in range(0, len(g), size)]


def train_here(batch: list[Prepared]) -> Outcome | Exception:
    """Train one batch in this process."""
    try:
        return TrainBatch()([p.job for p in batch if p.job is not None])
    except Exception as err:
        return err


def record(batch: list[Prepared], outcome: Outcome | Exception) -> None:
    """Fill in the returns of a batch's jobs: J_final each, or the error for all of them."""
    jobs = [p.job for p in batch if p.job is not None]
    if isinstance(outcome, str):  # refused before anything was written
        for p, job in zip(batch, jobs, strict=True):
            forget_unstarted(job.run_dir, p.hydra_job_name)
            fail(p.ret, UserError(outcome))
        return
    if isinstance(outcome, Exception):
        for p in batch:
            fail(p.ret, outcome)
        return
    for p, job, summary in zip(batch, jobs, outcome, strict=True):
        p.ret.status, p.ret.return_value = JobStatus.COMPLETED, objective(summary)
        report_outcome(summary, job.run_dir)


def fail(ret: JobReturn, err: Exception) -> None:
    ret.status = JobStatus.FAILED
    ret.return_value = err


def check_cluster(cluster: str) -> None:
    """Refuse, in one line, a submitit cluster that cannot run here."""
    if cluster not in ("slurm", "local"):
        raise UserError(
            f"pgexp: error: hydra.launcher.submitit.cluster must be slurm or local (got {cluster})"
        )
    if cluster == "slurm" and shutil.which("sbatch") is None:
        raise UserError(
            "pgexp: error: hydra.launcher.submitit.cluster=slurm needs SLURM's sbatch, which is "
            "not on PATH here; hydra.launcher.submitit.cluster=local runs each batch as a "
            "process on this machine"
        )


class BatchedLauncher(Launcher):
    def __init__(self, max_batch: int | None = None, submitit: DictConfig | None = None) -> None:
        super().__init__()
        if max_batch is not None and max_batch < 1:
            raise UserError(
                f"pgexp: error: hydra.launcher.max_batch must be >= 1 (got {max_batch})"
            )
        if submitit is not None:
            check_cluster(str(submitit.cluster))
        self.max_batch = max_batch
        self.submitit = submitit
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        self.config, self.hydra_context = config, hydra_context
        # the sweeper composes every job with this loader too (to check it composes) before
        # the launcher composes it again: both go through the cache
        loader = hydra_context.config_loader
        if not isinstance(loader.load_sweep_config, SweepConfigCache):
            loader.load_sweep_config = SweepConfigCache(loader.load_sweep_config)  # type: ignore[method-assign]

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        prepared = [
            self.collect(initial_job_idx + i, list(overrides))
            for i, overrides in enumerate(job_overrides)
        ]
        batches = groups(prepared, self.max_batch)
        if self.submitit is None:
            log.info(f"Training {len(job_overrides)} jobs in {len(batches)} batches")
            for batch in batches:
                record(batch, train_here(batch))
        else:
            conf: SubmititConf = OmegaConf.to_object(self.submitit)  # type: ignore[assignment]
            log.info(
                f"Sending {len(job_overrides)} jobs as {len(batches)} batches to submitit "
                f"({conf.cluster}), files in {conf.folder}"
            )
            jobs = [[p.job for p in b if p.job is not None] for b in batches]
            name = str(self.config.hydra.job.name)
            for batch, outcome in zip(batches, submit(jobs, conf, name), strict=True):
                record(batch, outcome)
        return [p.ret for p in prepared]

    def collect(self, idx: int, overrides: list[str]) -> Prepared:
        """Set up job ``idx`` as the basic launcher would, and describe it."""
        assert self.config is not None and self.hydra_context is not None
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = sweep_config.hydra.job.num = idx
        ret = run_job(
            hydra_context=self.hydra_context,
            task_function=prepare,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        job = ret._return_value if ret.status is JobStatus.COMPLETED else None
        if job is not None:
            ret.status = JobStatus.UNKNOWN  # trained later, by its batch
        return Prepared(ret, job, str(sweep_config.hydra.job.name))
