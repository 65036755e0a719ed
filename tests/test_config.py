"""Every config composes; bad values fail with a message naming the key."""

from __future__ import annotations

from typing import cast

import pytest
from hydra.errors import ConfigCompositionException, MissingConfigException
from omegaconf import OmegaConf

from pgexp.config import SCHEMAS, Config, ExactMethod, MinibatchEstimatorConfig
from pgexp.errors import ConfigError
from pgexp.hydra_jobs import CONF_DIR
from pgexp.validation import check_known_keys
from tests.helpers import compose, compose_raw

GROUPS = ("env", "policy", "estimator", "hardware", "logger")
OPTIONS = [(g, p.stem) for g in GROUPS for p in sorted((CONF_DIR / g).glob("*.yaml"))]
REQUIRED = {("env", "file"): {"path": str(CONF_DIR.parent / "examples/mdps/short_corridor.yaml")}}
"""Keys an option leaves for the command line (``???``), with a value for these tests."""


@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_every_option_file_fits_the_schema_it_names(group: str, option: str) -> None:
    """Each ``conf/<group>/<option>.yaml`` names a schema in its defaults list, and its values
    are keys of that schema with the schema's types (a quick check without Hydra), each one
    other than the schema's default (a default has one home: the schema)."""
    data = OmegaConf.load(CONF_DIR / group / f"{option}.yaml")
    data.merge_with(REQUIRED.get((group, option), {}))
    ((target, schema_name),) = next(d.items() for d in data.pop("defaults") if d != "_self_")
    assert target == f"/hydra/pgexp_schema/{group}@_here_"
    schema = SCHEMAS[group][schema_name]
    default = OmegaConf.structured(schema)
    node = OmegaConf.merge(default, data)
    restated = [
        k for k in data if OmegaConf.is_missing(default, k) is False and node[k] == default[k]
    ]
    assert not restated, f"{option}.yaml restates its schema's default of {restated}"
    assert isinstance(OmegaConf.to_object(node), schema)


def test_the_root_config_sets_no_schema_default() -> None:
    data = OmegaConf.load(CONF_DIR / "config.yaml")
    assert set(data) == {"defaults", "hydra"}, "train and seed defaults live in the schema"


@pytest.mark.slow
@pytest.mark.parametrize(("group", "option"), OPTIONS)
def test_every_option_composes_and_validates(group: str, option: str) -> None:
    given = [f"{group}.{k}={v}" for k, v in REQUIRED.get((group, option), {}).items()]
    cfg = compose([f"{group}={option}", *given])  # typed: every value checked
    assert isinstance(cfg, Config)


def test_defaults_are_the_seed_algorithms() -> None:
    cfg = compose([])
    assert cfg.estimator.method is ExactMethod.dp
    assert (cfg.env.name, cfg.policy.name, cfg.policy.init) == (
        "frozenlake4x4",
        "tabular_softmax",
        "zeros",
    )
    mb = compose(["estimator=minibatch"]).estimator
    assert isinstance(mb, MinibatchEstimatorConfig)
    assert (mb.returns.value, mb.baseline.value) == ("total", "none")


@pytest.mark.parametrize(
    ("overrides", "key"),
    [
        (["estimator=minibatch", "estimator.N=0"], "estimator.N"),
        (
            ["estimator=minibatch", "estimator.N=1", "estimator.baseline=leave_one_out"],
            "estimator.N",
        ),
        (["train.lr=0"], "train.lr"),
        (["train.lr=-0.5"], "train.lr"),
        (["train.iters=0"], "train.iters"),
        (["env.horizon=0"], "env.horizon"),
        (["env.discount=1.5"], "env.discount"),
        (["env=bandit", "env.rewards=[]"], "env.rewards"),
        (["env=garnet", "env.branching=50"], "env.branching"),
        (["env=chain", "env.slip=2"], "env.slip"),
    ],
)
def test_bad_values_name_their_key(overrides: list[str], key: str) -> None:
    with pytest.raises(ConfigError) as err:
        compose(overrides)  # the schema that declares the key checks it
    assert str(err.value).startswith(key) and "must be" in str(err.value)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["estimator.method=foo"], "expected one of [dp, enumerate]"),
        (["estimator=minibatch", "estimator.N=many"], "estimator.N"),
        (["hardware.device=tpu"], "expected one of [cpu, cuda, auto]"),
        (["env.nope=1"], "Key 'nope' not in 'ToyTextEnvConfig'"),
        (["policy.init=ones"], "expected one of [zeros, normal]"),
        (["policy=mlp", "policy.init_scale=9"], "Key 'init_scale' not in 'MLPPolicyConfig'"),
        (["policy=mlp", "policy.activation=gelu"], "expected one of [tanh, relu]"),
    ],
)
def test_hydra_rejects_wrong_types_and_unknown_keys(overrides: list[str], message: str) -> None:
    with pytest.raises(ConfigCompositionException) as err:
        compose_raw(overrides)
    assert message in f"{err.value} {err.value.__cause__}"


def test_unknown_env_lists_the_available_ones() -> None:
    with pytest.raises(MissingConfigException, match="Could not find 'env/atari'") as err:
        compose(["env=atari"])
    assert (
        "frozenlake8x8" in str(err.value)
        and "schema" not in str(err.value).split("Available")[1].split("Config search")[0]
    )


@pytest.mark.parametrize(
    ("overrides", "key"),
    [(["+train.foo=1"], "train.foo"), (["+bar=2"], "bar"), (["+hardware.gpus=2"], "hardware.gpus")],
)
def test_keys_added_with_plus_are_refused_by_name(overrides: list[str], key: str) -> None:
    """Hydra's ``+key=value`` adds a key the schema lacks; converting to the typed config would
    drop it silently, so pgexp checks the composed keys against the schema."""
    node = compose_raw(overrides)
    with pytest.raises(ConfigError, match=rf"^{key} is not a pgexp key \(keys"):
        check_known_keys(node, cast(Config, OmegaConf.to_object(node)))


def test_free_form_dicts_take_any_key() -> None:
    node = compose_raw(["+env.kwargs.desc=[SF,HG]"])
    check_known_keys(node, cast(Config, OmegaConf.to_object(node)))
