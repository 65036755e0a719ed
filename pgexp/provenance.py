"""Where a run came from: versions, git state, device and the command line that repeats it."""

from __future__ import annotations

import shlex
import subprocess
import sys
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("pgexp", "torch", "gymnasium", "hydra-core", "omegaconf", "wandb", "numpy")


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def git_state(path: Path) -> dict[str, Any]:
    """``{"commit": sha, "dirty": bool}`` of the repository holding ``path``, or Nones."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(path), *args], capture_output=True, text=True, check=True, timeout=10
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return {"commit": None, "dirty": None}


@cache
def _environment() -> dict[str, Any]:
    """What every run of this process shares: versions and the git state (looked up once)."""
    return {
        "versions": {p: _version(p) for p in PACKAGES},
        "python": sys.version.split()[0],
        "torch_version": torch.__version__,
        "git": git_state(Path(__file__).resolve().parent),
    }


def provenance(device: str, overrides: list[str]) -> dict[str, Any]:
    """Versions of the stack, git state of the pgexp source, device, and the reproducing command."""
    env = _environment()
    return {
        **env,
        "versions": dict(env["versions"]),
        "git": dict(env["git"]),
        "device": device,
        "command": shlex.join(["pgexp", *overrides]),
    }
