"""How a job starts in its run directory: afresh, from its checkpoint, not at all, or not
again.

- nothing there (or only Hydra's files): afresh;
- an unfinished run (interrupted, killed or crashed) of the same config: from its checkpoint,
  whether or not ``train.resume=true`` was given (a requeued cluster job cannot add it), provided
  ``metrics.jsonl`` holds each of its iterations 1..k once (never a resume with a gap);
- a finished run (``ok`` or ``diverged``) of the same config: not again, its summary is the
  job's result (a sweep run again reports its finished jobs and runs the others);
- a finished run of another config, an unfinished run of another config (the config or the
  content of an input file differs), a run without a checkpoint or with damaged records:
  refused, with ``train.overwrite=true`` as the way to replace it.

Every refusal happens before anything in the directory changes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from pgexp.checkpoint import (
    CHECKPOINT,
    Checkpoint,
    fingerprint,
    load,
    restore_hydra_files,
    what_changed,
)
from pgexp.errors import ConfigError
from pgexp.files import write_atomic
from pgexp.job import Job
from pgexp.metrics import compact_iterations, read_records, read_summary
from pgexp.records import Status, Summary, to_json

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


@dataclass
class Finished:
    """A run directory that holds this very run, finished: its summary is the result."""

    summary: Summary


def claim(job: Job) -> Checkpoint | Finished | None:
    """The checkpoint the job continues from, the finished run that is its result, or None to
    start afresh (with ``train.overwrite``, after :func:`clear`). Raises :class:`ConfigError`
    when the directory is not the job's to use; nothing in it is changed but Hydra's rewritten
    ``.hydra/`` files, put back."""
    run_dir, train = job.run_dir, job.cfg.train
    if train.overwrite:
        return None  # the caller clears the directory once every job of its batch may start
    status = previous_status(run_dir)
    checkpoint = None
    if (run_dir / CHECKPOINT).is_file():
        try:
            checkpoint = load(run_dir / CHECKPOINT)
        except ValueError as err:
            raise refuse(run_dir, f"holds an unreadable checkpoint ({err})", None) from None
    if checkpoint is None:
        if any((run_dir / name).exists() for name in RUN_FILES):
            raise refuse(run_dir, "holds a run without a checkpoint to continue from", None)
        if train.resume:
            raise ConfigError("train.resume", f"is true but {run_dir} holds no run to continue")
        return None
    expected = fingerprint(job.cfg)
    if checkpoint.fingerprint != expected:
        kind = "a finished" if status in FINISHED else "an unfinished"
        change = what_changed(checkpoint.fingerprint, expected)
        raise refuse(run_dir, f"holds {kind} run of another config ({change})", checkpoint)
    if status in FINISHED:
        restore_hydra_files(run_dir, checkpoint.hydra_files)
        return Finished(read_summary(run_dir / "summary.json"))
    check_records(run_dir, checkpoint)
    return checkpoint


def clear(run_dir: Path) -> None:
    """Remove what a run left in ``run_dir`` (``train.overwrite=true``)."""
    for name in RUN_FILES:
        (run_dir / name).unlink(missing_ok=True)


def check_records(run_dir: Path, checkpoint: Checkpoint) -> None:
    """Refuse a resume unless ``metrics.jsonl`` holds iterations 1..k of the checkpoint, each
    once and in order (lines after them, and a line cut short, are what a resume drops)."""
    k, path = checkpoint.iteration, run_dir / "metrics.jsonl"
    try:
        records, damage = read_records(path)
    except OSError:
        records, damage = [], "the file is missing or unreadable"
    found = [r.iter for r in records[:k]]
    problem = damage if damage and len(found) < k else None
    if found != list(range(1, k + 1)):
        problem = problem or f"it holds iterations {compact_iterations(found)}"
        raise refuse(
            run_dir,
            f"holds a checkpoint at iteration {k} but its metrics.jsonl does not hold "
            f"iterations 1..{k} ({problem}): pgexp never resumes with a gap",
            checkpoint,
        )


def keep_records(path: Path, iterations: int) -> None:
    """Cut ``metrics.jsonl`` back to its first ``iterations`` records (what the checkpoint
    holds), atomically; a line cut short by a kill goes too."""
    if not path.exists():
        return
    records, _ = read_records(path)
    kept = [r for r in records if r.iter <= iterations]
    write_atomic(path, "".join(f"{json.dumps(to_json(r))}\n" for r in kept))
