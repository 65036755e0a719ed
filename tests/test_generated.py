"""Generated MDPs against closed forms."""

from __future__ import annotations

import pytest
import torch

from pgexp.envs import make_bandit, make_chain, make_garnet
from pgexp.estimators import ExactGradient, dp_objective
from tests.helpers import random_policy


def test_bandit_gradient_has_the_softmax_closed_form() -> None:
    """∂J/∂θ_a = π_a (r_a − J) for a one-step softmax bandit."""
    rewards = torch.tensor([1.0, 0.9, 0.1], dtype=torch.float64)
    mdp = make_bandit(rewards.tolist())
    policy = random_policy(mdp, seed=1)
    pi = policy.probs().detach()[0, 0]  # run 0, state 0
    J = float(pi @ rewards)
    est = ExactGradient(mdp).estimate(policy)
    assert est.objective is not None
    assert float(est.objective[0]) == pytest.approx(J, abs=1e-15)
    torch.testing.assert_close(est.grad[0], pi * (rewards - J), atol=1e-15, rtol=0)


def test_uniform_policy_on_the_chain_has_the_value_of_a_fair_coin_walk() -> None:
    """With slip 0 and the uniform policy, each step goes back (reward 2) w.p. 1/2."""
    mdp = make_chain(3, slip=0.0, small_reward=2.0, large_reward=10.0, horizon=2)
    policy = random_policy(mdp, seed=0, scale=0.0)
    # t=0: back pays 2 w.p. 1/2; t=1: from 0 or 1 (w.p. 1/2 each) back pays 2 w.p. 1/2.
    assert dp_objective(mdp, policy).item() == pytest.approx(1.0 + 1.0)


def test_chain_rewards_the_patient_policy() -> None:
    mdp = make_chain(5, slip=0.0, small_reward=2.0, large_reward=10.0, horizon=10)
    forward = random_policy(mdp, seed=0, scale=0.0)
    with torch.no_grad():
        forward.theta[..., 0] = 50.0
    assert dp_objective(mdp, forward).item() == pytest.approx(10.0 * 6)  # reach end at t=4


def test_garnet_is_a_function_of_its_seed() -> None:
    a, b, c = (
        make_garnet(8, 3, 4, seed=5, horizon=3),
        make_garnet(8, 3, 4, seed=5, horizon=3),
        make_garnet(8, 3, 4, seed=6, horizon=3),
    )
    assert torch.equal(a.dense_transitions(), b.dense_transitions())
    assert not torch.equal(a.dense_transitions(), c.dense_transitions())
    assert (a.dense_transitions() > 0).sum(-1).eq(4).all()


def test_empty_bandit_is_rejected() -> None:
    with pytest.raises(ValueError, match="at least one reward"):
        make_bandit([])
