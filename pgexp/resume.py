"""How a job starts in its run directory: afresh, from its checkpoint, or not at all.

- nothing there (or only Hydra's files): afresh;
- an unfinished run (interrupted, killed or crashed) of the same config: from its checkpoint,
  whether or not ``train.resume=true`` was given (a requeued cluster job cannot add it);
- a finished run (``ok`` or ``diverged``), or an unfinished run of another config: refused, with
  ``train.overwrite=true`` as the way to replace it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pgexp.checkpoint import CHECKPOINT, Checkpoint, fingerprint, load, restore_hydra_files
from pgexp.errors import ConfigError
from pgexp.job import Job
from pgexp.records import Status

FINISHED = (Status.ok, Status.diverged)
RUN_FILES = ("metrics.jsonl", "summary.json", CHECKPOINT)


def previous_status(run_dir: Path) -> Status | None:
    """The status in ``summary.json``, or None when there is no readable one."""
    try:
        return Status(json.loads((run_dir / "summary.json").read_text())["status"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def refuse(run_dir: Path, problem: str, checkpoint: Checkpoint | None) -> ConfigError:
    """The error for a run directory pgexp will not start in; Hydra's rewritten ``.hydra/``
    files are put back first."""
    if checkpoint is not None:
        restore_hydra_files(run_dir, checkpoint.hydra_files)
    return ConfigError(
        f"run directory {run_dir}",
        f"{problem}: pgexp never replaces a run silently. Choose another hydra.run.dir (or "
        "hydra.sweep.dir), or add train.overwrite=true to replace it",
    )


def claim(job: Job) -> Checkpoint | None:
    """The checkpoint the job continues from, or None to start afresh (after clearing what an
    overwritten run left). Raises :class:`ConfigError` when the directory is not the job's to
    use, before anything in it is changed."""
    run_dir, train = job.run_dir, job.cfg.train
    if train.overwrite:
        for name in RUN_FILES:
            (run_dir / name).unlink(missing_ok=True)
        return None
    status = previous_status(run_dir)
    checkpoint = None
    if (run_dir / CHECKPOINT).is_file():
        try:
            checkpoint = load(run_dir / CHECKPOINT)
        except ValueError as err:
            raise refuse(run_dir, f"holds an unreadable checkpoint ({err})", None) from None
    if status in FINISHED:
        raise refuse(run_dir, f"holds a finished run (status {status.value})", checkpoint)
    if checkpoint is None:
        if any((run_dir / name).exists() for name in RUN_FILES):
            raise refuse(run_dir, "holds a run without a checkpoint to continue from", None)
        if train.resume:
            raise ConfigError("train.resume", f"is true but {run_dir} holds no run to continue")
        return None
    if checkpoint.fingerprint != fingerprint(job.cfg):
        raise refuse(run_dir, "holds an unfinished run of another config", checkpoint)
    return checkpoint


def keep_records(path: Path, iterations: int) -> None:
    """Cut ``metrics.jsonl`` back to its first ``iterations`` records (what the checkpoint
    holds), atomically; a line cut short by a kill goes too."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            if json.loads(line)["iter"] <= iterations:
                kept.append(line)
        except (ValueError, KeyError, TypeError):
            break
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")
    os.replace(tmp, path)
