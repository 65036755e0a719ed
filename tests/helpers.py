"""Shared test helpers: small MDPs in float64 and random policies on them."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from functools import cache
from typing import cast

import pytest
import torch
from omegaconf import DictConfig, OmegaConf

from pgexp.config import Config, TableInit
from pgexp.counter_rng import Stream, seed_keys, stream_keys, uniforms
from pgexp.envs import FiniteMDP, make_bandit, make_chain, make_garnet, make_toy_text, unroll_time
from pgexp.policies import TabularSoftmax
from pgexp.rollout import Trajectories

requires_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


def small_mdps() -> dict[str, FiniteMDP]:
    """MDPs small enough to enumerate every trajectory (horizons cut short)."""
    return {
        "frozenlake2x2_T5": make_toy_text("FrozenLake-v1", {"desc": ["SF", "HG"]}, horizon=5),
        "frozenlake4x4_T8_dry": make_toy_text("FrozenLake-v1", {"is_slippery": False}, horizon=8),
        "cliffwalking_T4": make_toy_text("CliffWalking-v1", {"is_slippery": True}, horizon=4),
        "taxi_T3": make_toy_text("Taxi-v4", {}, horizon=3),
        "chain_T6_discounted": make_chain(5, 0.2, 2.0, 10.0, horizon=6, discount=0.9),
        "garnet_T4": make_garnet(6, 3, 2, seed=3, horizon=4),
        "bandit": make_bandit([1.0, 0.9, 0.1]),
        "frozenlake2x2_T5_by_step": unroll_time(
            make_toy_text("FrozenLake-v1", {"desc": ["SF", "HG"]}, horizon=5)
        ),
        "garnet_T4_discounted_by_step": unroll_time(
            make_garnet(6, 3, 2, seed=3, horizon=4, discount=0.9)
        ),
    }


def random_policy(mdp: FiniteMDP, seed: int, scale: float = 1.0, runs: int = 1) -> TabularSoftmax:
    """A tabular softmax with N(0, scale²) logits, run r drawn from seed + r; a large ``scale``
    saturates it (π = 0 exactly on some actions)."""
    gens = [torch.Generator().manual_seed(seed + r) for r in range(runs)]
    return TabularSoftmax(
        mdp.n_states, mdp.n_actions, mdp.n_policy_states, TableInit.normal, scale, gens
    )


def draws(seed: int, n: int, m: int, device: str = "cpu") -> torch.Tensor:
    """[n, m] float64 uniforms of a run seeded ``seed`` (its sampling stream, iteration 0)."""
    keys = stream_keys(seed_keys([seed], device), Stream.sample, 0)
    return uniforms(keys, (0, n), (0, m))[0]


def sample_keys(seed: int | Iterable[int], iteration: int = 1) -> torch.Tensor:
    """[R, 2] the sampling keys at ``iteration`` of runs seeded ``seed`` (one run: [1, 2])."""
    seeds = [seed] if isinstance(seed, int) else list(seed)
    return stream_keys(seed_keys(seeds), Stream.sample, iteration)


def compose_raw(overrides: list[str], with_hydra: bool = False) -> DictConfig:
    """The config ``pgexp`` would compose for these overrides, untyped (no Hydra run);
    ``with_hydra`` keeps the ``hydra`` node (sweeper params, run dirs)."""
    from hydra import compose as hydra_compose

    _initialize_hydra()
    return hydra_compose("config", overrides=overrides, return_hydra_config=with_hydra)


def _initialize_hydra() -> None:
    """Point Hydra at ``conf/`` once per test process (composing is then 30% cheaper), or again
    after a test that cleared Hydra's global state (Hydra's own launcher suites do)."""
    from hydra import initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    from pgexp.hydra_jobs import CONF_DIR, register_configs

    if GlobalHydra.instance().is_initialized():
        return
    register_configs()
    initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3").__enter__()


@cache
def _composed(choices: tuple[str, ...]) -> DictConfig:
    return compose_raw(list(choices))


def compose(overrides: list[str]) -> Config:
    """The typed config ``pgexp`` would compose for these overrides (no Hydra run).

    Group choices (``env=bandit``, ``+experiment=x``) are composed by Hydra once per
    combination; value overrides (``train.lr=3``) are then merged onto the typed config, which
    checks their types as Hydra would.
    """
    choices = tuple(o for o in overrides if "." not in o.split("=")[0])
    values = [o for o in overrides if o not in choices]
    raw = OmegaConf.merge(_composed(choices), OmegaConf.from_dotlist(values))
    return cast(Config, OmegaConf.to_object(raw))


def quiet(overrides: list[str]) -> list[str]:
    """Overrides for an in-process test run: no W&B, no progress bar, no final evaluation."""
    return ["logger=none", "train.progress=false", "train.eval_episodes=0", *overrides]


def assert_same_trajectories(a: Trajectories, b: Trajectories) -> None:
    """Every field of two samples equal, bit for bit and in dtype."""
    for field in fields(Trajectories):
        x, y = getattr(a, field.name), getattr(b, field.name)
        assert x.dtype == y.dtype and torch.equal(x, y), field.name
