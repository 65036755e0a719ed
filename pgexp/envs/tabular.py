"""Finite MDPs a user writes: arrays in Python (:class:`TabularMDP`) or a YAML, JSON or ``.npz``
file (:func:`load_mdp_file`), checked field by field before anything runs.

Fields: ``P`` [S][A][S] transition probabilities, ``R`` [S][A] the expected reward of taking a in
s, ``mu0`` [S] the initial distribution; optional ``terminal`` (state indices: a transition into
one ends the episode, its mass going to an absorbing zero-reward state, as gymnasium's
terminated transitions do), ``features`` [S][A][d] state-action features for
``policy=linear_softmax policy.features=env``, ``state_names`` and ``action_names`` (checked for
their lengths). A sampled trajectory receives R[s][a] on every step from (s, a).
"""

from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.lib.format as fmt
import torch
import yaml

from pgexp.envs.finite_mdp import ROW_SUM_TOL, FiniteMDP
from pgexp.errors import ConfigError

FIELDS = ("P", "R", "mu0", "terminal", "features", "state_names", "action_names")
REQUIRED = ("P", "R", "mu0")
"""How far a probability row (P[s][a], mu0) may sum from 1."""
SUFFIXES = (".yaml", ".yml", ".json", ".npz")


class MDPFileError(ConfigError):
    """A field of an MDP is malformed; the message names the field and the offending index
    (a :class:`ConfigError` like every refused input; its key is the message's first word)."""

    def __init__(self, message: str) -> None:
        key, _, problem = message.partition(" ")
        super().__init__(key, problem)


@dataclass
class TabularMDP:
    """A finite MDP from arrays (nested lists or numpy arrays); see the module docstring for the
    fields. ``horizon`` and ``discount`` are T and γ, as ``env.horizon`` and ``env.discount``."""

    P: Any
    R: Any
    mu0: Any
    terminal: Sequence[int] = ()
    features: Any = None
    state_names: Sequence[str] | None = None
    action_names: Sequence[str] | None = None
    horizon: int = 100
    discount: float = 1.0
    extra: Mapping[str, Any] = field(default_factory=dict)
    """Fields that are not MDP fields (refused by :meth:`to_finite_mdp`)."""

    def to_finite_mdp(self) -> FiniteMDP:
        """Check every field, then build the :class:`FiniteMDP`; raises :class:`MDPFileError`."""
        horizon = self.horizon
        if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
            raise MDPFileError(f"horizon must be an integer >= 1 (got {horizon!r})")
        if not (math.isfinite(self.discount) and 0 < self.discount <= 1):
            raise MDPFileError(f"discount must be in (0, 1] (got {self.discount})")
        if self.extra:
            name = sorted(self.extra)[0]
            raise MDPFileError(f"unknown field {name!r} (the fields are {', '.join(FIELDS)})")
        P = _array("P", self.P, 3)
        S, A = P.shape[0], P.shape[1]
        _shape("P", P, (S, A, S), "[S][A][S]")
        _probabilities("P", P)
        R = _array("R", self.R, 2)
        _shape("R", R, (S, A), "[S][A]")
        mu0 = _array("mu0", self.mu0, 1)
        _shape("mu0", mu0, (S,), "[S]")
        _probabilities("mu0", mu0[None])
        terminal = _terminal(self.terminal, S, mu0)
        features = None
        if self.features is not None:
            features = _array("features", self.features, 3)
            _shape("features", features, (S, A, features.shape[2]), "[S][A][d]")
        for key, names, n in (("state_names", self.state_names, S),
                              ("action_names", self.action_names, A)):  # fmt: skip
            if names is not None and not _strings(names, n):
                raise MDPFileError(f"{key} must be {n} strings (got {list(names)!r})")
        return _build(P, R, mu0, terminal, features, self.horizon, self.discount)


def _strings(names: Sequence[Any], n: int) -> bool:
    return len(names) == n and all(isinstance(x, str | np.str_) for x in names)


def load_mdp_file(path: str | Path, horizon: int, discount: float = 1.0) -> FiniteMDP:
    """The finite MDP in ``path`` (``.yaml``/``.yml``, ``.json`` or ``.npz``); raises
    :class:`MDPFileError` (or ``OSError``) with one line on what is wrong."""
    path = Path(path)
    if path.suffix not in SUFFIXES:
        raise MDPFileError(f"must end in {', '.join(SUFFIXES)} (got {path.name!r})")
    fields = _read(path)
    missing = [name for name in REQUIRED if name not in fields]
    if missing:
        raise MDPFileError(f"{missing[0]} is missing (the required fields are P, R, mu0)")
    known = {k: v for k, v in fields.items() if k in FIELDS}
    extra = {k: v for k, v in fields.items() if k not in FIELDS}
    mdp = TabularMDP(**known, horizon=horizon, discount=discount, extra=extra)
    return mdp.to_finite_mdp()


def _read(path: Path) -> dict[str, Any]:
    fields: Any
    if path.suffix == ".npz":
        fields = _read_npz(path)
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise MDPFileError(f"is not UTF-8 text ({err.reason} at byte {err.start})") from None
        try:
            fields = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
        except (ValueError, yaml.YAMLError) as err:
            first = str(err).strip().splitlines()[0]
            raise MDPFileError(f"is not valid {path.suffix[1:].upper()}: {first}") from None
    if not isinstance(fields, dict):
        raise MDPFileError(f"must hold a mapping of fields (got {type(fields).__name__})")
    return fields


NPZ_MOST_BYTES = 2**34
"""The largest array an ``.npz`` field may claim (16 GiB); its header is read first."""


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``.npz`` archive, each header checked (numbers, a sane size) before its
    data is read."""
    if not zipfile.is_zipfile(path):
        raise MDPFileError("is not an .npz archive (a zip of .npy arrays, as numpy.savez writes)")
    fields = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                with archive.open(member) as f:
                    shape, dtype = _npy_header(f)
                _check_npy(member.removesuffix(".npy"), shape, dtype)
                with archive.open(member) as f:
                    fields[member.removesuffix(".npy")] = fmt.read_array(f, allow_pickle=False)
    except MDPFileError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
        first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MDPFileError(f"is not a readable .npz archive: {first}") from None
    return fields


def _npy_header(f: Any) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype an ``.npy`` stream declares, its data unread."""
    version = fmt.read_magic(f)
    read = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
    shape, _, dtype = read(f)
    return shape, dtype


def _check_npy(name: str, shape: tuple[int, ...], dtype: np.dtype[Any]) -> None:
    """Refuse an array of Python objects (pickles), or one larger than :data:`NPZ_MOST_BYTES`."""
    if dtype.hasobject or dtype.kind not in "biufUS":  # numbers, or names as strings
        raise MDPFileError(f"{name} holds {dtype} values, not numbers or strings")
    claimed = math.prod(shape) * dtype.itemsize
    if claimed > NPZ_MOST_BYTES:
        raise MDPFileError(f"{name} claims an array of shape {shape} ({claimed / 2**30:.3g} GiB)")


def _array(name: str, value: Any, ndim: int) -> np.ndarray:
    """``value`` as a float64 array of ``ndim`` dimensions, every entry finite."""
    try:
        array = np.asarray(value, dtype=np.float64)
    except (ValueError, TypeError):
        raise MDPFileError(
            f"{name} must be a {ndim}-dimensional array of numbers (ragged, or not numbers)"
        ) from None
    if array.ndim != ndim or 0 in array.shape:
        raise MDPFileError(
            f"{name} must be a non-empty {ndim}-dimensional array (got shape {array.shape})"
        )
    bad = np.argwhere(~np.isfinite(array))
    if len(bad):
        index = tuple(int(i) for i in bad[0])
        raise MDPFileError(f"{name}{_at(index)} is {array[index]} (every entry must be finite)")
    return array


def _at(index: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in index)


def _shape(name: str, array: np.ndarray, expected: tuple[int, ...], form: str) -> None:
    if array.shape != expected:
        raise MDPFileError(
            f"{name} must be {form} = {list(expected)} (got shape {list(array.shape)})"
        )


def _probabilities(name: str, rows: np.ndarray) -> None:
    """Entries in [0, 1] and last-axis sums within :data:`ROW_SUM_TOL` of 1."""
    outside = np.argwhere((rows < 0) | (rows > 1))
    if len(outside):
        index = tuple(int(i) for i in outside[0])
        shown = index[1:] if name == "mu0" else index
        raise MDPFileError(f"{name}{_at(shown)} = {rows[index]} is not a probability in [0, 1]")
    sums = rows.sum(-1)
    off = np.argwhere(np.abs(sums - 1) > ROW_SUM_TOL)
    if len(off):
        index = tuple(int(i) for i in off[0])
        where = name if name == "mu0" else f"{name}{_at(index)}"
        raise MDPFileError(f"{where} sums to {sums[index]:.12g}, not 1 (within {ROW_SUM_TOL})")


def _terminal(terminal: Any, S: int, mu0: np.ndarray) -> list[int]:
    values = list(np.asarray(terminal).reshape(-1)) if terminal is not None else []
    states: list[int] = []
    for i, value in enumerate(values):
        if not (isinstance(value, int | np.integer) and 0 <= value < S):
            shown = value.item() if isinstance(value, np.generic) else value
            raise MDPFileError(f"terminal[{i}] = {shown!r} is not a state index in [0, {S})")
        if int(value) in states:
            raise MDPFileError(f"terminal[{i}] = {int(value)} is listed twice")
        if mu0[int(value)] > 0:
            raise MDPFileError(
                f"terminal[{i}] = {int(value)} has initial probability mu0[{int(value)}] = "
                f"{mu0[int(value)]}: an episode cannot start in a terminal state"
            )
        states.append(int(value))
    return states


def _build(
    P: np.ndarray,
    R: np.ndarray,
    mu0: np.ndarray,
    terminal: list[int],
    features: np.ndarray | None,
    horizon: int,
    discount: float,
) -> FiniteMDP:
    """Entries for the non-zero P[s][a][s'], in (s, a) order; a transition into a terminal state
    goes to the absorbing state S (appended, with zero features) instead."""
    S, A = R.shape
    s, a, nxt = np.nonzero(P > 0)  # C order: sorted by (s, a)
    prob, reward = P[s, a, nxt], R[s, a]
    absorbing = None
    if terminal:
        ends = np.zeros(S, dtype=bool)
        ends[terminal] = True
        nxt = np.where(ends[nxt], S, nxt)
        absorbing = S
        s = np.concatenate([s, np.full(A, S)])
        a = np.concatenate([a, np.arange(A)])
        nxt = np.concatenate([nxt, np.full(A, S)])
        prob = np.concatenate([prob, np.ones(A)])
        reward = np.concatenate([reward, np.zeros(A)])
        mu0 = np.concatenate([mu0, [0.0]])
    n_states = S + (absorbing is not None)
    phi = None
    if features is not None:
        phi = torch.zeros((n_states, A, features.shape[2]), dtype=torch.float64)
        phi[:S] = torch.from_numpy(features)
    return FiniteMDP(
        n_states=n_states,
        n_actions=A,
        entry_sa=torch.from_numpy(s * A + a).to(torch.int64),
        entry_next=torch.from_numpy(nxt).to(torch.int64),
        entry_prob=torch.from_numpy(prob).to(torch.float64),
        entry_reward=torch.from_numpy(reward).to(torch.float64),
        mu0=torch.from_numpy(mu0).to(torch.float64),
        horizon=horizon,
        discount=discount,
        absorbing=absorbing,
        features=phi,
    )
