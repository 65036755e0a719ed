"""The processes of a sweep: a launcher's job processes stop with the sweep, and a job process
whose sweep has gone stops too.

Hydra's joblib launcher runs jobs in loky worker processes, children of the sweep's process;
submitit's local executor runs each job as a controller process (a child of the sweep's) with
the job's task under it. A stop signal to the sweep's process is passed on to them; a sweep's
process killed outright (``kill -9``) passes nothing on, so a job process watches its sweep's
process and stops itself (SIGTERM: the run checkpoints) once it has gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
from pathlib import Path

LOKY = b"popen_loky_posix"
"""In the command line of a joblib (loky) worker."""
SUBMITIT_LOCAL = b"submitit.local._local"
"""In the command line of a submitit local job's controller."""


def parent_of(pid: int) -> int | None:
    """The parent process id of ``pid``, or None when there is no such process (or only its
    exit status is left: a zombie)."""
    try:
        state, parent = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[:2]
    except (OSError, ValueError, IndexError):
        return None
    return None if state == "Z" else int(parent)


def children(marker: bytes) -> list[int]:
    """Process ids of this process's children whose command line holds ``marker``."""
    me, found = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        pid = int(stat.parent.name)
        with contextlib.suppress(OSError):
            if parent_of(pid) == me and marker in (stat.parent / "cmdline").read_bytes():
                found.append(pid)
    return found


def stop_and_wait(pids: list[int], signum: int, timeout_s: float = 300.0) -> None:
    """Send ``signum`` to ``pids`` and wait until they have all ended (or ``timeout_s``)."""
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signum)
    deadline = time.monotonic() + timeout_s
    while any(parent_of(pid) is not None for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.1)


def sweep_process() -> int | None:
    """The sweep's process when this process runs jobs for one: a loky worker's parent, or a
    submitit local task's grandparent; None otherwise."""
    me = os.getpid()
    if LOKY in Path(f"/proc/{me}/cmdline").read_bytes():
        return parent_of(me)
    if "SUBMITIT_LOCAL_JOB_ID" in os.environ:
        controller = parent_of(me)
        return parent_of(controller) if controller is not None else None
    return None


WATCHING: list[int] = []
"""The sweep process this process watches (at most one watcher per process)."""


def stop_when_sweep_ends(poll_s: float = 1.0) -> None:
    """In a job process of a sweep, a daemon thread that sends this process SIGTERM once the
    sweep's process has gone, and again every few seconds: the first stops the run (it
    checkpoints), a later one ends the process, idle by then; nothing elsewhere."""
    sweep = sweep_process()
    if sweep is None or WATCHING:
        return
    WATCHING.append(sweep)
    me = os.getpid()

    def watch() -> None:
        while parent_of(sweep) is not None and sweep in ancestors(me):
            time.sleep(poll_s)
        while True:  # the first stops the run (it checkpoints), a later one the idle process
            os.kill(me, signal.SIGTERM)
            time.sleep(5 * poll_s)

    threading.Thread(target=watch, name="pgexp-sweep-watch", daemon=True).start()


def ancestors(pid: int, levels: int = 2) -> list[int]:
    """The parent and grandparent (``levels`` of them) of ``pid``."""
    found = []
    for _ in range(levels):
        parent = parent_of(pid)
        if parent is None:
            break
        found.append(pid := parent)
    return found
