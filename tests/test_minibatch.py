"""The mini-batch estimator against the exact gradient, with tolerances from the sample spread."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from pgexp.config import Baseline, Returns
from pgexp.envs import make_toy_text
from pgexp.estimators import ExactGradient, MinibatchGradient, dp_objective
from pgexp.rollout import Sampler
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
