"""The mini-batch estimator against the exact gradient, with tolerances from the sample spread."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from pgexp.config import Activation, Baseline, NetInit, Returns, TableInit
from pgexp.counter_rng import seed_keys, uniforms
from pgexp.envs import make_batched_env, make_toy_text
from pgexp.estimators import ExactGradient, MinibatchGradient, dp_objective
from pgexp.estimators.base import flat_grad
from pgexp.estimators.minibatch import weights
from pgexp.estimators.score import score_sum
from pgexp.policies import CategoricalMLP, LinearSoftmax, TabularSoftmax
from pgexp.rollout import BatchedEnvSampler, Sampler
from tests.helpers import random_policy, sample_keys, small_mdps

MDP = small_mdps()["chain_T6_discounted"]


def estimates(mdp, policy, n: int, repeats: int, seed: int, **options: Any) -> torch.Tensor:
    """[repeats, P] independent mini-batch estimates of N trajectories each (iterations
    1..repeats of a run seeded ``seed``)."""
    est = MinibatchGradient(Sampler(mdp), n, **options)
    return torch.cat([est.estimate(policy, sample_keys(seed, k)).grad for k in range(repeats)])


def z_scores(samples: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """[P] (mean − target) / standard error of the mean, per coordinate."""
    se = samples.std(0) / samples.shape[0] ** 0.5
    return (samples.mean(0) - target) / se.clamp_min(1e-12)


@pytest.mark.parametrize(
    "options",
    [
        {},
        pytest.param({"returns": Returns.reward_to_go}, marks=pytest.mark.slow),
        pytest.param({"baseline": Baseline.leave_one_out}, marks=pytest.mark.slow),
        {"returns": Returns.reward_to_go, "baseline": Baseline.leave_one_out},
    ],
)
def test_estimates_are_unbiased(options: dict[str, Any]) -> None:
    policy = random_policy(MDP, seed=0)
    exact = ExactGradient(MDP).estimate(policy).grad[0]
    z = z_scores(estimates(MDP, policy, n=4, repeats=400, seed=1, **options), exact)
    assert z.abs().max() < 4.5, z  # 12 coordinates; 4.5σ keeps false alarms below 1e-4


@pytest.mark.slow
def test_the_unbiasedness_check_detects_a_biased_estimator() -> None:
    """The batch-mean baseline at N=2 estimates (1 − 1/N)·∇J = ∇J/2: the same check must fail."""
    policy = random_policy(MDP, seed=0)
    exact = ExactGradient(MDP).estimate(policy).grad[0]
    samples = estimates(MDP, policy, n=2, repeats=1000, seed=1, baseline=Baseline.mean)
    assert z_scores(samples, exact).abs().max() > 8
    assert z_scores(samples, exact / 2).abs().max() < 4.5


@pytest.mark.slow
def test_squared_error_falls_like_one_over_n() -> None:
    policy = random_policy(MDP, seed=2)
    exact = ExactGradient(MDP).estimate(policy).grad[0]
    mse = {
        n: ((estimates(MDP, policy, n, repeats=300, seed=n) - exact) ** 2).sum(1).mean().item()
        for n in (10, 1000)
    }
    assert 60 < mse[10] / mse[1000] < 160  # theory: exactly 100; spread of 300 repeats ~ ±10%


def test_sampled_returns_estimate_J_and_count_real_steps() -> None:
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=100)
    policy = random_policy(mdp, seed=0, scale=1.0)
    batch = Sampler(mdp).sample(policy, sample_keys(0), 20_000)
    returns = batch.returns(1.0)
    J = dp_objective(mdp, policy).item()
    assert abs(returns.mean().item() - J) < 5 * returns.std().item() / 20_000**0.5
    assert batch.env_steps().item() == int((batch.states != mdp.absorbing).sum())
    assert batch.env_steps().item() < 20_000 * 100  # episodes end early in holes and at the goal
    assert batch.rewards[~batch.alive].abs().sum() == 0


def test_a_table_policys_actions_follow_pi_in_each_state() -> None:
    """Two runs, two states each, 60 000 draws per state: frequencies within 5σ of π(·|s)."""
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=10)
    policy = random_policy(mdp, 4, runs=2)
    n, probs = 60_000, policy.probs().detach()
    states = torch.tensor([[2, 9], [9, 13]]).repeat_interleave(n, 1)  # [2, 2n]
    u = uniforms(seed_keys([1, 2]), (0, 2 * n), (0, 1), draw_major=True)
    actions = policy.sample(states, u)
    for r, pair in enumerate([(2, 9), (9, 13)]):
        for i, s in enumerate(pair):
            drawn = actions[r, i * n : (i + 1) * n]
            freq = torch.bincount(drawn, minlength=mdp.n_actions).double() / n
            expected = probs[r, s]
            assert ((freq - expected).abs() <= 5 * (expected * (1 - expected) / n).sqrt()).all()


@pytest.mark.parametrize("kind", ["tabular", "linear"])
def test_table_score_gradients_are_autograd_through_log_pi(kind: str) -> None:
    """The closed form C − π·ΣC through the logits equals differentiating
    (1/N) Σ w·log π(a_t|s_t) by autograd over every step (a batch of two runs)."""
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=100)
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    if kind == "tabular":
        policy: Any = TabularSoftmax(
            mdp.n_states, mdp.n_actions, mdp.n_policy_states, TableInit.normal, 1.0, gens
        )
    else:
        phi = torch.randn(mdp.n_states, mdp.n_actions, 5, dtype=torch.float64, generator=gens[0])
        policy = LinearSoftmax(phi, TableInit.normal, 1.0, gens)
    batch = Sampler(mdp).sample(policy, seed_keys([1, 2]), 300)
    w = weights(batch, 1.0, Returns.reward_to_go, Baseline.mean)
    logp = policy.log_prob(batch.states.flatten(1), batch.actions.flatten(1))
    by_autograd = flat_grad((w.flatten(1) * logp).sum() / 300, policy.parameters())
    score = score_sum(policy, 300)
    score.add(batch, w)
    grad = score.result()
    assert float(grad.abs().max()) > 1e-3
    torch.testing.assert_close(grad, by_autograd, rtol=0, atol=1e-15)


@pytest.mark.parametrize("returns", list(Returns))
@pytest.mark.parametrize(
    ("env", "baseline"),
    [("frozenlake", b) for b in Baseline]
    + [("cartpole", b) for b in Baseline if b not in (Baseline.value, Baseline.optimal)],
)
def test_a_chunked_estimate_is_the_whole_batchs(
    env: str, returns: Returns, baseline: Baseline
) -> None:
    """N = 23 in chunks of 7 (the last one of 2): the same trajectories (their draws follow
    their index), so the same gradient, mean return and env steps, bit for bit; on CartPole
    each chunk stops at its own longest episode, so the baseline's means are padded across
    chunks."""
    mdp = None
    if env == "frozenlake":
        mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, 100)
        sampler: Any = Sampler(mdp)
        policy: Any = random_policy(mdp, seed=3)
    else:
        sampler = BatchedEnvSampler(make_batched_env("cartpole", horizon=120))
        gens = [torch.Generator().manual_seed(0)]
        policy = CategoricalMLP(4, 2, [8], Activation.tanh, NetInit.orthogonal, gens).double()
    whole = MinibatchGradient(sampler, 23, returns, baseline, mdp=mdp).estimate(
        policy, sample_keys(5)
    )
    chunked = MinibatchGradient(sampler, 23, returns, baseline, chunk=7, mdp=mdp)
    parts = chunked.estimate(policy, sample_keys(5))
    assert parts.env_steps is not None and whole.env_steps is not None
    assert torch.equal(parts.env_steps, whole.env_steps) and parts.trajectories == 23
    assert parts.return_mean is not None and whole.return_mean is not None
    assert torch.equal(parts.return_mean, whole.return_mean)
    assert float(whole.grad.abs().max()) > 0
    assert torch.equal(parts.grad, whole.grad)
