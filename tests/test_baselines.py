"""The state-value and optimal constant baselines: unbiased against the exact gradient, each
built as it says (V^π against J and sampled returns; Greensmith's constant against a
per-trajectory autograd computation), and refused by key where they do not apply."""

from __future__ import annotations

import pytest
import torch

from pgexp.config import (
    Baseline,
    MinibatchEstimatorConfig,
    Returns,
    TableInit,
)
from pgexp.envs import make_batched_env
from pgexp.errors import ConfigError
from pgexp.estimators import ExactGradient, MinibatchGradient, dp_objective, make_estimator
from pgexp.estimators.base import flat_grad
from pgexp.estimators.baselines import StateValues, state_baseline
from pgexp.estimators.minibatch import raw_weights
from pgexp.policies import LinearSoftmax
from pgexp.rollout import Sampler
from tests.helpers import compose, quiet, random_policy, sample_keys, small_mdps

MDPS = small_mdps()


def draws(mdp, policy, baseline: Baseline, returns: Returns, n: int, repeats: int) -> torch.Tensor:
    """[repeats, P] independent estimates of n trajectories each."""
    est = MinibatchGradient(Sampler(mdp), n, returns, baseline, mdp=mdp)
    return torch.cat([est.estimate(policy, sample_keys(7, k)).grad for k in range(repeats)])


@pytest.mark.parametrize("baseline", [Baseline.value, Baseline.optimal])
@pytest.mark.parametrize("returns", list(Returns))
@pytest.mark.parametrize("name", ["chain_T6_discounted", "garnet_T4_discounted_by_step"])
def test_the_value_and_optimal_baselines_are_unbiased(
    name: str, returns: Returns, baseline: Baseline
) -> None:
    mdp = MDPS[name]
    policy = random_policy(mdp, seed=1)
    exact = ExactGradient(mdp).estimate(policy).grad[0]
    samples = draws(mdp, policy, baseline, returns, n=4, repeats=400)
    z = (samples.mean(0) - exact) / (samples.std(0) / 20).clamp_min(1e-12)
    assert z.abs().max() < 4.5, z  # at most 72 coordinates: false alarms below 1e-3


def test_a_linear_policy_gets_an_unbiased_baseline_per_logit() -> None:
    mdp = MDPS["garnet_T4"]
    gens = [torch.Generator().manual_seed(4)]
    features = torch.randn(mdp.n_states, mdp.n_actions, 3, generator=gens[0], dtype=torch.float64)
    policy = LinearSoftmax(features, TableInit.normal, 1.0, gens)
    exact = ExactGradient(mdp).estimate(policy).grad[0]
    samples = draws(mdp, policy, Baseline.optimal, Returns.total, n=3, repeats=400)
    z = (samples.mean(0) - exact) / (samples.std(0) / 20).clamp_min(1e-12)
    assert z.abs().max() < 4.5, z


@pytest.mark.parametrize("name", ["chain_T6_discounted", "frozenlake2x2_T5", "garnet_T4"])
def test_the_state_values_give_J_and_the_expected_reward_to_go(name: str) -> None:
    """Σ_s μ0(s) V_0(s) = J (dp), V_{T−1}(s) = Σ_a π(a|s) R(s, a), and over 40,000 sampled
    trajectories the reward-to-go minus γ^t V_t(s_t) averages to 0 at every step t."""
    mdp = MDPS[name]
    policy = random_policy(mdp, seed=2)
    values = StateValues(mdp).at(policy)  # [1, T, S], γ^t V_t
    J = dp_objective(mdp, policy)
    torch.testing.assert_close((mdp.mu0 * values[0, 0]).sum(), J[0], rtol=1e-13, atol=1e-13)
    last = (policy.probs()[0] * mdp.expected_reward()).sum(-1) * mdp.discount ** (mdp.horizon - 1)
    torch.testing.assert_close(values[0, -1], last.detach(), rtol=1e-13, atol=1e-13)
    batch = Sampler(mdp).sample(policy, sample_keys(3), 40_000)
    advantage = raw_weights(batch, mdp.discount, Returns.reward_to_go)
    advantage = (advantage - state_baseline(batch, values))[0]  # [N, T]
    z = advantage.mean(0) / (advantage.std(0) / 200).clamp_min(1e-12)
    assert z.abs().max() < 4.5, z


def test_the_optimal_baseline_is_greensmiths_constant_from_the_other_trajectories() -> None:
    """Each trajectory's score s_i and gradient term ĝ_i by autograd through log π, one
    trajectory at a time; b_ik = Σ_{j≠i} ĝ_jk s_jk / Σ_{j≠i} s_jk² by loops; the estimate is
    (1/N) Σ_i (ĝ_i − b_i s_i)."""
    mdp = MDPS["frozenlake2x2_T5"]
    policy = random_policy(mdp, seed=5)
    keys, n = sample_keys(11), 7
    batch = Sampler(mdp).sample(policy, keys, n)
    w = raw_weights(batch, mdp.discount, Returns.total) * batch.alive

    def per_trajectory(i: int, weight: torch.Tensor) -> torch.Tensor:
        logp = policy.log_probs()[0, batch.states[0, i], batch.actions[0, i]]  # [T]
        return flat_grad((weight * batch.alive[0, i] * logp).sum(), policy.parameters())[0]

    scores = torch.stack([per_trajectory(i, torch.ones(())) for i in range(n)])
    grads = torch.stack([per_trajectory(i, w[0, i]) for i in range(n)])
    expected = torch.zeros_like(scores[0])
    for i in range(n):
        others = [j for j in range(n) if j != i]
        num = sum(grads[j] * scores[j] for j in others)
        den = sum(scores[j] ** 2 for j in others)
        b = torch.where(den > 0, num / den, 0.0)
        expected += (grads[i] - b * scores[i]) / n
    assert float(scores.abs().max()) > 0.5 and float((expected - grads.mean(0)).abs().max()) > 1e-3
    est = MinibatchGradient(Sampler(mdp), n, Returns.total, Baseline.optimal)
    torch.testing.assert_close(est.estimate(policy, keys).grad[0], expected, rtol=0, atol=1e-12)


@pytest.mark.slow
def test_the_optimal_constant_lowers_the_variance_of_reinforce() -> None:
    """Chain, N = 16, 300 draws each: tr Cov with Greensmith's constant (estimated from the
    other 15) against none; γ^t V_t against leave-one-out with reward-to-go."""
    mdp = MDPS["chain_T6_discounted"]
    policy = random_policy(mdp, seed=1)

    def spread(baseline: Baseline, returns: Returns) -> float:
        return float(draws(mdp, policy, baseline, returns, n=16, repeats=300).var(0).sum())

    assert spread(Baseline.optimal, Returns.total) < 0.5 * spread(Baseline.none, Returns.total)
    rtg = Returns.reward_to_go
    assert spread(Baseline.value, rtg) < 0.9 * spread(Baseline.leave_one_out, rtg)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["env=cartpole", "policy=mlp", "estimator.baseline=optimal"],
         "estimator.baseline=optimal needs a table policy"),
        (["env=cartpole", "policy=mlp", "estimator.baseline=value"],
         "estimator.baseline=value needs a table policy"),
        (["estimator.baseline=optimal", "estimator.natural=true"],
         "estimator.baseline=optimal does not combine with estimator.natural=true"),
        (["estimator.baseline=optimal", "estimator.N=1"],
         "estimator.N (with estimator.baseline=optimal) must be an integer >= 2"),
    ],
)  # fmt: skip
def test_a_baseline_that_does_not_apply_is_refused_by_key(
    overrides: list[str], message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        compose(quiet(["estimator=minibatch", *overrides]))
    assert str(error.value).startswith(message) and "\n" not in str(error.value)


def test_the_value_baseline_needs_a_finite_mdp() -> None:
    cfg = MinibatchEstimatorConfig(N=4, baseline=Baseline.value)
    with pytest.raises(ConfigError, match=r"^estimator\.baseline=value needs a finite MDP"):
        make_estimator(cfg, make_batched_env("cartpole", horizon=10))
