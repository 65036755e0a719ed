"""Any gymnasium env, stepped through ``gymnasium.vector`` on the CPU.

The fallback for envs pgexp has no torch version of, and the reference the torch envs are
benchmarked against. Observations are flattened (``FlattenObservation``: a ``Discrete``
observation becomes a one-hot vector); actions may be ``Discrete`` or ``Box``.
"""

from __future__ import annotations

import math
import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AsyncVectorEnv, SyncVectorEnv, VectorEnv
from gymnasium.wrappers import FlattenObservation

from pgexp.config import Vectorization
from pgexp.envs.base import ObservationSteps
from pgexp.envs.gymnasium_make import make_gymnasium
from pgexp.errors import ConfigError


class GymVectorEnv(ObservationSteps):
    """The spec of a gymnasium env and the vector envs that step its copies.

    Attributes:
        name: the name used in run names (the gymnasium id by default).
        horizon: T, the most steps of a trajectory (also the ``TimeLimit`` of every copy).
        obs_dim: size of a flattened observation.
        n_actions: number of ``Discrete`` actions, or None for ``Box`` actions.
        action_dim: size of a ``Box`` action (0 for discrete actions).
        action_start: the first ``Discrete`` action (gymnasium's ``start``, usually 0).
    """

    def __init__(
        self,
        env_id: str,
        kwargs: dict[str, Any],
        horizon: int | None,
        discount: float = 1.0,
        vectorization: Vectorization = Vectorization["sync"],
        num_envs: int | None = None,
        name: str | None = None,
    ) -> None:
        """Probe ``gymnasium.make(env_id, **kwargs)`` for its spaces.

        ``horizon=None`` takes the id's own ``max_episode_steps``. ``num_envs`` caps how many
        copies one vector env steps (None: see :meth:`width`).

        Raises:
            ConfigError: naming ``env.id``, ``env.kwargs`` or ``env.horizon``.
        """
        probe = make_gymnasium(env_id, kwargs)
        try:
            obs_space = FlattenObservation(probe).observation_space
            action_space = probe.action_space
            default_horizon = probe.spec.max_episode_steps if probe.spec else None
        finally:
            probe.close()
        if horizon is None:
            if default_horizon is None:
                raise ConfigError("env.horizon", f"must be set: {env_id} has no TimeLimit")
            horizon = int(default_horizon)
        self.id, self.kwargs, self.name = env_id, dict(kwargs), name or env_id
        self.horizon, self.discount = horizon, discount
        self.vectorization, self.num_envs = vectorization, num_envs
        self._obs_dim = int(math.prod(obs_space.shape or (1,)))
        self.n_actions: int | None = None
        self.action_dim, self.action_start = 0, 0
        self.action_shape: tuple[int, ...] = ()
        if isinstance(action_space, gym.spaces.Discrete):
            self.n_actions, self.action_start = int(action_space.n), int(action_space.start)
        elif isinstance(action_space, gym.spaces.Box):
            self.action_shape = tuple(action_space.shape)
            self.action_dim = int(math.prod(self.action_shape))
            self.action_dtype = action_space.dtype
        else:
            raise ConfigError(
                "env.id",
                f"must have Discrete or Box actions; {env_id} has {action_space}",
            )
        self._vectors: dict[int, VectorEnv] = {}

    def _make_one(self) -> gym.Env:
        return FlattenObservation(gym.make(self.id, max_episode_steps=self.horizon, **self.kwargs))

    def width(self, n: int) -> int:
        """Copies stepped at once for ``n`` trajectories: ``num_envs`` when set, else all ``n``
        (sync) or one worker process per CPU core (async)."""
        if self.num_envs is not None:
            return min(n, self.num_envs)
        sync = self.vectorization is Vectorization["sync"]
        return n if sync else min(n, os.cpu_count() or 1)

    def vector(self, width: int) -> VectorEnv:
        """A vector env of ``width`` copies (made once per width, then reused)."""
        if width not in self._vectors:
            fns = [self._make_one] * width
            sync = self.vectorization is Vectorization["sync"]
            cls = SyncVectorEnv if sync else AsyncVectorEnv
            self._vectors[width] = cls(fns)
        return self._vectors[width]

    def to_env_actions(self, actions: np.ndarray) -> np.ndarray:
        """Policy actions ([n] indices or [n, action_dim] vectors) as the vector env takes them."""
        if self.n_actions is not None:
            return actions + self.action_start
        return actions.reshape(-1, *self.action_shape).astype(self.action_dtype)

    @property
    def obs_dim(self) -> int:
        return self._obs_dim

    @property
    def observation_env(self) -> GymVectorEnv:
        return self

    def to(self, device: object) -> GymVectorEnv:
        return self  # it steps on the CPU; observations move to the policy's device per step

    def compiled(self) -> GymVectorEnv:
        return self  # gymnasium's own code steps it

    def close(self) -> None:
        """Close every vector env (stops the worker processes of ``async``)."""
        for vec in self._vectors.values():
            vec.close()
        self._vectors.clear()
