"""pgexp from Python (a notebook): one run, composed and run as the command line runs it.

    import pgexp
    result = pgexp.train(["estimator=minibatch", "estimator.N=100", "train.iters=30"])
    result.metrics[-1]["J"], result.summary["J_final"]

``env=`` takes a :class:`pgexp.TabularMDP` built from arrays: it is written to the run directory
as ``mdp.npz`` and run as ``env=file env.path=<that file>``, so a notebook run and a command-line
run of the same arrays are the same run.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
from omegaconf import DictConfig, OmegaConf

from pgexp.envs.tabular import FIELDS, TabularMDP
from pgexp.errors import ConfigError


@dataclass
class Result:
    """What a run left in its directory."""

    run_dir: Path
    metrics: list[dict[str, Any]]
    """One dict per iteration: the lines of ``metrics.jsonl``."""
    summary: dict[str, Any]
    """``summary.json``."""


def train(
    overrides: Sequence[str] = (),
    env: TabularMDP | None = None,
    run_dir: str | Path | None = None,
) -> Result:
    """Run ``pgexp OVERRIDES`` in this process and return its metrics and summary.

    Args:
        overrides: command-line overrides, e.g. ``["estimator=minibatch", "train.lr=3"]``.
        env: a finite MDP of one's own; its ``horizon`` and ``discount`` become ``env.horizon``
            and ``env.discount``.
        run_dir: where the run's files go (default: Hydra's ``outputs/<date>/<time>``).
    Raises:
        pgexp.errors.ConfigError: for a value pgexp cannot run with, or a run directory that
            is not this run's, before any file is written (``mdp.npz`` for ``env=`` is written
            first, into a directory that holds no other MDP).
    """
    from pgexp.hydra_jobs import compose_config, run_name, typed_config
    from pgexp.metrics import read_metrics
    from pgexp.records import to_json
    from pgexp.run import run
    from pgexp.validation import check_known_keys

    if isinstance(overrides, str):
        raise ConfigError(
            "overrides", f"must be a list of overrides such as [{overrides!r}] (got a string)"
        )
    overrides = list(overrides)
    directory = Path(run_dir) if run_dir is not None else None
    if directory is not None and directory.exists() and not directory.is_dir():
        raise ConfigError("run_dir", f"{directory} is a file, not a directory")
    if env is not None:  # the arrays go into the run directory, which must be known first
        directory = directory or Path(str(compose_config(overrides)[1].run.dir))
        path = _store_mdp(env, directory, "train.overwrite=true" in overrides)
        overrides += ["env=file", f"env.path={path.resolve()}", f"env.horizon={env.horizon}",
                      f"env.discount={env.discount}"]  # fmt: skip
    dcfg, hydra_node = compose_config(overrides)
    directory = directory or Path(str(hydra_node.run.dir))
    cfg = typed_config(dcfg)
    check_known_keys(dcfg, cfg)
    resolved = cast(dict[str, Any], OmegaConf.to_container(dcfg, resolve=True, enum_to_str=True))
    _write_hydra_files(directory, dcfg, overrides)
    name = run_name(cfg, ",".join(overrides))
    summary = run(cfg, directory, name=name, overrides=overrides, resolved=resolved)
    records = read_metrics(directory / "metrics.jsonl")
    return Result(directory, [to_json(r) for r in records], to_json(summary))


def _store_mdp(env: TabularMDP, directory: Path, overwrite: bool) -> Path:
    """``directory/mdp.npz`` holding ``env``'s arrays: written when absent, kept when it holds
    these very arrays (the same run again), refused in one line when it holds another MDP,
    before anything is written (unless ``overwrite``)."""
    buffer = io.BytesIO()
    np.savez(buffer, **_arrays(env))  # type: ignore[arg-type]
    path = directory / "mdp.npz"
    if path.exists() and not overwrite:
        if path.read_bytes() == buffer.getvalue():
            return path
        raise ConfigError(
            f"run directory {directory}",
            "holds a run whose mdp.npz holds another MDP: pgexp never replaces a run silently. "
            "Choose another run_dir, or add train.overwrite=true to replace it",
        )
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue())
    return path


def _arrays(env: TabularMDP) -> dict[str, np.ndarray]:
    """The MDP's fields that are set, as arrays (checked first, so a bad one fails here)."""
    env.to_finite_mdp()
    values = {name: getattr(env, name) for name in FIELDS}
    return {name: np.asarray(value) for name, value in values.items() if value is not None}


def _write_hydra_files(directory: Path, dcfg: DictConfig, overrides: list[str]) -> None:
    """``.hydra/config.yaml`` and ``overrides.yaml``, as a command-line run has them."""
    hydra_dir = directory / ".hydra"
    hydra_dir.mkdir(parents=True, exist_ok=True)
    (hydra_dir / "config.yaml").write_text(OmegaConf.to_yaml(dcfg), encoding="utf-8")
    (hydra_dir / "overrides.yaml").write_text(OmegaConf.to_yaml(overrides), encoding="utf-8")
