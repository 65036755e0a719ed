"""Batches as submitit jobs: with ``hydra.launcher.submitit`` set (as
``hydra/launcher=batched_slurm`` does), each batch of the batched launcher is one job of a
submitit job array, on SLURM (or, with ``cluster: local``, a process on this machine), so a
1000-seed sweep is a handful of cluster jobs. A batch stopped by its time limit or a
pre-emption is requeued and continues from its runs' checkpoints.
"""

# no `from __future__ import annotations`: see batched_launcher.py
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from pgexp.errors import ConfigError
from pgexp.job import Job, Refused
from pgexp.records import Summary


class Cluster(str, Enum):
    """Where submitit runs each batch."""

    slurm = "slurm"
    local = "local"


@dataclass
class SubmititConf:
    """Where and how each batch runs; the keys mean what they mean in ``hydra/launcher=slurm``."""

    cluster: Cluster = Cluster.slurm
    """submitit's executor: ``slurm``, or ``local`` (processes on this machine)."""
    folder: str = "${hydra.sweep.dir}/.submitit/%j"
    """submitit's own logs and pickles."""
    partition: str | None = None
    """SLURM partition (null: the cluster's default)."""
    timeout_min: int = 60
    """Wall-clock limit per batch, minutes."""
    cpus_per_task: int = 1
    """Cores per batch (set ``hardware.threads`` to match)."""
    gpus_per_node: int = 0
    """GPUs per batch (with ``hardware=gpu``)."""
    mem_gb: int = 4
    """Memory per batch, GB."""
    array_parallelism: int = 256
    """How many batches run at once."""
    signal_delay_s: int = 120
    """SIGUSR2 this many seconds before ``timeout_min``: checkpoint, requeue."""
    max_num_timeout: int = 3
    """How many times a batch may hit ``timeout_min`` and be requeued."""
    additional_parameters: dict[str, Any] = field(default_factory=dict)
    """Further sbatch options, e.g. ``{account: my_account}``."""


Outcome = list[Summary] | Refused
"""What a batch job returns: each job's summary, or the refusal of its config (a class of
pgexp's own: Hydra's plugin scan runs this module again, which would make a class defined here
another class for code that imported it before)."""


class TrainBatch:
    """The callable a batch job runs: :func:`pgexp.run.run_batch` of its jobs (after a requeue,
    the runs that had finished are read back as results, the others continue)."""

    def __call__(self, jobs: list[Job]) -> Outcome:
        from pgexp.run import run_batch

        try:
            return run_batch(jobs)
        except ConfigError as err:
            return Refused(f"pgexp: error: {err}")

    def checkpoint(self, jobs: list[Job]) -> Any:
        """What submitit runs when it requeues the job (the runs have checkpointed by then)."""
        import submitit

        return submitit.helpers.DelayedSubmission(TrainBatch(), jobs)


def submit(batches: list[list[Job]], conf: SubmititConf, name: str) -> list[Outcome | Exception]:
    """Run each batch as one job of a submitit array and wait for all of them; a batch job that
    failed gives its exception (submitit's, with the traceback)."""
    import submitit

    executor = submitit.AutoExecutor(
        folder=conf.folder,
        cluster=conf.cluster.value,
        slurm_max_num_timeout=conf.max_num_timeout,
        local_max_num_timeout=conf.max_num_timeout,
    )
    executor.update_parameters(
        name=name,
        timeout_min=conf.timeout_min,
        cpus_per_task=conf.cpus_per_task,
        gpus_per_node=conf.gpus_per_node,
        mem_gb=conf.mem_gb,
        slurm_partition=conf.partition,
        slurm_array_parallelism=conf.array_parallelism,
        slurm_signal_delay_s=conf.signal_delay_s,
        slurm_additional_parameters=dict(conf.additional_parameters),
    )
    jobs = executor.map_array(TrainBatch(), batches)
    outcomes: list[Outcome | Exception] = []
    for job in jobs:
        try:
            outcomes.append(job.result())
        except Exception as err:  # the batch job failed: every job of it did
            outcomes.append(err)
    return outcomes
