"""Finite MDPs read from gymnasium toy-text environments through ``env.unwrapped.P``."""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
import torch

from pgexp.envs.finite_mdp import FiniteMDP, from_entries
from pgexp.envs.gymnasium_make import make_gymnasium
from pgexp.errors import ConfigError


def transition_table(env: gym.Env) -> dict[int, dict[int, list[tuple[float, int, float, bool]]]]:
    """``env.unwrapped.P``, or a ``TypeError`` when the env has no transition table."""
    table = getattr(env.unwrapped, "P", None)
    if not isinstance(table, dict):
        raise TypeError(f"{env.spec.id if env.spec else env} has no transition table P")
    return table


def initial_distribution(env: gym.Env, n_states: int) -> np.ndarray:
    """[S] the env's own ``initial_state_distrib``."""
    mu0 = getattr(env.unwrapped, "initial_state_distrib", None)
    if mu0 is None:
        raise TypeError(f"{env.spec.id if env.spec else env} has no initial_state_distrib")
    return np.asarray(mu0, dtype=np.float64).reshape(n_states)


def from_gymnasium(env: gym.Env, horizon: int, discount: float = 1.0) -> FiniteMDP:
    """The finite MDP of a gymnasium env with a transition table, plus one absorbing state.

    Each entry ``(p, s', r, terminated)`` of ``P[s][a]`` keeps its reward and goes to ``s'``, or to
    the absorbing state (index S, self-loop, zero reward) when ``terminated``.
    """
    table = transition_table(env)
    n_states = int(env.observation_space.n)  # type: ignore[attr-defined]
    n_actions = int(env.action_space.n)  # type: ignore[attr-defined]
    absorbing = n_states
    entries: list[tuple[int, int, int, float, float]] = []
    for s in range(n_states):
        for a in range(n_actions):
            for p, s_next, r, terminated in table[s][a]:
                target = absorbing if terminated else int(s_next)
                entries.append((s, a, target, float(p), float(r)))
    entries += [(absorbing, a, absorbing, 1.0, 0.0) for a in range(n_actions)]
    mu0 = np.append(initial_distribution(env, n_states), 0.0)
    return from_entries(
        n_states + 1,
        n_actions,
        entries,
        torch.from_numpy(mu0),
        horizon=horizon,
        discount=discount,
        absorbing=absorbing,
    )


def make_toy_text(
    env_id: str, kwargs: dict[str, Any], horizon: int, discount: float = 1.0
) -> FiniteMDP:
    """``gymnasium.make(env_id, **kwargs)`` turned into a :class:`FiniteMDP`.

    Raises:
        ConfigError: naming ``env.id`` or ``env.kwargs`` when the env cannot be made or has no
            transition table.
    """
    env = make_gymnasium(env_id, kwargs)
    try:
        return from_gymnasium(env, horizon, discount)
    except TypeError as err:
        raise ConfigError(
            "env.id",
            f"must name a finite MDP with a transition table env.unwrapped.P, as FrozenLake-v1, "
            f"CliffWalking-v1 and Taxi-v4 do ({err}); estimator=exact needs one",
        ) from None
    finally:
        env.close()
