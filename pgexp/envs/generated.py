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

    Each (s, a) reaches ``branching`` distinct next states, uniformly drawn, with probabilities
    from a uniform partition of [0, 1]; r(s, a, s') ~ U[0, 1]; the initial distribution is
    uniform. Drawn for all rows at once (seconds for 10⁶ rows): where a row's draws repeat a
    state, the row is drawn again; when ``branching`` is more than a quarter of ``n_states``,
    each row takes the first ``branching`` states of a random permutation instead.
    """
    if not 1 <= branching <= n_states:
        raise ValueError(f"branching must be in [1, {n_states}] (got {branching})")
    rng = np.random.default_rng(seed)
    rows = n_states * n_actions
    if 4 * branching > n_states:
        targets = np.argsort(rng.uniform(size=(rows, n_states)), axis=1)[:, :branching]
    else:
        targets = rng.integers(0, n_states, size=(rows, branching))
        while True:
            ordered = np.sort(targets, axis=1)
            repeats = (ordered[:, 1:] == ordered[:, :-1]).any(axis=1)
            if not repeats.any():
                break
            targets[repeats] = rng.integers(0, n_states, size=(int(repeats.sum()), branching))
    cuts = np.sort(rng.uniform(size=(rows, branching - 1)), axis=1)
    probs = np.diff(cuts, axis=1, prepend=0.0, append=1.0)
    rewards = rng.uniform(size=(rows, branching))
    return FiniteMDP(
        n_states=n_states,
        n_actions=n_actions,
        entry_sa=torch.arange(rows).repeat_interleave(branching),
        entry_next=torch.from_numpy(targets.reshape(-1)).to(torch.int64),
        entry_prob=torch.from_numpy(probs.reshape(-1)),
        entry_reward=torch.from_numpy(rewards.reshape(-1)),
        mu0=torch.full((n_states,), 1.0 / n_states, dtype=torch.float64),
        horizon=horizon,
        discount=discount,
    )
