"""From a config Hydra composed to pgexp jobs, and back to what Hydra reports: shared by the
``pgexp`` command (:mod:`pgexp.app`), the Python API and the launcher plugins.

Importing this module runs no Hydra code with global effects (no ``@hydra.main``): Hydra's
plugin scan imports the launcher plugins, and through them this module, in every Hydra app.
"""

from __future__ import annotations

import math
import os
import sys
from pathlib import Path
from typing import Any, NoReturn, cast

from hydra.core.hydra_config import HydraConfig
from hydra.errors import CompactHydraException
from hydra.types import RunMode
from hydra.utils import to_absolute_path
from omegaconf import DictConfig, MissingMandatoryValue, OmegaConf, open_dict

from pgexp.config import FEATURE_KINDS, SCHEMAS, Config, FileEnvConfig, LinearSoftmaxConfig
from pgexp.errors import ConfigError, warn
from pgexp.job import HYDRA_FILES, Job
from pgexp.records import Status, Summary
from pgexp.validation import check_known_keys

CONF_DIR = Path(__file__).resolve().parent.parent / "conf"
"""The config tree (next to the package: an editable install)."""


class UserError(CompactHydraException):
    """Printed by Hydra as its message alone: no traceback for a bad config value."""


def register_configs() -> None:
    """Store the root schema ``pgexp_schema``, the group schemas and pgexp's Optuna defaults.

    Group schemas live under ``hydra/pgexp_schema/<group>/<name>`` so that ``pgexp --help`` lists
    only the options a user picks. For ``pgexp`` only (this runs in its process, never at a
    plugin's import), ``hydra/sweeper=optuna`` maximizes what jobs return and records a diverged
    run as a failed trial without ending the search (the plugin minimizes, and stops at the first
    failure): the plugin's own schema with those two values, and its sweeper with a one-line end
    when no trial completed (``hydra_plugins/pgexp_optuna``).
    """
    from hydra.core.config_store import ConfigStore

    cs = ConfigStore.instance()
    cs.store(name="pgexp_schema", node=Config)
    for group, schemas in SCHEMAS.items():
        for name, node in schemas.items():
            cs.store(group=f"hydra/pgexp_schema/{group}", name=name, node=node)
    # after Hydra's plugin scan, which runs every plugin module again (the plugin's own
    # config module would store its defaults over these)
    from hydra.core.plugins import Plugins
    from hydra_plugins.hydra_optuna_sweeper.config import Direction, OptunaSweeperConf

    Plugins.instance()
    maximize = OptunaSweeperConf(
        _target_="hydra_plugins.pgexp_optuna.optuna_sweeper.PgexpOptunaSweeper",
        direction=Direction.maximize,
        max_failure_rate=1.0,
    )
    cs.store(group="hydra/sweeper", name="optuna", node=maximize, provider="pgexp")


def compose_config(overrides: list[str]) -> tuple[DictConfig, DictConfig]:
    """pgexp's config for ``overrides`` and Hydra's own node, as ``pgexp`` composes them (in
    this process, without a Hydra run: for the Python API and ``pgexp-study``). Raises
    :class:`ConfigError` for overrides Hydra refuses."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from hydra.errors import HydraException

    register_configs()
    try:
        if GlobalHydra.instance().is_initialized():
            dcfg = compose("config", overrides=overrides, return_hydra_config=True)
        else:
            with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
                dcfg = compose("config", overrides=overrides, return_hydra_config=True)
    except HydraException as err:
        raise ConfigError("overrides", str(err).splitlines()[0]) from None
    with open_dict(dcfg):
        hydra_node = dcfg.pop("hydra")
    return dcfg, hydra_node


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
    """The typed config, each value checked by its schema; :class:`ConfigError` naming a key
    whose value pgexp cannot run with, or a required key left unset (``???``)."""
    try:
        return cast(Config, OmegaConf.to_object(dcfg))
    except MissingMandatoryValue as err:
        key = err.full_key or "a key"
        raise ConfigError(key, f"must be given (e.g. {key}=...)") from None


GROUPS = ("env", "policy", "estimator", "hardware", "logger")
NAME_MAX = 255
"""The longest file or directory name most file systems accept (bytes)."""


def command_line_error(args: list[str]) -> str | None:
    """A mistake in the command line that Hydra or a launcher would answer with a traceback
    (``env=null``, a directory name too long for the file system, ``hydra.launcher.n_jobs=0``,
    an output directory that cannot be written), as one line; None when there is none."""
    for arg in args:
        key, _, value = arg.partition("=")
        if key.lstrip("+~") in GROUPS and value in ("null", ""):
            return f"{key} must name an option (got {value or 'nothing'}): pgexp --help lists them"
        if key in ("hydra.run.dir", "hydra.sweep.dir", "hydra.sweep.subdir"):
            long = [part for part in Path(value).parts if len(part.encode()) > NAME_MAX]
            if long:
                return (
                    f"{key} has a name of {len(long[0].encode())} bytes, longer than the "
                    f"{NAME_MAX} a file system takes: shorten it"
                )
        if key == "hydra.launcher.n_jobs" and value.strip() == "0":
            return f"{key} must not be 0 (a number of processes, or -1 for one per core)"
    if any(a.startswith("-") and a not in ("-m", "--multirun") for a in args):
        return None  # --help, --cfg and the like write nothing
    dirs = {k: v for k, _, v in (a.partition("=") for a in args) if k in DIR_KEYS}
    for key, value in dirs.items() or [("the working directory", ".")]:
        where = unwritable_folder(Path(value))
        if where is not None:
            return f"{key} cannot be written: {where} is on a read-only file system or not writable"
    return None


DIR_KEYS = ("hydra.run.dir", "hydra.sweep.dir")


def unwritable_folder(path: Path) -> Path | None:
    """The nearest existing folder at or above ``path`` when it cannot be written into (a
    read-only file system, no permission), else None."""
    folder = path.absolute()
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    return None if os.access(folder, os.W_OK) else folder


def with_absolute_paths(cfg: Config) -> Config:
    """``cfg`` with its input files (``env.path``, a ``policy.features`` file) made absolute
    against the directory pgexp was started in (Hydra's ``to_absolute_path``), so that
    ``hydra.job.chdir=true`` reads the same files, whatever the launcher."""
    if isinstance(cfg.env, FileEnvConfig):
        cfg.env.path = to_absolute_path(cfg.env.path)
    policy = cfg.policy
    if isinstance(policy, LinearSoftmaxConfig) and policy.features not in FEATURE_KINDS:
        policy.features = to_absolute_path(policy.features)
    return cfg


def job_from_hydra(dcfg: DictConfig) -> Job:
    """The job Hydra has set up (its output directory, name, sweep group and overrides), with
    its config typed and checked; :class:`ConfigError` for a value pgexp cannot run with."""
    hc = HydraConfig.get()
    multirun = hc.mode == RunMode.MULTIRUN
    directory = ("hydra.sweep.dir", hc.sweep.dir) if multirun else ("hydra.run.dir", hc.run.dir)
    STARTED.append((directory[0], Path(to_absolute_path(str(directory[1])))))
    cfg = with_absolute_paths(typed_config(dcfg))
    resolved = cast(dict[str, Any], OmegaConf.to_container(dcfg, resolve=True, enum_to_str=True))
    sweep = Path(hc.sweep.dir)
    check_known_keys(dcfg, cfg)  # `+train.foo=1` adds a key that to_object would drop
    return Job(
        cfg,
        Path(hc.runtime.output_dir),
        name=run_name(cfg, hc.job.override_dirname),
        group=f"{sweep.parent.name}_{sweep.name}" if hc.mode == RunMode.MULTIRUN else None,
        overrides=list(hc.overrides.task),
        resolved=resolved,
    )


def file_error(err: OSError) -> ConfigError:
    """An operating-system error while a run reads or writes its files (a full disk, a
    read-only directory), as the one-line error of its file."""
    where = err.filename or "a file"
    return ConfigError(f"writing or reading {where}", f"failed: {err.strerror or err}")


def forget_unstarted(run_dir: Path, job_name: str) -> None:
    """Undo Hydra's files of a job that never ran (a directory with metrics holds a run)."""
    if not (run_dir / "metrics.jsonl").exists():
        remove_hydra_files(run_dir, job_name)


def abandon_job(run_dir: Path, job_name: str, err: ConfigError, multirun: bool) -> NoReturn:
    """A job that cannot run: undo Hydra's files unless the directory holds a run, then
    report."""
    forget_unstarted(run_dir, job_name)
    report_config_error(err, multirun)


STARTED: list[tuple[str, Path]] = []
"""The directory key and directory of each run or sweep this process set up (the last one is
what a Ctrl-C interrupts)."""
SWEEP: list[tuple[Path, Summary]] = []
"""The jobs of this process's multirun that finished, for the closing line."""


def report_outcome(summary: Summary, run_dir: Path) -> None:
    """The line a finished job prints, and one per warning of its summary."""
    print(f"pgexp: {outcome(summary)} -> {run_dir}", file=sys.stderr)
    for warning in summary.warnings:
        warn(f"{warning} ({run_dir})")
    SWEEP.append((run_dir, summary))


def sweep_closing_line() -> str | None:
    """One line on a multirun's diverged jobs (None when none diverged)."""
    diverged = [str(d) for d, s in SWEEP if s.status is Status.diverged]
    if not diverged:
        return None
    return f"pgexp: {len(diverged)} of {len(SWEEP)} jobs diverged: {', '.join(diverged)}"


def sweep_objective(summary: Summary) -> float:
    """What a job returns to Hydra's sweeper: :func:`objective`; but a diverged run raises
    :class:`UserError` under the Optuna sweeper, where that makes a failed trial (Optuna refuses
    NaN, and the plugin then stops the search with a traceback)."""
    if summary.status is Status.diverged and "Optuna" in str(HydraConfig.get().sweeper._target_):
        raise UserError("pgexp: the run diverged: a failed trial")
    return objective(summary)


def is_pgexp_task(task_function: Any) -> bool:
    """Whether Hydra's task function is the ``pgexp`` command's (whose jobs the batched
    launchers may train in batches)."""
    return (
        getattr(task_function, "__module__", None) == "pgexp.app"
        and getattr(task_function, "__name__", None) == "task"
    )


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
