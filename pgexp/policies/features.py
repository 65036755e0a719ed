"""State-action features φ(s, a) for linear softmax policies."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch


def one_hot_features(n_states: int, n_actions: int, n_policy_states: int) -> torch.Tensor:
    """[S, A, S'·A] φ(s, a) = e_{s·A+a} for the S' policy states, zero for the absorbing one."""
    d = n_policy_states * n_actions
    eye = torch.eye(d, dtype=torch.float64).view(n_policy_states, n_actions, d)
    return _pad_states(eye, n_states)


def random_features(
    n_states: int, n_actions: int, n_policy_states: int, dim: int, generator: torch.Generator
) -> torch.Tensor:
    """[S, A, dim] i.i.d. N(0, 1) features, zero for the absorbing state."""
    phi = torch.randn((n_policy_states, n_actions, dim), dtype=torch.float64, generator=generator)
    return _pad_states(phi, n_states)


def load_features(
    path: str | Path, n_states: int, n_actions: int, n_policy_states: int
) -> torch.Tensor:
    """[S, A, d] features from a ``.npy`` file holding [S', A, d] (or [S, A, d]) values."""
    phi = torch.from_numpy(np.load(path)).to(torch.float64)
    if (
        phi.ndim != 3
        or phi.shape[1] != n_actions
        or phi.shape[0] not in (n_states, n_policy_states)
    ):
        raise ValueError(
            f"features in {path} have shape {tuple(phi.shape)}; expected "
            f"[{n_policy_states}, {n_actions}, d]"
        )
    return _pad_states(phi[:n_policy_states], n_states)


def _pad_states(phi: torch.Tensor, n_states: int) -> torch.Tensor:
    """Append zero rows for the states beyond ``phi.shape[0]`` (the absorbing state)."""
    pad = torch.zeros((n_states - phi.shape[0], *phi.shape[1:]), dtype=phi.dtype)
    return torch.cat([phi, pad])
