"""Finite MDPs generated from a few numbers: bandit, chain and garnet."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from pgexp.envs.finite_mdp import FiniteMDP, from_entries


def _start_at(state: int, n_states: int) -> torch.Tensor:
    mu0 = torch.zeros(n_states, dtype=torch.float64)
    mu0[state] = 1.0
    return mu0


def make_bandit(rewards: Sequence[float], horizon: int = 1, discount: float = 1.0) -> FiniteMDP:
    """One state, one arm per reward; arm a pays ``rewards[a]`` deterministically."""
    if len(rewards) == 0:
        raise ValueError("a bandit needs at least one reward")
    entries = [(0, a, 0, 1.0, float(r)) for a, r in enumerate(rewards)]
    return from_entries(1, len(rewards), entries, _start_at(0, 1), horizon, discount)


def make_chain(
    n_states: int,
    slip: float,
    small_reward: float,
    large_reward: float,
    horizon: int,
    discount: float = 1.0,
) -> FiniteMDP:
    """The n-chain of Strens (2000), a classic hard-exploration problem.

    States 0..n-1, start at 0. Action 0 ("forward") moves to s+1, and in the last state stays there
    with reward ``large_reward``; action 1 ("back") returns to 0 with reward ``small_reward``. With
    probability ``slip`` the other action is executed. The myopic policy always goes back.
    """
    entries: list[tuple[int, int, int, float, float]] = []
    for s in range(n_states):
        forward = (min(s + 1, n_states - 1), large_reward if s == n_states - 1 else 0.0)
        back = (0, small_reward)
        for a, (intended, other) in enumerate([(forward, back), (back, forward)]):
            entries.append((s, a, intended[0], 1.0 - slip, intended[1]))
            if slip > 0:
                entries.append((s, a, other[0], slip, other[1]))
    return from_entries(n_states, 2, entries, _start_at(0, n_states), horizon, discount)


def make_garnet(
    n_states: int,
    n_actions: int,
    branching: int,
    seed: int,
    horizon: int,
    discount: float = 1.0,
) -> FiniteMDP:
    """A garnet (Archibald et al., 1995): a random MDP drawn from ``seed``.

    Each (s, a) reaches ``branching`` distinct next states with probabilities from a uniform
    partition of [0, 1]; r(s, a, s') ~ U[0, 1]; the initial distribution is uniform.
    """
    rng = np.random.default_rng(seed)
    entries: list[tuple[int, int, int, float, float]] = []
    for s in range(n_states):
        for a in range(n_actions):
            targets = rng.choice(n_states, size=branching, replace=False)
            cuts = np.sort(rng.uniform(size=branching - 1))
            probs = np.diff(np.concatenate([[0.0], cuts, [1.0]]))
            rewards = rng.uniform(size=branching)
            entries += [
                (s, a, int(t), float(p), float(r))
                for t, p, r in zip(targets, probs, rewards, strict=True)
            ]
    mu0 = torch.full((n_states,), 1.0 / n_states, dtype=torch.float64)
    return from_entries(n_states, n_actions, entries, mu0, horizon, discount)
