"""A job: one run to do, and which jobs can be trained together (no torch import here)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pgexp.config import Config, identity

HYDRA_FILES = (".hydra/config.yaml", ".hydra/hydra.yaml", ".hydra/overrides.yaml")
"""The files Hydra writes into a job's directory before the job runs."""


@dataclass
class Job:
    """One run to do: its config, its directory and how it is named and tracked."""

    cfg: Config
    run_dir: Path
    name: str = "pgexp"
    group: str | None = None
    """The W&B group (the sweep's), or None."""
    overrides: list[str] = field(default_factory=list)
    """The command-line overrides that give this run (for the summary's ``command``)."""
    resolved: dict[str, Any] = field(default_factory=dict)
    """The resolved config, logged to W&B."""


def batch_key(cfg: Config) -> str:
    """Equal for configs that can be trained as one batch: all but ``seed``, ``train.lr`` and
    the logger (each run has its own tracker) must match."""
    train = dataclasses.replace(cfg.train, lr=1.0)
    return identity(dataclasses.replace(cfg, seed=0, train=train), start_keys=True)


@dataclass
class Refused:
    """A batch of jobs refused before anything was written (one line, naming the key)."""

    message: str
