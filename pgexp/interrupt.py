"""SIGINT (Ctrl-C), SIGTERM (what SLURM sends before pre-emption) and SIGUSR2 (what submitit asks
SLURM to send before a job's time limit) as one exception, raised where a run can stop cleanly."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType, TracebackType

PASSED_ON = signal.SIGUSR2
"""The warning a scheduler sends before a time limit. After the runs have stopped cleanly it goes
on to the handler that was installed before the guard's, if that is a Python function: under
submitit that handler resubmits the job and exits, and the requeued job resumes the runs."""
SIGNALS = (signal.SIGINT, signal.SIGTERM, PASSED_ON)


class Interrupted(KeyboardInterrupt):
    """A run was asked to stop by ``signum``."""

    def __init__(self, signum: int) -> None:
        self.signum = signum
        super().__init__(signal.Signals(signum).name)

    def __reduce__(self) -> tuple[type[Interrupted], tuple[int]]:
        return Interrupted, (self.signum,)  # from a worker process back to the launcher

    @property
    def exit_code(self) -> int:
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signum


class SignalGuard:
    """While entered, SIGINT, SIGTERM and SIGUSR2 raise :class:`Interrupted` at once, except
    inside :meth:`critical`, which holds them until it ends (so an update, a metrics line or a
    checkpoint is never left half done). On leaving, a SIGUSR2 that stopped the block is passed
    on (see :data:`PASSED_ON`). Outside the main thread it does nothing (signals are delivered to
    the main thread only). :meth:`hold` and :meth:`release` hold them across code that is not
    one block (from an update inside a function to the records its caller writes)."""

    def __init__(self) -> None:
        self.depth = 0
        self.holding = False
        self.pending: int | None = None
        self.raised: int | None = None
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SignalGuard:
        if threading.current_thread() is threading.main_thread():
            for signum in SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        previous = dict(self._previous)
        for signum, handler in previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()
        handler = previous.get(PASSED_ON)
        if self.raised == PASSED_ON and callable(handler):
            handler(PASSED_ON, None)  # submitit's: resubmit this job, then exit

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.depth:
            self.pending = self.pending or signum
            return
        self.raised = signum
        raise Interrupted(signum)

    @contextmanager
    def critical(self) -> Iterator[None]:
        """Hold the signals until the block ends, then raise the first one held."""
        self.depth += 1
        try:
            yield
        finally:
            self._leave()

    def hold(self) -> None:
        """Hold the signals from now until :meth:`release` (a second hold adds nothing)."""
        if not self.holding:
            self.holding = True
            self.depth += 1

    def release(self) -> None:
        """End :meth:`hold` (if held) and raise the first signal held, if no block still holds."""
        if self.holding:
            self.holding = False
            self._leave()

    def _leave(self) -> None:
        self.depth -= 1
        if self.depth == 0 and self.pending is not None:
            signum, self.pending = self.pending, None
            self.raised = signum
            raise Interrupted(signum)
