"""Experiment tracking: W&B (imported only when used) or nothing.

Local files (:mod:`pgexp.metrics`) are the record of a run; a tracker mirrors them. Every W&B
call, ``wandb.init`` included, is guarded: a failure is reported once on stderr and the run goes
on with its local files. After an offline run ends, its run file is checked to hold what was
logged (:mod:`pgexp.wandb_offline`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from pgexp.config import LoggerConfig, WandbLoggerConfig, WandbMode
from pgexp.errors import warn

JOB_TYPE = "train"
OFFLINE_WAIT_S = 10.0
"""How long to wait for wandb-core to write an offline run's records after ``finish()``."""


ONLINE_DOWN: list[str] = []
"""Why online W&B failed to start in this process, if it did."""


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


def first_line(err: BaseException) -> str:
    """The first line of an exception's message (wandb's run on for pages), or its type."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


class WandbTracker:
    """One W&B run per pgexp run, written under ``<run_dir>/wandb``; ``run`` is the started
    ``wandb`` run. An online run that fails mid-run is replaced by an offline one (``reopen``),
    into which everything logged so far is logged again."""

    def __init__(
        self, run: Any, run_dir: Path, offline: bool, reopen: Callable[[], Any] | None = None
    ) -> None:
        self.run, self.run_dir, self.offline, self.reopen = run, run_dir, offline, reopen
        self.history: list[tuple[dict[str, Any], int]] = []
        self.logged = 0
        self._failed = False

    def _guard(self, what: str, call: Callable[..., Any], *args: Any, **kwargs: Any) -> bool:
        if self._failed:
            return False
        try:
            call(*args, **kwargs)
        except Exception as err:  # W&B must never take the run down with it
            self._failed = True
            if self.reopen is not None and self.fall_back_offline(what, err):
                return True
            warn(f"W&B {what} failed, local files continue: {first_line(err)}")
            return False
        return True

    def fall_back_offline(self, what: str, err: Exception) -> bool:
        """Continue in an offline W&B run with the history so far; False if that fails too."""
        reopen, self.reopen = self.reopen, None
        assert reopen is not None
        try:
            run = reopen()
            for record, step in self.history:
                run.log(record, step=step)
        except Exception as again:
            warn(f"W&B {what} failed ({first_line(err)}) and so did an offline W&B run "
                 f"({first_line(again)}); local files continue")  # fmt: skip
            return False
        self.run, self.offline, self._failed = run, True, False
        self.logged = len(self.history)
        warn(f"W&B {what} failed ({first_line(err)}): logging to an offline W&B run under "
             f"{self.run_dir / 'wandb'} instead (`wandb sync` uploads it later); local files "
             "continue")  # fmt: skip
        return True

    def log(self, record: dict[str, Any], step: int) -> None:
        self.history.append((record, step))
        if self._guard("log", self.run.log, record, step=step):
            self.logged = len(self.history)

    def summary(self, summary: dict[str, Any]) -> None:
        self._guard("summary", self.run.summary.update, summary)

    def finish(self, exit_code: int = 0) -> None:
        failed_before = self._failed
        self._failed = False
        self.reopen = None  # too late to switch: finish what there is
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
    """``wandb.init`` for one pgexp run, waiting at most ``logger.init_timeout_s``. An online
    run that cannot start falls back to an offline one (one warning), and so do the later
    online runs of this process at once (the jobs of a batch, a sweep's jobs run in this
    process): a sweep waits ``init_timeout_s`` once, not once per job. If no run starts, a
    warning and a :class:`NullTracker`."""

    def init(mode: WandbMode) -> Any:
        import wandb

        return wandb.init(
            mode=cast(Literal["online", "offline", "disabled"], mode.value),
            project=cfg.project,
            entity=cfg.entity,
            group=cfg.group or group,
            job_type=JOB_TYPE,
            name=name,
            tags=list(cfg.tags),
            config=config,
            dir=str(run_dir),
            reinit="create_new",  # several runs at once: the jobs of a batch
            settings=wandb.Settings(silent=True, console="off", init_timeout=cfg.init_timeout_s),
        )

    def offline() -> Any:
        return init(WandbMode.offline)

    online = cfg.mode is WandbMode.online
    try:
        if online and ONLINE_DOWN:
            raise RuntimeError(f"online W&B did not start for an earlier run: {ONLINE_DOWN[0]}")
        run = init(cfg.mode)
    except Exception as err:
        if not online:
            warn(f"W&B init failed, running without W&B (local files continue): {first_line(err)}")
            return NullTracker()
        ONLINE_DOWN.append(first_line(err))
        tracker = WandbTracker(None, run_dir, offline=False, reopen=offline)
        return tracker if tracker.fall_back_offline("init", err) else NullTracker()
    return WandbTracker(run, run_dir, offline=not online, reopen=offline if online else None)


def make_tracker(
    cfg: LoggerConfig, run_dir: Path, name: str, group: str | None, config: dict[str, Any]
) -> Tracker:
    """The tracker a ``logger`` config asks for."""
    if isinstance(cfg, WandbLoggerConfig) and cfg.mode is not WandbMode.disabled:
        return start_wandb(cfg, run_dir, name, group, config)
    return NullTracker()
