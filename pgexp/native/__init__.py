"""Small C kernels for the loops torch runs one small operation at a time, built at first use.

Each kernel is one C file of this package, compiled with the machine's C compiler (``$CC``,
else ``cc``) into pgexp's cache directory (:func:`cache_dir`: ``~/.cache/pgexp`` by default)
under a name that carries a hash of its source, compiler and flags, and loaded with ctypes; a
later process loads what an earlier one built. Each computes exactly what the torch code it
replaces computes, to the last bit (the tests compare both), so where it cannot be built (no
compiler, no writable cache) pgexp says so once in a warning and runs the torch code, with the
same results.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import tempfile
import warnings
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from pgexp.envs.finite_mdp import FiniteMDP

FLAGS = ("-O3", "-std=c99", "-shared", "-fPIC", "-ffp-contract=off")
"""No contraction of a*b + c into one rounding: the kernels round as the torch code does."""


def cache_dir() -> Path:
    """Where built kernels are kept: ``$PGEXP_CACHE_DIR``, else ``$XDG_CACHE_HOME/pgexp`` (by
    default ``~/.cache/pgexp``), else, where that cannot be written, a directory of this user
    under the system's temporary directory."""
    configured = os.environ.get("PGEXP_CACHE_DIR")
    if configured:
        return Path(configured)
    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "pgexp"
    try:
        home.mkdir(parents=True, exist_ok=True)
        if os.access(home, os.W_OK):
            return home
    except OSError:
        pass
    user = os.getuid() if hasattr(os, "getuid") else "user"
    return Path(tempfile.gettempdir()) / f"pgexp-{user}"


@cache
def library(name: str) -> ctypes.CDLL | None:
    """The kernel ``<name>.c`` of this package, built if no process has built it yet; None
    (after one warning) where it cannot be built or loaded."""
    source = Path(__file__).with_name(f"{name}.c")
    compiler = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if compiler is None:
        _unavailable(name, "no C compiler (set CC or install cc)")
        return None
    recipe = "\0".join([source.read_text(), compiler, *FLAGS, platform.machine()])
    target = cache_dir() / f"{name}-{hashlib.sha256(recipe.encode()).hexdigest()[:16]}.so"
    try:
        if not target.exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
            built = subprocess.run(
                [*shlex.split(compiler), *FLAGS, "-o", str(partial), str(source)],
                capture_output=True,
                text=True,
                check=False,
            )
            if built.returncode != 0:
                partial.unlink(missing_ok=True)
                first = (built.stderr.strip().splitlines() or ["(no message)"])[0]
                _unavailable(name, f"{compiler} failed: {first}")
                return None
            os.replace(partial, target)  # atomic: concurrent builders leave one whole file
        return ctypes.CDLL(str(target))
    except OSError as err:
        _unavailable(name, str(err))
        return None


def _unavailable(name: str, why: str) -> None:
    warnings.warn(
        f"pgexp: the C kernel {name} is not available ({why}); the torch code runs instead, "
        "with the same results, slower",
        RuntimeWarning,
        stacklevel=3,
    )


def _pointer(x: torch.Tensor) -> ctypes.c_void_p:
    assert x.device.type == "cpu" and x.is_contiguous()
    return ctypes.c_void_p(x.data_ptr())


def tabular_rollout(
    keys: torch.Tensor,
    first: int,
    table: torch.Tensor,
    mdp: FiniteMDP,
    state_start: torch.Tensor,
    s0: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None:
    """The states, actions (int64) and rewards (float64), each [R, n, T], of trajectories
    ``first .. first + n − 1`` of each run of ``mdp``, what ``pgexp.rollout.Sampler`` draws
    step by step; None where the kernel is not available. ``keys`` [R, 2] int64, ``table``
    [R, E] float64 (``FiniteMDP.step_table``), ``state_start`` [S + 1] int64 (each state's
    first entry), initial states ``s0`` [R, n] int64; all on the CPU."""
    lib = library("tabular_rollout")
    if lib is None:
        return None
    R, n = s0.shape
    inputs = [
        x.to(dtype).contiguous()
        for x, dtype in (
            (keys, torch.int64), (table, torch.float64), (state_start, torch.int64),
            (mdp.entry_next, torch.int64), (mdp.entry_action, torch.int64),
            (mdp.entry_reward, torch.float64), (s0, torch.int64),
        )
    ]  # fmt: skip
    states, actions = (torch.empty((R, n, mdp.horizon), dtype=torch.int64) for _ in range(2))
    rewards = torch.empty((R, n, mdp.horizon), dtype=torch.float64)
    lib.tabular_rollout(
        ctypes.c_int64(R), ctypes.c_int64(n), ctypes.c_int64(mdp.horizon),
        ctypes.c_int64(table.shape[1]), _pointer(inputs[0]), ctypes.c_int64(first),
        *(_pointer(x) for x in (*inputs[1:], states, actions, rewards)),
    )  # fmt: skip
    return states, actions, rewards
