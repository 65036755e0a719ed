"""Composing a sweep's job configs once per shape instead of once per job.

Hydra composes every job of a multirun from scratch, twice (the sweeper checks that each job
composes, then the launcher composes it again): about 0.2 s per composition of pgexp's config
tree on a CPU core, 25 s of a 64-seed sweep against a fraction of that for the training. The
jobs of a seed or learning-rate sweep differ only in the values of ``seed=`` and ``train.lr=``,
which cannot change what is composed, only two values in it. :class:`SweepConfigCache`
composes the first job of each shape with Hydra itself and derives the others from it, setting
exactly what Hydra would set differently: the two values, ``hydra.overrides.task`` and
``hydra.job.override_dirname``. Any other kind of override (a group choice, ``+key``, ``~key``,
a string or interpolation value) makes its own shape, composed by Hydra.
"""

# no `from __future__ import annotations`: see batched_launcher.py
import copy
from collections.abc import Callable

from hydra._internal.config_loader_impl import get_overrides_dirname
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Override, OverrideType, ValueType
from omegaconf import DictConfig, OmegaConf, read_write

VALUE_KEYS = {"seed": (int,), "train.lr": (int, float)}
"""The keys whose plain numeric values a derived config may differ in, and the types a value
must have to be derived (any other value, ``seed=1.5`` say, goes to Hydra, which refuses it in
one line as it would without the cache)."""

LoadSweepConfig = Callable[[DictConfig, list[str]], DictConfig]


def is_value_override(override: Override) -> bool:
    """``seed=3`` or ``train.lr=0.1``: a plain change of a numeric value of :data:`VALUE_KEYS`."""
    if override.key_or_group not in VALUE_KEYS or override.type != OverrideType.CHANGE:
        return False
    if override.value_type != ValueType.ELEMENT:
        return False
    value = override.value()
    return isinstance(value, VALUE_KEYS[override.key_or_group]) and not isinstance(value, bool)


class SweepConfigCache:
    """A drop-in ``load_sweep_config`` that composes each shape of overrides once.

    Args:
        load: Hydra's ``ConfigLoader.load_sweep_config``, called for the first job of a shape.
    """

    def __init__(self, load: LoadSweepConfig) -> None:
        self.load = load
        self.parser = OverridesParser.create()
        self.composed: dict[tuple[int, tuple[str, ...]], DictConfig] = {}

    def __call__(self, master_config: DictConfig, sweep_overrides: list[str]) -> DictConfig:
        parsed = self.parser.parse_overrides(sweep_overrides)
        shape = tuple(
            f"{o.key_or_group}=<value>" if is_value_override(o) else str(o.input_line)
            for o in parsed
        )
        key = (id(master_config), shape)
        if key not in self.composed:
            self.composed[key] = self.load(master_config, sweep_overrides)
            return copy.deepcopy(self.composed[key])
        return derive(self.composed[key], master_config, parsed)


def derive(composed: DictConfig, master_config: DictConfig, parsed: list[Override]) -> DictConfig:
    """A copy of ``composed`` (a job of the same shape) with the values of ``parsed``."""
    cfg = copy.deepcopy(composed)
    for override in parsed:
        if is_value_override(override):
            OmegaConf.update(cfg, override.key_or_group, override.value(), merge=False)
    app = [o for o in parsed if not o.is_hydra_override()]  # (hydra overrides: same shape)
    with read_write(cfg.hydra):
        cfg.hydra.overrides.task = [o.input_line for o in app]
        dirname = cfg.hydra.job.config.override_dirname
        cfg.hydra.job.override_dirname = get_overrides_dirname(
            overrides=app,
            kv_sep=dirname.kv_sep,
            item_sep=dirname.item_sep,
            exclude_keys=list(dirname.exclude_keys),
        )
    OmegaConf.copy_cache(from_config=master_config, to_config=cfg)
    return cfg
