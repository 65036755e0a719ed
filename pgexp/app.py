"""The ``pgexp`` command: Hydra composes the config, :func:`pgexp.run.run` does the work.

This is the only module that knows Hydra. torch and the rest of pgexp are imported only once a
job runs, so ``pgexp --help`` and config errors answer quickly.
"""

from __future__ import annotations

import contextlib
import math
import os
import signal
import sys
from pathlib import Path
from types import FrameType
from typing import Any, NoReturn, cast

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from omegaconf import DictConfig, MissingMandatoryValue, OmegaConf

from pgexp.config import SCHEMAS, Config
from pgexp.errors import ConfigError
from pgexp.interrupt import SIGNALS, Interrupted
from pgexp.job import HYDRA_FILES, Job
from pgexp.records import Status, Summary
from pgexp.validation import check_known_keys, validate

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
DIVERGED_EXIT = 3
"""Exit status of a single run that ended ``diverged`` (its files are complete)."""


class UserError(CompactHydraException):
    """Printed by Hydra as its message alone: no traceback for a bad config value."""


def register_configs() -> None:
    """Store the root schema ``pgexp_schema`` and the group schemas.

    Group schemas live under ``hydra/pgexp_schema/<group>/<name>`` so that ``pgexp --help`` lists
    only the options a user picks.
    """
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="pgexp_schema", node=Config)
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            cs.store(group=f"hydra/pgexp_schema/{group}", name=name, node=node)


def run_name(cfg: Config, override_dirname: str) -> str:
    """A readable run name: env, estimator, the job's overrides and the seed."""
    parts = [cfg.env.name, cfg.estimator.name, override_dirname, f"seed{cfg.seed}"]
    return "-".join(p for p in parts if p)


def remove_hydra_files(run_dir: Path, job_name: str) -> None:
    """Undo what Hydra wrote for a job that never started: its ``.hydra/`` files and log, then
    the directory and its parent if they are left empty (nothing else is ever removed)."""
    for name in (*HYDRA_FILES, f"{job_name}.log"):
        (run_dir / name).unlink(missing_ok=True)
    cwd = Path.cwd().resolve()
    for folder in (run_dir / ".hydra", run_dir, run_dir.parent):
        if cwd.is_relative_to(folder.resolve()):  # never the working directory or above it
            return
        try:
            folder.rmdir()
        except OSError:  # not empty, or already gone
            return


def report_config_error(err: ConfigError, multirun: bool) -> NoReturn:
    """One line and exit 1 for a single run; in a multirun Hydra's error naming the job's
    overrides, after the other jobs have run."""
    message = f"pgexp: error: {err}"
    if multirun:
        raise UserError(message) from None
    print(message, file=sys.stderr)
    raise SystemExit(1)


def typed_config(dcfg: DictConfig) -> Config:
    """The typed config; :class:`ConfigError` naming a required key left unset (``???``)."""
    try:
        return cast(Config, OmegaConf.to_object(dcfg))
    except MissingMandatoryValue as err:
        key = err.full_key or "a key"
        raise ConfigError(key, f"must be given (e.g. {key}=...)") from None


def job_from_hydra(dcfg: DictConfig) -> Job:
    """The job Hydra has set up (its output directory, name, sweep group and overrides), with
    its config validated; :class:`ConfigError` for a value pgexp cannot run with."""
    hc = HydraConfig.get()
    cfg = typed_config(dcfg)
    resolved = cast(dict[str, Any], OmegaConf.to_container(dcfg, resolve=True, enum_to_str=True))
    sweep = Path(hc.sweep.dir)
    check_known_keys(dcfg, cfg)  # `+train.foo=1` adds a key that to_object would drop
    validate(cfg)  # before torch is imported: a bad value answers in a second
    return Job(
        cfg,
        Path(hc.runtime.output_dir),
        name=run_name(cfg, hc.job.override_dirname),
        group=f"{sweep.parent.name}_{sweep.name}" if hc.mode == RunMode.MULTIRUN else None,
        overrides=list(hc.overrides.task),
        resolved=resolved,
    )


def forget_unstarted(run_dir: Path, job_name: str) -> None:
    """Undo Hydra's files of a job that never ran (a directory with metrics holds a run)."""
    if not (run_dir / "metrics.jsonl").exists():
        remove_hydra_files(run_dir, job_name)


def abandon_job(run_dir: Path, job_name: str, err: ConfigError, multirun: bool) -> NoReturn:
    """A job that cannot run: undo Hydra's files unless the directory holds a run, then
    report."""
    forget_unstarted(run_dir, job_name)
    report_config_error(err, multirun)


SWEEP: list[tuple[Path, Summary]] = []
"""The jobs of this process's multirun that finished, for the closing line."""


def report_outcome(summary: Summary, run_dir: Path) -> None:
    """The line a finished job prints, and one per warning of its summary."""
    print(f"pgexp: {outcome(summary)} -> {run_dir}", file=sys.stderr)
    for warning in summary.warnings:
        print(f"pgexp: warning: {warning} ({run_dir})", file=sys.stderr)
    SWEEP.append((run_dir, summary))


def sweep_closing_line() -> str | None:
    """One line on a multirun's diverged jobs (None when none diverged)."""
    diverged = [str(d) for d, s in SWEEP if s.status is Status.diverged]
    if not diverged:
        return None
    return f"pgexp: {len(diverged)} of {len(SWEEP)} jobs diverged: {', '.join(diverged)}"


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_main(dcfg: DictConfig) -> float:
    """Run one job (a batch of one); return its :func:`objective` for sweepers."""
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    try:
        job = job_from_hydra(dcfg)
        from pgexp.run import run_batch

        summary = run_batch([job])[0]
    except ConfigError as err:
        abandon_job(run_dir, hc.job.name, err, hc.mode == RunMode.MULTIRUN)
    report_outcome(summary, run_dir)
    if summary.status is Status.diverged and hc.mode != RunMode.MULTIRUN:
        raise SystemExit(DIVERGED_EXIT)
    return objective(summary)


def objective(summary: Summary) -> float:
    """What a job returns to Hydra's sweepers (Optuna maximizes it): J_final, or the final
    evaluation return where there is no exact J; NaN (a failed trial) when neither exists."""
    for value in (summary.J_final, summary.return_final):
        if value is not None:
            return value
    return math.nan


def outcome(summary: Summary) -> str:
    """One line on how a run ended, e.g. ``ok, 30 iterations in 0.6 s: J_final=0.7104 ...``."""

    def fmt(value: float | None) -> str:
        return "null" if value is None else f"{value:.4g}"

    return (
        f"{summary.status.value}, {summary.iters} iterations in {summary.time_s:.1f} s: "
        f"J_final={fmt(summary.J_final)} return_final={fmt(summary.return_final)} "
        f"env_steps={summary.env_steps}"
    )


def launcher_workers() -> list[int]:
    """Process ids of this process's joblib (loky) workers, which run a sweep's jobs."""
    me, workers = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            if parent == me and b"popen_loky_posix" in (stat.parent / "cmdline").read_bytes():
                workers.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return workers


def on_stop_signal(signum: int, frame: FrameType | None) -> None:
    """SIGINT, SIGTERM or SIGUSR2 outside a run's own guard: stop now; in a joblib sweep, pass
    it on to the workers, whose interrupted runs write their summaries and report back."""
    workers = launcher_workers()
    if not workers:
        raise Interrupted(signum)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)


def main() -> None:
    """Console-script entry point."""
    if not CONF_DIR.is_dir():
        raise SystemExit(
            f"pgexp: error: config directory {CONF_DIR} not found; install pgexp from its "
            "source tree with `pip install -e .`"
        )
    register_configs()
    # SIGTERM and SIGUSR2 stop pgexp as Ctrl-C does (a run's own guard takes over while it
    # trains), and a joblib sweep's workers are stopped too rather than left running
    for signum in SIGNALS:
        signal.signal(signum, on_stop_signal)
    try:
        hydra_main()
        closing = sweep_closing_line() if len(SWEEP) > 1 else None
        if closing:
            print(closing, file=sys.stderr)
    except KeyboardInterrupt as err:  # every run's summary and checkpoint are written by now
        name, code = (
            ("SIGINT", 130) if not isinstance(err, Interrupted) else (str(err), err.exit_code)
        )
        print(
            f"pgexp: interrupted by {name}: a run that was training stopped after its last "
            "complete iteration, with its checkpoint; the same command continues it",
            file=sys.stderr,
        )
        raise SystemExit(code) from None


if __name__ == "__main__":
    main()
