"""One run per run directory at a time: an OS lock held while a run is claimed and trained.

``fcntl.flock`` on ``<run dir>/.pgexp.lock``: the operating system drops it when its holder
exits, however it exits (a ``kill -9`` included), so a stale lock never blocks a resume. A lock
belongs to an open file, so two jobs of one batch that name the same directory exclude each
other as two processes do. The file holds the holder's process id, which the refusal names; the
holder removes it when it lets go.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from pgexp.errors import ConfigError

LOCK = ".pgexp.lock"


class RunDirLock:
    """The lock of one run directory, taken by :meth:`acquire`, let go by :meth:`release`."""

    def __init__(self, run_dir: Path) -> None:
        self.path = run_dir / LOCK
        self.fd: int | None = None
        self.created = False
        """Whether :meth:`acquire` made the directory (removed again if left empty)."""

    def acquire(self) -> None:
        """Take the lock, or raise :class:`ConfigError` naming the process that holds it."""
        self.created = not self.path.parent.exists()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
                os.close(fd)
                raise ConfigError(
                    f"run directory {self.path.parent}",
                    f"is in use by another pgexp run (process {holder}"
                    f"{', this one' if holder == str(os.getpid()) else ''}): two runs never "
                    "share a directory; wait for it, or choose another hydra.run.dir (in a "
                    "sweep, a hydra.sweep.subdir that tells the jobs apart)",
                ) from None
            if self._still_there(fd):  # not removed by a holder letting go meanwhile
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self.fd = fd

    def _still_there(self, fd: int) -> bool:
        try:
            return os.stat(self.path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            return False

    def release(self) -> None:
        """Remove the lock file and let go (nothing when not held); a directory the lock made
        goes too if nothing else was put in it."""
        if self.fd is None:
            return
        self.path.unlink(missing_ok=True)
        os.close(self.fd)  # closing lets go of the lock
        self.fd = None
        if self.created:
            with contextlib.suppress(OSError):  # not empty: a run is there
                self.path.parent.rmdir()
