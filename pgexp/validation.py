"""What the typed config cannot check itself: keys added to the composed config that no schema
has (``+train.foo=1``, which converting to the typed config would drop without a word).

The value checks of each key live beside its declaration, in its schema's ``__post_init__``
(:mod:`pgexp.config`); checks across groups (an estimator or a policy that does not fit the
env) where the pieces are built (:func:`pgexp.estimators.make_estimator`,
:func:`pgexp.policies.make_policy`, :func:`pgexp.run.make_reference`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pgexp.config import (
    Config,
)
from pgexp.errors import ConfigError


def unknown_keys(node: Any, typed: Any, path: str = "") -> list[str]:
    """Dotted keys of the untyped config ``node`` (a mapping) that the typed config ``typed`` (a
    dataclass) has no field for, such as one added with Hydra's ``+key=value`` (which
    ``OmegaConf.to_object`` would drop without a word). Dict-valued fields take any key."""
    if not dataclasses.is_dataclass(typed) or not isinstance(node, Mapping):
        return []
    names = {f.name for f in dataclasses.fields(typed)}
    found = []
    for key, value in node.items():
        dotted = f"{path}{key}"
        if key not in names:
            found.append(dotted)
        else:
            found += unknown_keys(value, getattr(typed, str(key)), f"{dotted}.")
    return found


def check_known_keys(node: Any, cfg: Config) -> None:
    """:class:`ConfigError` for the first key of ``node`` that pgexp's schema does not have."""
    extra = unknown_keys(node, cfg)
    if extra:
        parent = extra[0].rpartition(".")[0]
        typed = cfg
        for part in parent.split(".") if parent else []:
            typed = getattr(typed, part)
        known = ", ".join(f.name for f in dataclasses.fields(typed))
        raise ConfigError(
            extra[0], f"is not a pgexp key (keys{' of ' + parent if parent else ''}: {known})"
        )
