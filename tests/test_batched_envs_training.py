"""Neural policies on torch-native envs: masks, log-probabilities, errors and learning."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from pgexp.config import Activation, Baseline, NetInit, Returns
from pgexp.envs import make_env
from pgexp.envs.batched import make_batched_env
from pgexp.errors import ConfigError
from pgexp.estimators import MinibatchGradient, flat_grad, weights
from pgexp.metrics import read_metrics
from pgexp.policies import CategoricalMLP, GaussianMLP
from pgexp.records import Status
from pgexp.rollout import BatchedEnvSampler
from pgexp.run import run
from tests.helpers import compose, quiet


def test_terminated_copies_earn_nothing_and_count_no_steps() -> None:
    env = make_batched_env("cartpole", horizon=200)
    policy = CategoricalMLP(
        4, 2, [16], Activation.tanh, NetInit.orthogonal, torch.Generator().manual_seed(0)
    )
    sampler = BatchedEnvSampler(env, check_every=None)
    batch = sampler.sample(policy, 256, torch.Generator().manual_seed(1))
    assert batch.states.shape == (256, 200, 4) and batch.actions.shape == (256, 200)
    lengths = batch.alive.sum(1)
    assert (lengths < 200).any()  # a near-uniform policy drops most poles early
    # alive is a prefix, rewards are 1 exactly while alive, so the return is the episode length
    assert torch.equal(batch.alive, torch.arange(200) < lengths[:, None])
    assert torch.equal(batch.returns(1.0), lengths.to(batch.rewards.dtype))
    assert batch.env_steps() == int(lengths.sum())


def test_stopping_once_every_copy_ended_drops_only_dead_steps() -> None:
    env = make_batched_env("cartpole", horizon=500)
    policy = CategoricalMLP(
        4, 2, [16], Activation.tanh, NetInit.orthogonal, torch.Generator().manual_seed(0)
    )
    full = BatchedEnvSampler(env, check_every=None).sample(
        policy, 64, torch.Generator().manual_seed(2)
    )
    short = BatchedEnvSampler(env).sample(policy, 64, torch.Generator().manual_seed(2))
    T_short, longest = short.states.shape[1], int(full.alive.sum(1).max())
    assert T_short % 16 == 0 and longest <= T_short < longest + 16 and T_short < 500
    for name in ("states", "actions", "rewards", "alive"):
        assert torch.equal(getattr(short, name), getattr(full, name)[:, :T_short]), name
    assert not full.alive[:, T_short:].any()
    assert torch.equal(short.returns(1.0), full.returns(1.0))


def test_gaussian_log_prob_is_the_normal_density() -> None:
    gen = torch.Generator().manual_seed(0)
    for state_dependent in (False, True):
        policy = GaussianMLP(
            3, 2, [8], Activation.tanh, NetInit.orthogonal, gen, state_dependent, -0.5
        )
        obs = torch.randn((5, 3), dtype=torch.float64, generator=gen)
        actions = policy.sample(obs, gen)
        mean, log_std = policy.mean_log_std(obs)
        ref = torch.distributions.Normal(mean, log_std.exp()).log_prob(actions).sum(-1)
        torch.testing.assert_close(policy.log_prob(obs, actions), ref)


def test_categorical_samples_follow_the_softmax() -> None:
    gen = torch.Generator().manual_seed(0)
    policy = CategoricalMLP(4, 3, [8], Activation.relu, NetInit.default, gen)
    obs = torch.randn((1, 4), dtype=torch.float64, generator=gen).expand(60_000, 4)
    freq = torch.bincount(policy.sample(obs, gen), minlength=3).double() / 60_000
    probs = policy.log_prob(obs[:3], torch.arange(3)).exp().detach()
    assert ((freq - probs).abs() < 5 * (probs * (1 - probs) / 60_000).sqrt()).all()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["env=cartpole", "estimator=exact"], "estimator=exact needs a finite MDP"),
        (["env=cartpole", "estimator=minibatch"], "policy=tabular_softmax needs a finite MDP"),
        (
            ["env=pendulum", "policy=mlp", "estimator=minibatch"],
            "policy=mlp needs discrete actions",
        ),
        (
            ["env=cartpole", "policy=gaussian", "estimator=minibatch"],
            "policy=gaussian needs continuous",
        ),
        (["env=frozenlake4x4", "policy=mlp"], "policy=mlp needs an env with observation vectors"),
    ],
)
def test_mismatched_groups_are_config_errors(
    overrides: list[str], message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError, match=message):
        run(compose(quiet(overrides)), tmp_path)


@pytest.mark.slow
def test_cartpole_return_rises_with_adam(tmp_path: Path) -> None:
    overrides = [
        "env=cartpole",
        "env.horizon=200",
        "policy=mlp",
        "estimator=minibatch",
        "estimator.N=32",
        "train.optimizer=adam",
        "train.lr=0.01",
        "train.iters=12",
    ]
    summary = run(compose(quiet(overrides)), tmp_path)
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert summary.status is Status.ok and summary.J_final is None
    assert all(r.J is None and r.grad_rel_err is None for r in records)
    first, last = records[0].return_mean, records[-1].return_mean
    assert last > 1.5 * first  # about 20 steps at the start


def test_pendulum_gaussian_runs_and_logs_finite_returns(tmp_path: Path) -> None:
    overrides = [
        "env=pendulum",
        "env.horizon=50",
        "policy=gaussian",
        "estimator=minibatch",
        "estimator.N=16",
        "train.optimizer=adam",
        "train.lr=0.01",
        "train.iters=3",
    ]
    run(compose(quiet(overrides)), tmp_path)
    assert all(math.isfinite(r.return_mean) for r in read_metrics(tmp_path / "metrics.jsonl"))
    assert make_env(compose(["env=pendulum"]).env).horizon == 200  # type: ignore[union-attr]


def test_default_init_draws_torchs_distribution_from_the_generator() -> None:
    def make() -> CategoricalMLP:
        return CategoricalMLP(
            4, 3, [8], Activation.tanh, NetInit.default, torch.Generator().manual_seed(5)
        )

    first = make()
    torch.manual_seed(123)  # the global RNG plays no part
    for p, q in zip(first.parameters(), make().parameters(), strict=True):
        assert torch.equal(p, q)
    layer = first.net[0]
    bound = 1 / math.sqrt(4)
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
    assert layer.weight.abs().max() > 0.8 * bound  # U(±1/√fan_in), not a narrower draw


@pytest.mark.parametrize(
    ("returns", "baseline"),
    [(Returns.total, Baseline.none), (Returns.reward_to_go, Baseline.leave_one_out)],
)
def test_scoring_only_live_steps_gives_the_full_surrogates_gradient(
    returns: Returns, baseline: Baseline
) -> None:
    """The estimator drops dead steps before the backward pass; the gradient is that of the
    surrogate over every [N, T] step (dead ones have weight 0), to float64 rounding."""
    env = make_batched_env("cartpole", horizon=100)
    policy = CategoricalMLP(
        4, 2, [16], Activation.tanh, NetInit.orthogonal, torch.Generator().manual_seed(0)
    )
    sampler = BatchedEnvSampler(env, check_every=None)
    batch = sampler.sample(policy, 128, torch.Generator().manual_seed(3))
    assert not batch.alive.all()
    w = weights(batch, 1.0, returns, baseline)
    full = flat_grad((w * policy.log_prob(batch.states, batch.actions)).sum() / batch.n,
                     policy.parameters())  # fmt: skip
    est = MinibatchGradient(sampler, 128, torch.Generator().manual_seed(3), returns, baseline)
    torch.testing.assert_close(est.estimate(policy).grad, full, rtol=1e-12, atol=1e-12)
