"""``hydra/launcher=batched``: a sweep's jobs grouped into batched computations.

Hydra finds this launcher like any other (a module under the ``hydra_plugins`` namespace). For
each job it does what Hydra's basic launcher does (the sweep config, the job's output directory,
its ``.hydra/`` files and logging set-up), but instead of running the job right away it collects
it. The jobs that differ only in ``seed``, ``train.lr`` and the logger are then trained together
by :func:`pgexp.run.run_batch`, at most ``max_batch`` at a time, each still writing its own
``metrics.jsonl``, ``summary.json`` and W&B run. Jobs that share nothing run as batches of one.
With ``submitit`` set, each batch is one submitit job instead (see ``on_submitit.py``).

It batches the jobs of ``pgexp``'s own task function only. Any other Hydra app that selects it
gets Hydra's basic launcher: its task function runs job by job, in this process.
"""

# no `from __future__ import annotations`: Hydra's plugin scan imports this module without
# registering it in sys.modules, where dataclasses look string annotations up
import logging
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from hydra._internal.callbacks import Callbacks
from hydra._internal.core_plugins.basic_launcher import BasicLauncher
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.core.utils import (
    JobReturn,
    JobStatus,
    configure_log,
    filter_overrides,
    run_job,
    setup_globals,
)
from hydra.plugins.launcher import Launcher
from hydra.types import HydraContext, TaskFunction
from omegaconf import DictConfig, OmegaConf, open_dict

from hydra_plugins.pgexp_batched_launcher.on_submitit import (
    Cluster,
    Outcome,
    SubmititConf,
    TrainBatch,
    submit,
)
from hydra_plugins.pgexp_batched_launcher.sweep_configs import SweepConfigCache
from pgexp.errors import ConfigError
from pgexp.hydra_jobs import (
    UserError,
    forget_unstarted,
    is_pgexp_task,
    job_from_hydra,
    remove_hydra_files,
    report_outcome,
    sweep_objective,
)
from pgexp.job import Job, Refused, batch_key

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
# hydra/launcher=batched_slurm: each batch of at most max_batch jobs (256) is one job of a SLURM
# job array, so a 1000-seed sweep is a handful of cluster jobs; the keys of
# hydra.launcher.submitit (SubmititConf) mean what they mean in hydra/launcher=slurm, and
# cluster: local runs each batch as a process on this machine. A batch stopped by a pre-emption
# or its time limit is requeued and continues its runs.
ConfigStore.instance().store(
    group="hydra/launcher",
    name="batched_slurm",
    node=BatchedLauncherConf(max_batch=256, submitit=SubmititConf()),
    provider="pgexp",
)


@dataclass
class Prepared:
    """A job whose directory and Hydra files exist, and what Hydra reports for it."""

    ret: JobReturn
    job: Job | None
    """None when the job failed before it could run (its ``ret`` says why)."""
    config: DictConfig
    """The job's composed config, Hydra node included (what its callbacks are given)."""
    ended: bool = False
    """Whether its job-end callbacks have run (at set-up, for a job that failed there)."""

    @property
    def hydra_job_name(self) -> str:
        return str(self.config.hydra.job.name)


class HeldEnd:
    """Hydra's callbacks with ``on_job_end`` held back: a collected job ends when its batch has
    trained, and its callbacks then see its real status and return value."""

    def __init__(self, callbacks: Callbacks) -> None:
        self.inner = callbacks

    def on_job_start(self, config: DictConfig, **kwargs: Any) -> None:
        self.inner.on_job_start(config=config, **kwargs)

    def on_job_end(self, config: DictConfig, job_return: JobReturn, **kwargs: Any) -> None:
        pass


def end_job(callbacks: Callbacks, p: Prepared) -> None:
    """Run the job-end callbacks of a job that has ended, with Hydra's config set to the job's
    as it is while a job runs."""
    hydra_config = HydraConfig.instance()
    previous = hydra_config.cfg
    hydra_config.set_config(p.config)
    try:
        callbacks.on_job_end(config=p.config, job_return=p.ret)
    finally:
        hydra_config.cfg = previous
        p.ended = True


def prepare(task_cfg: DictConfig) -> Job:
    """The task function of the collecting pass: validate and describe the job, train nothing."""
    hc = HydraConfig.get()
    try:
        return job_from_hydra(task_cfg)
    except ConfigError as err:
        remove_hydra_files(Path(hc.runtime.output_dir), hc.job.name)
        raise UserError(f"pgexp: error: {err}") from None


def refuse_shared_directories(jobs: Sequence[Prepared]) -> None:
    """Fail every job whose run directory an earlier job of the sweep has (a
    ``hydra.sweep.subdir`` that does not tell them apart): one run per directory, as Hydra's
    basic launcher would find the first job's run there."""
    first: dict[Path, int] = {}
    for p in jobs:
        if p.job is None:
            continue
        taken = first.setdefault(p.job.run_dir.resolve(), int(p.config.hydra.job.num))
        if taken != p.config.hydra.job.num:
            fail(p.ret, UserError(
                f"pgexp: error: run directory {p.job.run_dir} is the directory of job #{taken} "
                "too: two runs never share a directory; choose a hydra.sweep.subdir that tells "
                "the jobs apart (e.g. one with ${hydra.job.num})"
            ))  # fmt: skip
            p.job = None


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
    if isinstance(outcome, Refused):  # refused before anything was written
        for p, job in zip(batch, jobs, strict=True):
            forget_unstarted(job.run_dir, p.hydra_job_name)
            fail(p.ret, UserError(outcome.message))
        return
    if isinstance(outcome, Exception):
        for p in batch:
            fail(p.ret, outcome)
        return
    for p, job, summary in zip(batch, jobs, outcome, strict=True):
        report_outcome(summary, job.run_dir)
        try:
            p.ret.status, p.ret.return_value = JobStatus.COMPLETED, sweep_objective(summary)
        except UserError as err:  # a diverged trial of an Optuna search
            fail(p.ret, err)


def fail(ret: JobReturn, err: Exception) -> None:
    ret.status = JobStatus.FAILED
    ret.return_value = err


def check_cluster(cluster: Cluster) -> None:
    """Refuse, in one line, a submitit cluster that cannot run here (Hydra refuses a name that
    is no :class:`Cluster`)."""
    if cluster is Cluster.slurm and shutil.which("sbatch") is None:
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
            check_cluster(Cluster(submitit.cluster))
        self.max_batch = max_batch
        self.submitit = submitit
        self.config: DictConfig | None = None
        self.hydra_context: HydraContext | None = None
        self.one_by_one: BasicLauncher | None = None
        """Hydra's basic launcher, for a task function that is not pgexp's."""

    def setup(
        self, *, hydra_context: HydraContext, task_function: TaskFunction, config: DictConfig
    ) -> None:
        if not is_pgexp_task(task_function):
            self.one_by_one = BasicLauncher()
            self.one_by_one.setup(
                hydra_context=hydra_context, task_function=task_function, config=config
            )
            return
        self.config, self.hydra_context = config, hydra_context
        # the sweeper composes every job with this loader too (to check it composes) before
        # the launcher composes it again: both go through the cache
        loader = hydra_context.config_loader
        if not isinstance(loader.load_sweep_config, SweepConfigCache):
            loader.load_sweep_config = SweepConfigCache(loader.load_sweep_config)  # type: ignore[method-assign]

    def launch(
        self, job_overrides: Sequence[Sequence[str]], initial_job_idx: int
    ) -> Sequence[JobReturn]:
        if self.one_by_one is not None:
            log.info("Not pgexp's task function: its jobs run one by one (Hydra's basic launcher)")
            return self.one_by_one.launch(job_overrides, initial_job_idx)
        setup_globals()
        assert self.config is not None and self.hydra_context is not None
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        Path(str(self.config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
        prepared = [
            self.collect(initial_job_idx + i, list(overrides))
            for i, overrides in enumerate(job_overrides)
        ]
        refuse_shared_directories(prepared)
        batches = groups(prepared, self.max_batch)
        if self.submitit is None:
            log.info(f"Training {len(job_overrides)} jobs in {len(batches)} batches")
            for batch in batches:
                record(batch, train_here(batch))
        else:
            conf: SubmititConf = OmegaConf.to_object(self.submitit)  # type: ignore[assignment]
            log.info(
                f"Sending {len(job_overrides)} jobs as {len(batches)} batches to submitit "
                f"({conf.cluster.value}), files in {conf.folder}"
            )
            jobs = [[p.job for p in b if p.job is not None] for b in batches]
            name = str(self.config.hydra.job.name)
            for batch, outcome in zip(batches, submit(jobs, conf, name), strict=True):
                record(batch, outcome)
        for p in prepared:
            if not p.ended:
                end_job(self.hydra_context.callbacks, p)
        return [p.ret for p in prepared]

    def collect(self, idx: int, overrides: list[str]) -> Prepared:
        """Set up job ``idx`` as the basic launcher would, and describe it; its job-end
        callbacks wait for its batch, unless it fails here."""
        assert self.config is not None and self.hydra_context is not None
        log.info(f"\t#{idx} : {' '.join(filter_overrides(overrides))}")
        sweep_config = self.hydra_context.config_loader.load_sweep_config(self.config, overrides)
        with open_dict(sweep_config):
            sweep_config.hydra.job.id = sweep_config.hydra.job.num = idx
        held_end = cast(Callbacks, HeldEnd(self.hydra_context.callbacks))
        held = HydraContext(self.hydra_context.config_loader, held_end)
        ret = run_job(
            hydra_context=held,
            task_function=prepare,
            config=sweep_config,
            job_dir_key="hydra.sweep.dir",
            job_subdir_key="hydra.sweep.subdir",
        )
        configure_log(self.config.hydra.hydra_logging, self.config.hydra.verbose)
        job = ret._return_value if ret.status is JobStatus.COMPLETED else None
        prepared = Prepared(ret, job, sweep_config)
        if job is None:
            end_job(self.hydra_context.callbacks, prepared)
        else:
            ret.status, ret.return_value = JobStatus.UNKNOWN, None  # trained later, by its batch
        return prepared
