"""Neural policies on torch-native envs: masks, log-probabilities, errors and learning."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from pgexp.config import Activation, Baseline, NetInit, Returns
from pgexp.counter_rng import Stream, seed_keys, stream_keys, uniforms
from pgexp.envs import make_env
from pgexp.envs.batched import make_batched_env
from pgexp.errors import ConfigError
from pgexp.estimators import MinibatchGradient, flat_grad, weights
from pgexp.metrics import read_metrics
from pgexp.policies import CategoricalMLP, GaussianMLP
from pgexp.records import Status
from pgexp.rollout import BatchedEnvSampler
from pgexp.run import run
from tests.helpers import compose, quiet, sample_keys


def categorical(
    obs_dim: int = 4, n_actions: int = 2, init: NetInit = NetInit.orthogonal, seed: int = 0
) -> CategoricalMLP:
    """A one-run categorical MLP with one hidden layer of 16 tanh units."""
    gens = [torch.Generator().manual_seed(seed)]
    return CategoricalMLP(obs_dim, n_actions, [16], Activation.tanh, init, gens)


def test_terminated_copies_earn_nothing_and_count_no_steps() -> None:
    env = make_batched_env("cartpole", horizon=200)
    sampler = BatchedEnvSampler(env, check_every=None)
    batch = sampler.sample(categorical(), sample_keys(1), 256)
    assert batch.states.shape == (1, 256, 200, 4) and batch.actions.shape == (1, 256, 200)
    lengths = batch.alive.sum(-1)
    assert (lengths < 200).any()  # a near-uniform policy drops most poles early
    # alive is a prefix, rewards are 1 exactly while alive, so the return is the episode length
    assert torch.equal(batch.alive, torch.arange(200) < lengths[..., None])
    assert torch.equal(batch.returns(1.0), lengths.to(batch.rewards.dtype))
    assert batch.env_steps().item() == int(lengths.sum())


def test_stopping_once_every_copy_ended_drops_only_dead_steps() -> None:
    env = make_batched_env("cartpole", horizon=500)
    policy = categorical()
    full = BatchedEnvSampler(env, check_every=None).sample(policy, sample_keys(2), 64)
    short = BatchedEnvSampler(env).sample(policy, sample_keys(2), 64)
    T_short, longest = short.states.shape[2], int(full.alive.sum(-1).max())
    assert T_short % 16 == 0 and longest <= T_short < longest + 16 and T_short < 500
    for name in ("states", "actions", "rewards", "alive"):
        assert torch.equal(getattr(short, name), getattr(full, name)[:, :, :T_short]), name
    assert not full.alive[..., T_short:].any()
    assert torch.equal(short.returns(1.0), full.returns(1.0))


def test_gaussian_log_prob_is_the_normal_density() -> None:
    gen = torch.Generator().manual_seed(0)
    for state_dependent in (False, True):
        policy = GaussianMLP(
            3, 2, [8], Activation.tanh, NetInit.orthogonal, [gen, gen], state_dependent, -0.5
        )
        obs = torch.randn((2, 5, 3), dtype=torch.float64, generator=gen)
        actions = policy.sample(obs, torch.rand((2, 2, 5), dtype=torch.float64, generator=gen))
        mean, log_std = policy.mean_log_std(obs)
        ref = torch.distributions.Normal(mean, log_std.exp()).log_prob(actions).sum(-1)
        torch.testing.assert_close(policy.log_prob(obs, actions), ref)


def test_gaussian_samples_have_the_policys_mean_and_spread() -> None:
    policy = GaussianMLP(3, 1, [8], Activation.tanh, NetInit.default,
                         [torch.Generator().manual_seed(0)], False, -0.5)  # fmt: skip
    obs = torch.ones((1, 40_000, 3), dtype=torch.float64)
    actions = policy.sample(obs, uniforms(sample_keys(0), (0, 40_000), (0, 1), draw_major=True))
    mean, log_std = policy.mean_log_std(obs[:, :1])
    std = math.exp(-0.5)
    assert abs(actions.mean().item() - mean.item()) < 5 * std / 200
    assert abs(actions.std().item() / std - 1) < 5 / (2 * 40_000) ** 0.5
    assert log_std.item() == -0.5


def test_categorical_samples_follow_the_softmax() -> None:
    gen = torch.Generator().manual_seed(0)
    policy = CategoricalMLP(4, 3, [8], Activation.relu, NetInit.default, [gen])
    obs = torch.randn((1, 1, 4), dtype=torch.float64, generator=gen).expand(1, 60_000, 4)
    u = uniforms(sample_keys(0), (0, 60_000), (0, 1), draw_major=True)
    freq = torch.bincount(policy.sample(obs, u)[0], minlength=3).double() / 60_000
    probs = policy.log_prob(obs[:, :3], torch.arange(3)[None]).exp().detach()[0]
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
    first = categorical(n_actions=3, init=NetInit.default, seed=5)
    torch.manual_seed(123)  # the global RNG plays no part
    second = categorical(n_actions=3, init=NetInit.default, seed=5)
    for p, q in zip(first.parameters(), second.parameters(), strict=True):
        assert torch.equal(p, q)
    layer = first.net[0]
    bound = 1 / math.sqrt(4)
    assert layer.weight.abs().max() <= bound and layer.bias.abs().max() <= bound
    assert layer.weight.abs().max() > 0.8 * bound  # U(±1/√fan_in), not a narrower draw


def test_each_run_of_a_batch_is_initialized_from_its_own_generator() -> None:
    gens = [torch.Generator().manual_seed(s) for s in (5, 6)]
    both = CategoricalMLP(4, 3, [16], Activation.tanh, NetInit.orthogonal, gens)
    for row, seed in enumerate((5, 6)):
        alone = categorical(n_actions=3, seed=seed)
        for p, q in zip(both.parameters(), alone.parameters(), strict=True):
            assert torch.equal(p[row], q[0])


@pytest.mark.parametrize(
    ("returns", "baseline"),
    [(Returns.total, Baseline.none), (Returns.reward_to_go, Baseline.leave_one_out)],
)
def test_scoring_only_live_steps_gives_the_full_surrogates_gradient(
    returns: Returns, baseline: Baseline
) -> None:
    """The estimator drops dead steps before the backward pass, run by run; the gradient is
    that of the surrogate over every [R, N, T] step (dead ones have weight 0), to rounding."""
    env = make_batched_env("cartpole", horizon=100)
    gens = [torch.Generator().manual_seed(s) for s in (0, 1)]
    policy = CategoricalMLP(4, 2, [16], Activation.tanh, NetInit.orthogonal, gens)
    sampler = BatchedEnvSampler(env, check_every=None)
    keys = stream_keys(seed_keys([3, 4]), Stream.sample, 1)
    batch = sampler.sample(policy, keys, 128)
    assert not batch.alive.all()
    w = weights(batch, 1.0, returns, baseline)
    logp = policy.log_prob(batch.states.flatten(1, 2), batch.actions.flatten(1, 2))
    full = flat_grad((w.flatten(1) * logp).sum() / batch.n, policy.parameters())
    est = MinibatchGradient(sampler, 128, returns, baseline)
    torch.testing.assert_close(est.estimate(policy, keys).grad, full, rtol=1e-12, atol=1e-12)
