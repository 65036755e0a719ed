"""Experiment tracking: W&B (imported only when used) or nothing.

Local files (:mod:`pgexp.metrics`) are the record of a run; a tracker mirrors them. Every W&B
call, ``wandb.init`` included, is guarded: a failure is reported once on stderr and the run goes
on with its local files. After an offline run ends, its run file is checked to hold what was
logged (:mod:`pgexp.wandb_offline`).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from pgexp.config import LoggerConfig, WandbLoggerConfig, WandbMode

JOB_TYPE = "train"
OFFLINE_WAIT_S = 10.0
"""How long to wait for wandb-core to write an offline run's records after ``finish()``."""


class Tracker(Protocol):
    def log(self, record: dict[str, Any], step: int) -> None: ...

    def summary(self, summary: dict[str, Any]) -> None: ...

    def finish(self, exit_code: int = 0) -> None: ...


class NullTracker:
    """Tracks nothing (``logger=none``, or W&B that failed to start)."""

    def log(self, record: dict[str, Any], step: int) -> None:
        pass

    def summary(self, summary: dict[str, Any]) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        pass


def warn(message: str) -> None:
    print(f"pgexp: warning: {message}", file=sys.stderr)


class WandbTracker:
    """One W&B run per pgexp run, written under ``<run_dir>/wandb``; ``run`` is the started
    ``wandb`` run."""

    def __init__(self, run: Any, run_dir: Path, offline: bool) -> None:
        self.run, self.run_dir, self.offline = run, run_dir, offline
        self.logged = 0
        self._failed = False

    def _guard(self, what: str, call: Any, *args: Any, **kwargs: Any) -> bool:
        if self._failed:
            return False
        try:
            call(*args, **kwargs)
        except Exception as err:  # W&B must never take the run down with it
            self._failed = True
            warn(f"W&B {what} failed, local files continue: {err}")
            return False
        return True

    def log(self, record: dict[str, Any], step: int) -> None:
        if self._guard("log", self.run.log, record, step=step):
            self.logged += 1

    def summary(self, summary: dict[str, Any]) -> None:
        self._guard("summary", self.run.summary.update, summary)

    def finish(self, exit_code: int = 0) -> None:
        failed_before = self._failed
        self._failed = False
        finished = self._guard("finish", self.run.finish, exit_code=exit_code)
        if finished and self.offline and not failed_before:
            self.check_offline_file()

    def check_offline_file(self) -> None:
        """Warn, with the remedy, when the offline run file lacks steps that were logged."""
        from pgexp.wandb_offline import wait_for_history

        path = Path(self.run.settings.sync_file)
        held = wait_for_history(path, self.logged, OFFLINE_WAIT_S)
        if held.holds(self.logged):
            return
        warn(
            f"the offline W&B run {path} holds {held.history} of the {self.logged} steps logged"
            f"{'' if held.has_run else ' and no run record'} (wandb-core had not written them "
            f"{OFFLINE_WAIT_S:g} s after the run finished); `wandb sync` would upload it "
            f"incomplete. {self.run_dir / 'metrics.jsonl'} and summary.json are complete: rerun "
            "with logger.mode=online, or log those files to W&B yourself"
        )


def start_wandb(
    cfg: WandbLoggerConfig, run_dir: Path, name: str, group: str | None, config: dict[str, Any]
) -> Tracker:
    """``wandb.init`` for one pgexp run; on failure a warning and a :class:`NullTracker`."""
    try:
        import wandb

        run = wandb.init(
            mode=cast(Literal["online", "offline", "disabled"], cfg.mode.value),
            project=cfg.project,
            entity=cfg.entity,
            group=cfg.group or group,
            job_type=JOB_TYPE,
            name=name,
            tags=list(cfg.tags),
            config=config,
            dir=str(run_dir),
            reinit="create_new",  # several runs at once: the jobs of a batch
            settings=wandb.Settings(silent=True, console="off"),
        )
    except Exception as err:  # no W&B run: the local files are the record
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        warn(f"W&B init failed, running without W&B (local files continue): {first_line}")
        return NullTracker()
    return WandbTracker(run, run_dir, offline=cfg.mode is WandbMode.offline)


def make_tracker(
    cfg: LoggerConfig, run_dir: Path, name: str, group: str | None, config: dict[str, Any]
) -> Tracker:
    """The tracker a ``logger`` config asks for."""
    if isinstance(cfg, WandbLoggerConfig) and cfg.mode is not WandbMode.disabled:
        return start_wandb(cfg, run_dir, name, group, config)
    return NullTracker()
