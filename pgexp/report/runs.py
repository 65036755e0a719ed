"""Finding and reading the job directories of multiruns, skipping the ones that did not finish."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

import yaml
from omegaconf.errors import OmegaConfBaseException

from pgexp.config import Config, config_from_dict
from pgexp.metrics import missing_iterations, read_records, read_summary
from pgexp.records import IterationRecord, Status, Summary


@dataclass
class Run:
    """One finished job: its directory, typed config, summary and metrics."""

    path: Path
    config: Config
    summary: Summary
    metrics: list[IterationRecord]
    values: dict[str, str] = field(default_factory=dict)
    """Its config flattened to ``key: value`` text (:func:`config_values`)."""

    def __post_init__(self) -> None:
        self.values = self.values or config_values(self.config)


@dataclass
class Collection:
    """The runs that can be reported, the job directories skipped with the reason, and
    warnings about damaged files that were read in part."""

    runs: list[Run] = field(default_factory=list)
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def job_dirs(roots: Iterable[Path]) -> list[Path]:
    """Every directory under ``roots`` that Hydra wrote a job into (it has ``.hydra/``)."""
    found = {p.parent.parent for root in roots for p in root.rglob(".hydra/overrides.yaml")}
    return sorted(found, key=lambda p: [_sort_key(x) for x in p.parts])


NOT_COMPARED = ("seed", "logger", "train.progress", "train.resume", "train.overwrite",
                "train.checkpoint_every")  # fmt: skip
"""Config keys that never make a group: seeds are the replicates a group's means are taken
over; the others only say how a run was started, shown or tracked."""


def config_values(cfg: Config) -> dict[str, str]:
    """The config as ``dotted.key: value`` text, one entry per leaf value; an option's ``name``
    is the group's own entry (``estimator: minibatch``)."""
    out: dict[str, str] = {}

    def walk(node: Any, prefix: str) -> None:
        if dataclasses.is_dataclass(node):
            for f in dataclasses.fields(node):
                key = prefix.rstrip(".") if f.name == "name" else f"{prefix}{f.name}"
                walk(getattr(node, f.name), key if f.name == "name" else f"{key}.")
        elif isinstance(node, dict):
            for k, v in node.items():
                walk(v, f"{prefix}{k}.")
        else:
            value = node.value if isinstance(node, Enum) else node
            out[prefix.rstrip(".")] = str(list(value) if isinstance(value, list) else value)

    walk(cfg, "")
    return out


def read_run(path: Path, warnings: list[str]) -> Run | str:
    """The run in ``path``, or why it cannot be reported; damage read around goes to
    ``warnings``."""
    metrics_file = path / "metrics.jsonl"
    if not (path / "summary.json").is_file():
        if not metrics_file.is_file():
            return "no metrics.jsonl nor summary.json: it failed before its first iteration"
        lines = sum(1 for line in metrics_file.open(encoding="utf-8") if line.strip())
        return f"no summary.json: still running, or killed after {lines} iterations"
    try:
        summary = read_summary(path / "summary.json")
        metrics, damage = read_records(metrics_file)
        config = config_from_dict(yaml.safe_load((path / ".hydra" / "config.yaml").read_text()))
    except (OSError, ValueError, TypeError, yaml.YAMLError, OmegaConfBaseException) as err:
        return f"unreadable: {err}"
    if summary.status is not Status.ok:
        return f"status {summary.status.value!r}"
    if not metrics:
        return "empty metrics.jsonl"
    if damage:
        warnings.append(damage)
    elif gap := missing_iterations(metrics, summary.iters):
        warnings.append(f"{metrics_file}: {gap}")
    return Run(path, config, summary, metrics)


def collect(roots: Iterable[Path]) -> Collection:
    """Read every job under ``roots``; unfinished or broken jobs are listed, not fatal."""
    out = Collection()
    for path in job_dirs(roots):
        run = read_run(path, out.warnings)
        if isinstance(run, Run):
            out.runs.append(run)
        else:
            out.skipped.append((path, run))
    return out


def swept_keys(runs: list[Run]) -> list[str]:
    """Config keys that take two or more values across the runs (a key some runs lack counts
    by the values of those that have it), except :data:`NOT_COMPARED`; in config order."""
    keys = list(dict.fromkeys(k for r in runs for k in r.values))
    compared = [k for k in keys if not k.startswith(NOT_COMPARED)]
    return [k for k in compared if len({r.values[k] for r in runs if k in r.values}) > 1]


def group_runs(runs: list[Run], keys: list[str]) -> dict[tuple[str, ...], list[Run]]:
    """Runs grouped by their values of ``keys`` (missing → ``"-"``), groups in sorted order."""
    groups: dict[tuple[str, ...], list[Run]] = {}
    for run in runs:
        groups.setdefault(tuple(run.values.get(k, "-") for k in keys), []).append(run)
    return dict(sorted(groups.items(), key=lambda kv: [_sort_key(v) for v in kv[0]]))


def _sort_key(value: str) -> tuple[int, float, str]:
    try:
        return (0, float(value), "")
    except ValueError:
        return (1, 0.0, value)
