"""Experiment tracking: W&B (imported only when used) or nothing.

Local files (:mod:`pgexp.metrics`) are the record of a run; a tracker mirrors them. A failing W&B
call is reported once on stderr and never stops the run or loses local metrics.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Literal, Protocol, cast

from pgexp.config import LoggerConfig, WandbLoggerConfig, choice


class Tracker(Protocol):
    def log(self, record: dict[str, Any], step: int) -> None: ...

    def summary(self, summary: dict[str, Any]) -> None: ...

    def finish(self, exit_code: int = 0) -> None: ...


class NullTracker:
    """Tracks nothing (``logger=none``)."""

    def log(self, record: dict[str, Any], step: int) -> None:
        pass

    def summary(self, summary: dict[str, Any]) -> None:
        pass

    def finish(self, exit_code: int = 0) -> None:
        pass


class WandbTracker:
    """One W&B run per pgexp run, written under ``<run_dir>/wandb``."""

    def __init__(
        self,
        cfg: WandbLoggerConfig,
        run_dir: Path,
        name: str,
        group: str | None,
        config: dict[str, Any],
    ) -> None:
        import wandb

        self._failed = False
        self.run = wandb.init(
            mode=cast(Literal["online", "offline", "disabled"], choice(cfg.mode)),
            project=cfg.project,
            entity=cfg.entity,
            group=cfg.group or group,
            name=name,
            tags=list(cfg.tags),
            config=config,
            dir=str(run_dir),
            reinit="finish_previous",
            settings=wandb.Settings(silent=True, console="off"),
        )

    def _guard(self, what: str, call: Any, *args: Any, **kwargs: Any) -> None:
        if self._failed:
            return
        try:
            call(*args, **kwargs)
        except Exception as err:  # W&B must never take the run down with it
            self._failed = True
            print(f"pgexp: W&B {what} failed, local files continue: {err}", file=sys.stderr)

    def log(self, record: dict[str, Any], step: int) -> None:
        self._guard("log", self.run.log, record, step=step)

    def summary(self, summary: dict[str, Any]) -> None:
        self._guard("summary", self.run.summary.update, summary)

    def finish(self, exit_code: int = 0) -> None:
        self._failed = False
        self._guard("finish", self.run.finish, exit_code=exit_code)


def make_tracker(
    cfg: LoggerConfig, run_dir: Path, name: str, group: str | None, config: dict[str, Any]
) -> Tracker:
    """The tracker a ``logger`` config asks for."""
    if isinstance(cfg, WandbLoggerConfig) and choice(cfg.mode) != "disabled":
        return WandbTracker(cfg, run_dir, name, group, config)
    return NullTracker()
