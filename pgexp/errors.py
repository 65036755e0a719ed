"""Errors and warnings that reach the user as one line."""

from __future__ import annotations

import sys


class ConfigError(ValueError):
    """A config value that pgexp cannot run with.

    The message names the config key, what it got and what is allowed, e.g.
    ``estimator.N must be an integer >= 1 (got 0)``.
    """

    def __init__(self, key: str, problem: str) -> None:
        self.key = key
        super().__init__(f"{key} {problem}")


def warn(message: str, program: str = "pgexp") -> None:
    """One line on stderr: ``<program>: warning: <message>``."""
    print(f"{program}: warning: {message}", file=sys.stderr)
