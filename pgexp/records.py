"""The two records a run writes, as typed schemas shared by the writer, the report and tests.

``metrics.jsonl`` holds one :class:`IterationRecord` per line; ``summary.json`` one
:class:`Summary`. Their JSON keys are the field names; non-finite floats are written as null.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, asdict, dataclass, field, fields
from enum import Enum
from typing import Any, TypeVar


class Status(str, Enum):
    """How a run ended."""

    ok = "ok"
    diverged = "diverged"
    """A non-finite gradient or parameter: the run stopped; that step was logged, not applied."""
    interrupted = "interrupted"
    failed = "failed"


@dataclass(frozen=True)
class IterationRecord:
    """One gradient step k, taken at θ^{k-1} (a line of ``metrics.jsonl``)."""

    iter: int
    """k, from 1."""
    J: float | None
    """Exact J(θ^{k-1}) on a finite MDP with exact metrics, else null."""
    return_mean: float | None
    """Mean return of the trajectories sampled at θ^{k-1} (null for the exact estimator)."""
    grad_norm: float | None
    """‖g‖ of the gradient used for the update (null if not finite)."""
    grad_cos: float | None
    """Cosine between g and the reference gradient, when one was computed at this step."""
    grad_rel_err: float | None
    """‖g − g_ref‖ / ‖g_ref‖ against the reference gradient, when one was computed."""
    env_steps: int
    """Cumulative environment steps sampled (steps taken before termination)."""
    trajectories: int
    """Cumulative trajectories sampled."""
    time_s: float
    """Cumulative wall-clock seconds of estimates and updates (diagnostics excluded)."""
    gap: float | None = None
    """J* − J(θ^{k-1}) on a finite MDP with exact metrics (J* over all policies, time-dependent
    ones included: ``Summary.J_star``), else null."""


@dataclass(frozen=True)
class Summary:
    """The end of a run (``summary.json``): final values, counters, status and provenance."""

    J_final: float | None
    """Exact J(θ^K) on a finite MDP, else null."""
    return_final: float | None
    """Mean return of the evaluation episodes sampled at θ^K (null when there were none)."""
    eval_episodes: int
    """How many episodes ``return_final`` averages."""
    iters: int
    env_steps: int
    trajectories: int
    time_s: float
    status: Status
    grad_reference: str | None
    """What grad_cos / grad_rel_err compare with: ``exact``, ``exact natural`` (the exact natural
    gradient), ``estimate (N=...)``, ``estimate natural (N=...)`` or null."""
    seed: int
    device: str
    command: str
    """The command line that repeats the run."""
    python: str
    torch_version: str
    versions: dict[str, str | None] = field(default_factory=dict)
    """Versions of pgexp and the packages it runs on."""
    git: dict[str, Any] = field(default_factory=dict)
    """``commit`` and ``dirty`` of the pgexp source tree (nulls outside a git checkout)."""
    warnings: list[str] = field(default_factory=list)
    """What went wrong although the run ended: J fell after steps, the gradient froze at 0."""
    J_star: float | None = None
    """On a finite MDP, the best J of any policy, time-dependent ones included (backward
    induction), else null; ``J_star − J_final`` is what the policy class and the ascent left."""


R = TypeVar("R", IterationRecord, Summary)


def _finite(value: Any) -> Any:
    return None if isinstance(value, float) and not math.isfinite(value) else value


def to_json(record: IterationRecord | Summary) -> dict[str, Any]:
    """The record as a JSON-ready dict (enums as strings, non-finite floats as null)."""
    out = {}
    for key, value in asdict(record).items():
        out[key] = value.value if isinstance(value, Enum) else _finite(value)
    return out


def from_json(kind: type[R], data: dict[str, Any]) -> R:
    """A record of ``kind`` from its JSON dict; ValueError naming the keys that are missing."""
    names = [f.name for f in fields(kind)]
    required = [f.name for f in fields(kind) if f.default is f.default_factory is MISSING]
    missing = [k for k in required if k not in data]
    if missing:
        raise ValueError(f"{kind.__name__} without {', '.join(missing)}")
    values = {k: data[k] for k in names if k in data}
    if kind is Summary:
        values["status"] = Status(values["status"])
    return kind(**values)


METRIC_KEYS = tuple(f.name for f in fields(IterationRecord))
"""The keys of every ``metrics.jsonl`` line, in order."""
