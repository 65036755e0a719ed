"""Random command lines: each is accepted, or refused with one line naming a key.

Hypothesis draws group choices and ``key=value`` overrides (wrong types, out-of-range values,
unknown keys and groups, keys of another group's option, mismatched combinations) and runs what
``pgexp`` runs before its first file: Hydra's composition, the typed config (each schema's value
checks), the schema's keys and :func:`pgexp.run.build` (env, memory, estimator, policy,
reference). Hydra's own refusals print as one line on the command line; pgexp's are
:class:`ConfigError`. Anything else would be a traceback, and fails the test.
"""

from __future__ import annotations

import pytest
import torch
from hydra.errors import HydraException
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from omegaconf.errors import OmegaConfBaseException

from pgexp.errors import ConfigError
from pgexp.hydra_jobs import typed_config
from pgexp.run import build
from pgexp.validation import check_known_keys
from tests.helpers import compose_raw

GROUPS = {
    "env": ["frozenlake4x4", "frozenlake8x8", "cliffwalking", "taxi", "bandit", "chain",
            "garnet", "cartpole", "acrobot", "pendulum", "gym", "atari"],
    "policy": ["tabular_softmax", "linear_softmax", "mlp", "gaussian", "transformer"],
    "estimator": ["exact", "minibatch", "oracle"],
    "hardware": ["cpu", "gpu", "auto"],
}  # fmt: skip
VALUES = {
    "estimator.N": ["0", "-5", "1", "2", "64", "1000000000000", "many", "1.5", "null"],
    "estimator.method": ["dp", "enumerate", "guess"],
    "estimator.baseline": ["none", "mean", "leave_one_out", "value", "optimal", "median"],
    "estimator.max_trajectories": ["0", "10", "1000000"],
    "train.lr": ["0", "-1", "1e300", "inf", "nan", "0.1", "x"],
    "train.iters": ["0", "1", "-2", "3.5", "100000000000000000000"],
    "train.optimizer": ["sgd", "adam", "lbfgs"],
    "train.reference_N": ["0", "1", "8", "-3"],
    "train.eval_episodes": ["-1", "0", "null", "10", "1000000000000"],
    "train.checkpoint_every": ["-1", "0", "5"],
    "env.horizon": ["0", "-3", "1", "10", "1000000000", "null", "ten"],
    "env.discount": ["0", "1.5", "0.9", "-1"],
    "env.n_states": ["0", "1", "5", "100", "1000000000"],
    "env.seed": ["-1", "0", "3"],
    "env.branching": ["0", "3", "1000"],
    "env.slip": ["-0.1", "0.5", "2"],
    "env.rewards": ["[]", "[1,0]", "[inf]", "x"],
    "env.id": ["CartPole-v1", "Nope-v0", "FrozenLake-v1", "Pendulum-v1"],
    "env.kwargs.map_name": ["4x4", "9x9"],
    "env.num_envs": ["0", "2"],
    "policy.hidden": ["[]", "[0]", "[8]", "[8,8]", "[1000000000]"],
    "policy.init": ["zeros", "normal", "orthogonal", "ones"],
    "policy.init_scale": ["-1", "0.5"],
    "policy.features": ["one_hot", "random", "missing.npy"],
    "policy.dim": ["0", "4", "1000000000"],
    "hardware.threads": ["0", "1", "null", "100000"],
    "hardware.dtype": ["float32", "float64", "int8"],
    "logger.init_timeout_s": ["0", "inf", "5"],
    "seed": ["-1", "0", "7", "100000000000000000000000"],
}
ADDED = ["+train.foo=1", "+env.kwargs.bogus=1", "+hardware.gpus=2", "~train.lr", "nokey=3"]


@st.composite
def command_lines(draw: st.DrawFn) -> list[str]:
    groups = [f"{g}={draw(st.sampled_from(o))}" for g, o in GROUPS.items() if draw(st.booleans())]
    keys = draw(st.lists(st.sampled_from(sorted(VALUES)), max_size=4, unique=True))
    values = [f"{k}={draw(st.sampled_from(VALUES[k]))}" for k in keys]
    added = draw(st.lists(st.sampled_from(ADDED), max_size=1))
    return ["logger=none", *groups, *values, *added]


def up_to_the_first_file(overrides: list[str]) -> str:
    """``accepted``, or the refusal (Hydra's or pgexp's) as one line; raises anything else."""
    try:
        node = compose_raw(overrides)
    except (HydraException, OmegaConfBaseException) as err:
        return f"hydra: {str(err).splitlines()[0]}"
    try:
        cfg = typed_config(node)  # each schema checks its keys' values
        check_known_keys(node, cfg)
        build(cfg, [cfg.seed])
    except ConfigError as err:
        assert err.key and str(err).startswith(err.key), err
        return f"pgexp: error: {err}"
    return "accepted"


def check(overrides: list[str]) -> None:
    outcome = up_to_the_first_file(overrides)
    assert "\n" not in outcome
    if "hardware=gpu" in overrides and not torch.cuda.is_available():
        assert outcome != "accepted"


@pytest.mark.parametrize(
    "overrides",
    [
        ["env=cartpole", "estimator=exact"],
        ["env=pendulum", "policy=mlp", "estimator=minibatch"],
        ["env=bandit", "policy=gaussian"],
        ["hardware=gpu"],
        ["env.kwargs.map_name=9x9"],
        ["+train.foo=1"],
        ["estimator=minibatch", "estimator.N=1000000000000"],
        ["env=cartpole", "policy=mlp", "estimator=minibatch", "policy.hidden=[1000000000]"],
        ["policy=linear_softmax", "policy.features=random", "policy.dim=1000000000"],
        ["env=garnet", "env.n_states=1000000000"],
        ["env=garnet", "env.seed=-1"],
        ["hardware.threads=100000"],
        ["train.eval_episodes=1000000000000"],
        ["train.iters=100000000000000000000"],
        ["env=gym", "env.id=Nope-v0", "policy=mlp", "estimator=minibatch"],
    ],
)
def test_known_bad_command_lines_are_one_line_refusals(overrides: list[str]) -> None:
    if "hardware=gpu" in overrides and torch.cuda.is_available():
        pytest.skip("a GPU is present")
    assert up_to_the_first_file(["logger=none", *overrides]) != "accepted"


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(command_lines())
def test_random_command_lines_are_accepted_or_refused_in_one_line(overrides: list[str]) -> None:
    check(overrides)
