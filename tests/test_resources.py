"""Sizes that cannot fit are refused up front, with the keys to lower."""

from __future__ import annotations

import pytest
import torch

from pgexp.envs import make_env
from pgexp.errors import ConfigError
from pgexp.resources import (
    SAFETY,
    available_bytes,
    check_fits,
    check_unrolled_fits,
    needed_bytes,
)
from tests.helpers import compose, quiet

CPU = torch.device("cpu")


def test_the_estimate_grows_with_n_horizon_and_runs() -> None:
    cfg = compose(quiet(["estimator=minibatch", "estimator.N=100"]))
    env = make_env(cfg.env)
    one, keys = needed_bytes(cfg, env, 1)
    assert keys == "estimator.N=100 with env.horizon=100"
    assert needed_bytes(cfg, env, 8)[0] == 8 * one
    table = SAFETY * env.table_bytes(1)
    assert table == 4 * 8 * env.finite_mdp.nnz  # the sampler's float64 table (E entries)
    bigger = compose(quiet(["estimator=minibatch", "estimator.N=1000"]))
    assert needed_bytes(bigger, env, 1)[0] - table == 10 * (one - table)


def test_what_fits_runs_and_what_does_not_is_refused_by_key() -> None:
    cfg = compose(quiet(["estimator=minibatch", "estimator.N=100"]))
    check_fits(cfg, make_env(cfg.env), 64, CPU)
    huge = compose(quiet(["estimator=minibatch", "estimator.N=1000000000000"]))
    with pytest.raises(ConfigError, match=r"^estimator\.N=1000000000000 with env\.horizon=100 "):
        check_fits(huge, make_env(huge.env), 1, CPU)
    assert available_bytes(CPU) > 2**20


def test_a_batch_that_does_not_fit_points_at_max_batch() -> None:
    cfg = compose(quiet(["estimator=minibatch", "estimator.N=10000", "env.horizon=1000"]))
    env = make_env(cfg.env)
    runs = available_bytes(CPU) // needed_bytes(cfg, env, 1)[0] + 1
    with pytest.raises(ConfigError, match=rf"for {runs} runs in one batch \(hydra\.launcher"):
        check_fits(cfg, env, int(runs), CPU)


def test_the_exact_recursion_is_sized_by_its_horizon() -> None:
    cfg = compose(quiet(["estimator=exact", "env.horizon=1000000000"]))
    with pytest.raises(ConfigError, match=r"^env\.horizon=1000000000 \(steps of the exact"):
        check_fits(cfg, make_env(cfg.env), 1, CPU)


def test_a_chunked_estimate_is_sized_by_its_chunk_and_n_that_does_not_fit_points_at_it() -> None:
    huge = ["estimator=minibatch", "estimator.N=1000000000000"]
    cfg = compose(quiet(huge))
    with pytest.raises(ConfigError, match=r"or sample it in chunks \(estimator\.chunk=K"):
        check_fits(cfg, make_env(cfg.env), 1, CPU)
    chunked = compose(quiet([*huge, "estimator.chunk=1000"]))
    check_fits(chunked, make_env(chunked.env), 1, CPU)
    assert needed_bytes(chunked, make_env(chunked.env), 1)[1] == (
        "estimator.chunk=1000 with env.horizon=100"
    )


def test_a_time_dependent_policy_that_cannot_unroll_is_refused_before_it_is_built() -> None:
    """T copies of the transition entries: 10⁹ steps of FrozenLake 4x4 cannot fit; 100 do."""
    cfg = compose(quiet(["policy.time_dependent=true"]))
    check_unrolled_fits(cfg, make_env(cfg.env))
    huge = compose(quiet(["policy.time_dependent=true", "env.horizon=1000000000"]))
    with pytest.raises(ConfigError, match=r"^policy\.time_dependent=true \(or a shorter env\.h"):
        check_unrolled_fits(huge, make_env(huge.env))
