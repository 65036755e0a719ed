"""pgexp: exact and mini-batch policy-gradient ascent, from the command line (``pgexp``) or from
Python.

From Python: :func:`pgexp.train` runs what ``pgexp OVERRIDES`` runs and returns its metrics and
summary; :class:`pgexp.TabularMDP` is a finite MDP built from arrays (``env=`` of ``train``).
Lower level: :class:`pgexp.ExactGradient` (exact J and ∇J of a table policy on a finite MDP),
:func:`pgexp.dp_objective` (J alone), :class:`pgexp.MinibatchGradient` with a
:class:`pgexp.Sampler` (one mini-batch estimate), the policies :class:`pgexp.TabularSoftmax` and
:class:`pgexp.LinearSoftmax`, :func:`pgexp.load_mdp_file` and :func:`pgexp.seed_keys` (the random
keys of runs, for a sampled estimate). They are imported on first use,
so that ``import pgexp`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "train": "pgexp.api",
    "Result": "pgexp.api",
    "TabularMDP": "pgexp.envs.tabular",
    "load_mdp_file": "pgexp.envs.tabular",
    "ExactGradient": "pgexp.estimators",
    "MinibatchGradient": "pgexp.estimators",
    "dp_objective": "pgexp.estimators",
    "Sampler": "pgexp.rollout",
    "TabularSoftmax": "pgexp.policies",
    "LinearSoftmax": "pgexp.policies",
    "seed_keys": "pgexp.counter_rng",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'pgexp' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
