"""``checkpoint.pt``: what a run needs to continue where it stopped, and what identifies it.

A checkpoint holds one run's parameters θᵏ, its optimizer state, the iteration k and the
cumulative counters; random numbers need nothing more, since they are a function of the seed and
k. It also holds the run's fingerprint (its config, less what cannot change a number) and the
text of its ``.hydra/`` files, which Hydra rewrites before pgexp can look at the directory: a
start that is refused puts them back. Written through a temporary file and a rename, so a kill
during the write leaves the previous checkpoint whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from pgexp.config import FEATURE_KINDS, Config, FileEnvConfig, LinearSoftmaxConfig, identity
from pgexp.files import write_atomic
from pgexp.job import HYDRA_FILES

CHECKPOINT = "checkpoint.pt"


def fingerprint(cfg: Config) -> str:
    """What a run's numbers depend on: its config's :func:`~pgexp.config.identity`, then one
    line per input file (``env.path``, a ``policy.features`` file) with the SHA-256 of its
    content, so that an edited file makes another run."""
    files = (f"\n{key} sha256={digest}" for key, digest in input_files(cfg))
    return "".join([identity(cfg), *files])


def input_files(cfg: Config) -> list[tuple[str, str]]:
    """(key, SHA-256 of the file's bytes, or ``unreadable``) for each file the config reads."""
    files = []
    if isinstance(cfg.env, FileEnvConfig):
        files.append(("env.path", cfg.env.path))
    policy = cfg.policy
    if isinstance(policy, LinearSoftmaxConfig) and policy.features not in FEATURE_KINDS:
        files.append(("policy.features", policy.features))
    out = []
    for key, path in files:
        try:
            out.append((key, hashlib.sha256(Path(path).read_bytes()).hexdigest()))
        except OSError:
            out.append((key, "unreadable"))
    return out


def what_changed(old: str, new: str) -> str:
    """What differs between two fingerprints, in words."""
    old_config, *old_files = old.split("\n")
    new_config, *new_files = new.split("\n")
    if old_config == new_config:
        keys = [n.split(" ")[0] for o, n in zip(old_files, new_files, strict=False) if o != n]
        if keys and len(old_files) == len(new_files):
            return f"the content of {' and '.join(keys)} changed since the run started"
    return "its config differs"


@dataclass
class Checkpoint:
    """One run at the end of iteration ``iteration`` (0: θ⁰, before any step)."""

    fingerprint: str
    iteration: int
    env_steps: int
    trajectories: int
    time_s: float
    params: dict[str, torch.Tensor]
    """The run's parameters by name, without the run dimension, on the CPU."""
    optimizer: dict[str, Any]
    """The run's optimizer state (:meth:`pgexp.optim.Ascent.run_state`)."""
    hydra_files: dict[str, str] = field(default_factory=dict)
    """The run's ``.hydra/`` files as they were when it started."""


def save(path: Path, checkpoint: Checkpoint) -> None:
    """Write ``checkpoint`` to ``path`` atomically."""
    buffer = io.BytesIO()
    torch.save(dataclasses.asdict(checkpoint), buffer)
    write_atomic(path, buffer.getvalue())


def load(path: Path) -> Checkpoint:
    """The checkpoint in ``path``; ValueError if the file is not one."""
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
        return Checkpoint(**data)
    except Exception as err:  # a truncated or foreign file
        raise ValueError(f"{path} is not a pgexp checkpoint: {err}") from None


def read_hydra_files(run_dir: Path) -> dict[str, str]:
    """The text of the run directory's ``.hydra/`` files (those that exist)."""
    return {
        name: (run_dir / name).read_text() for name in HYDRA_FILES if (run_dir / name).is_file()
    }


def restore_hydra_files(run_dir: Path, files: dict[str, str]) -> None:
    """Put back ``.hydra/`` files saved with :func:`read_hydra_files`."""
    for name, text in files.items():
        (run_dir / name).write_text(text)
