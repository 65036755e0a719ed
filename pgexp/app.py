"""The ``pgexp`` command: Hydra composes the config, :func:`pgexp.run.run_batch` does the work.

The entry point alone: what turns Hydra's config into pgexp jobs is :mod:`pgexp.hydra_jobs`,
shared with the Python API and the launcher plugins. ``@hydra.main`` is applied when
:func:`main` runs, never at import (it sets Hydra's global version base). torch and the rest of
pgexp are imported only once a job runs, so ``pgexp --help`` and config errors answer quickly.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import sys
from pathlib import Path
from types import FrameType

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from pgexp.errors import ConfigError
from pgexp.hydra_jobs import (
    CONF_DIR,
    STARTED,
    SWEEP,
    abandon_job,
    command_line_error,
    file_error,
    job_from_hydra,
    register_configs,
    report_config_error,
    report_outcome,
    sweep_closing_line,
    sweep_objective,
)
from pgexp.interrupt import SIGNALS, Interrupted
from pgexp.processes import LOKY, SUBMITIT_LOCAL, children, stop_and_wait, stop_when_sweep_ends
from pgexp.records import Status

DIVERGED_EXIT = 3
"""Exit status of a single run that ended ``diverged`` (its files are complete)."""


def continue_command() -> str:
    """The command that continues what was interrupted: this one, in the same run directory
    (or sweep directory), which a default ``outputs/<date>/<time>`` would not be."""
    args = sys.argv[1:]
    if STARTED:
        key, directory = STARTED[-1]
        args = [a for a in args if not a.startswith(f"{key}=")] + [f"{key}={directory}"]
    return shlex.join(["pgexp", *args])


def task(dcfg: DictConfig) -> float:
    """Hydra's task function: run one job (a batch of one); return its objective for sweepers.
    The batched launchers recognise it and train its jobs in batches; any other task function
    they run job by job, as Hydra's basic launcher does."""
    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    stop_when_sweep_ends()  # a job process of a joblib or submitit_local sweep
    try:
        job = job_from_hydra(dcfg)
        from pgexp.run import run_batch

        summary = run_batch([job])[0]
    except ConfigError as err:
        abandon_job(run_dir, hc.job.name, err, hc.mode == RunMode.MULTIRUN)
    except OSError as err:  # a full disk, a read-only directory: what the run has written stays
        report_config_error(file_error(err), hc.mode == RunMode.MULTIRUN)
    report_outcome(summary, run_dir)
    if summary.status is Status.diverged and hc.mode != RunMode.MULTIRUN:
        raise SystemExit(DIVERGED_EXIT)
    return sweep_objective(summary)


def on_stop_signal(signum: int, frame: FrameType | None) -> None:
    """SIGINT, SIGTERM or SIGUSR2 outside a run's own guard: stop now. In a joblib sweep, pass
    it on to the workers, whose interrupted runs write their summaries and report back; in a
    submitit_local sweep, stop the jobs' processes (SIGTERM, which their controllers pass to
    the runs: they checkpoint) and wait for them before stopping."""
    workers = children(LOKY)
    for pid in workers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    if workers:
        return
    stop_and_wait(children(SUBMITIT_LOCAL), signal.SIGTERM)
    raise Interrupted(signum)


def main() -> None:
    """Console-script entry point."""
    if not CONF_DIR.is_dir():
        raise SystemExit(
            f"pgexp: error: config directory {CONF_DIR} not found; install pgexp from its "
            "source tree with `pip install -e .`"
        )
    mistake = command_line_error(sys.argv[1:])
    if mistake:
        raise SystemExit(f"pgexp: error: {mistake}")
    register_configs()
    # SIGTERM and SIGUSR2 stop pgexp as Ctrl-C does (a run's own guard takes over while it
    # trains), and a joblib sweep's workers are stopped too rather than left running
    for signum in SIGNALS:
        signal.signal(signum, on_stop_signal)
    hydra_main = hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
    try:
        hydra_main(task)()
        closing = sweep_closing_line() if len(SWEEP) > 1 else None
        if closing:
            print(closing, file=sys.stderr)
    except KeyboardInterrupt as err:  # every run's summary and checkpoint are written by now
        name, code = (
            ("SIGINT", 130) if not isinstance(err, Interrupted) else (str(err), err.exit_code)
        )
        print(
            f"pgexp: interrupted by {name}: a run that was training stopped after its last "
            f"complete iteration, with its checkpoint; continue it with: {continue_command()}",
            file=sys.stderr,
        )
        raise SystemExit(code) from None


if __name__ == "__main__":
    main()
