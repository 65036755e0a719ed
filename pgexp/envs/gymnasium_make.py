"""``gymnasium.make`` with its failures turned into config errors naming the key."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from pgexp.errors import ConfigError


def make_gymnasium(env_id: str, kwargs: dict[str, Any]) -> gym.Env:
    """``gymnasium.make(env_id, **kwargs)``.

    Raises:
        ConfigError: naming ``env.id`` (unknown id, or a missing optional dependency such as
            Box2D) or ``env.kwargs`` (arguments it rejects).
    """
    try:
        return gym.make(env_id, **kwargs)
    except gym.error.DependencyNotInstalled as err:
        raise ConfigError(
            "env.id", f"{env_id!r} is registered but needs a package that is not installed: {err}"
        ) from None
    except gym.error.Error as err:
        raise ConfigError(
            "env.id", f"must be a registered gymnasium id (got {env_id!r}): {err}"
        ) from None
    except (TypeError, KeyError, ValueError) as err:
        raise ConfigError(
            "env.kwargs", f"do not fit {env_id} (got {kwargs}): {type(err).__name__} {err}"
        ) from None
