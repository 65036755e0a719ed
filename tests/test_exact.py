"""The exact gradient: dp against enumeration, autograd against finite differences."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from pgexp.config import ExactMethod
from pgexp.envs import FiniteMDP, make_garnet, make_toy_text, unroll_time
from pgexp.estimators import (
    ExactGradient,
    TrajectoryLimitError,
    dp_objective,
    enumerate_objective,
    optimal_objective,
)
from pgexp.estimators.occupancy import SparseMDP, value, value_and_logit_grad
from pgexp.policies import LinearSoftmax, TabularSoftmax
from pgexp.policies.features import one_hot_features
from pgexp.run import run
from tests.helpers import compose, quiet, random_policy, small_mdps

SMALL = small_mdps()


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dp_and_enumeration_agree_to_1e_10(name: str, seed: int) -> None:
    mdp = SMALL[name]
    policy = random_policy(mdp, seed, scale=2.0)
    dp = ExactGradient(mdp, ExactMethod.dp).estimate(policy)
    en = ExactGradient(mdp, ExactMethod.enumerate, max_trajectories=10**7).estimate(policy)
    assert float(en.objective[0]) == pytest.approx(float(dp.objective[0]), rel=1e-10, abs=1e-10)
    torch.testing.assert_close(
        en.grad, dp.grad, rtol=0, atol=1e-10 * max(1.0, float(dp.grad.abs().max()))
    )
    assert dp.grad.abs().max() > 1e-6  # a real, non-trivial gradient


def central_differences(
    mdp: FiniteMDP, policy: torch.nn.Module, coords: torch.Tensor, h: float = 1e-6
) -> torch.Tensor:
    """[len(coords)] (J(θ + h e_i) − J(θ − h e_i)) / 2h for flat coordinates of θ."""
    theta = policy.theta.data.view(-1)
    out = []
    with torch.no_grad():
        for i in coords.tolist():
            original = float(theta[i])
            theta[i] = original + h
            up = dp_objective(mdp, policy).item()
            theta[i] = original - h
            down = dp_objective(mdp, policy).item()
            theta[i] = original  # θ exactly as it was
            out.append((up - down) / (2 * h))
    return torch.tensor(out, dtype=torch.float64)


@pytest.mark.parametrize(
    ("env_id", "kwargs", "horizon"),
    [
        ("FrozenLake-v1", {"map_name": "4x4"}, 100),
        ("FrozenLake-v1", {"map_name": "8x8"}, 200),
        ("CliffWalking-v1", {}, 50),
        ("Taxi-v4", {}, 200),
    ],
)
def test_dp_gradient_matches_finite_differences(env_id: str, kwargs: dict, horizon: int) -> None:
    mdp = make_toy_text(env_id, kwargs, horizon)
    policy = random_policy(mdp, seed=0, scale=1.0)
    grad = ExactGradient(mdp).estimate(policy).grad[0]
    # the coordinates with the largest gradient, plus a few random ones
    gen = torch.Generator().manual_seed(0)
    coords = torch.cat(
        [grad.abs().topk(6).indices, torch.randint(grad.numel(), (6,), generator=gen)]
    )
    fd = central_differences(mdp, policy, coords)
    scale = float(grad.abs().max())
    torch.testing.assert_close(grad[coords], fd, rtol=1e-5, atol=1e-6 * scale)


def test_linear_softmax_with_one_hot_features_is_the_tabular_policy() -> None:
    mdp = SMALL["chain_T6_discounted"]
    tabular = random_policy(mdp, seed=4)
    phi = one_hot_features(mdp.n_states, mdp.n_actions, mdp.n_policy_states)
    linear = LinearSoftmax(phi)
    with torch.no_grad():
        linear.theta.copy_(tabular.theta.reshape(1, -1))
    a, b = ExactGradient(mdp).estimate(tabular), ExactGradient(mdp).estimate(linear)
    assert a.objective is not None and b.objective is not None
    assert torch.equal(a.objective, b.objective)
    torch.testing.assert_close(a.grad, b.grad, rtol=0, atol=1e-14)


def test_enumeration_refuses_too_many_trajectories() -> None:
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=100)
    with pytest.raises(TrajectoryLimitError, match="exceed"):
        enumerate_objective(mdp, random_policy(mdp, 0), max_trajectories=10**6)


def test_absorbing_state_has_no_parameters_and_no_gradient() -> None:
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=5)
    policy = random_policy(mdp, seed=0)
    assert policy.theta.shape == (1, 16, 4)  # [runs, non-absorbing states, actions]
    logits = policy.logits()
    assert logits.shape == (1, 17, 4) and logits[0, 16].abs().sum() == 0


def test_dp_on_a_discounted_garnet_matches_finite_differences_in_both_dtypes() -> None:
    mdp = make_garnet(60, 4, 5, seed=1, horizon=40, discount=0.95)
    policy = random_policy(mdp, seed=2, scale=1.5)
    exact = ExactGradient(mdp).estimate(policy)
    grad = exact.grad[0]
    coords = torch.cat([grad.abs().topk(6).indices, torch.arange(0, grad.numel(), 41)])
    fd = central_differences(mdp, policy, coords)
    scale = float(grad.abs().max())
    torch.testing.assert_close(grad[coords], fd, rtol=1e-5, atol=1e-6 * scale)
    assert exact.objective is not None and torch.equal(exact.objective, dp_objective(mdp, policy))
    single = ExactGradient(mdp).estimate(policy.to(dtype=torch.float32)).grad[0].double()
    assert float((single - grad).abs().max()) < 1e-4 * scale


def test_a_saturated_softmax_has_a_gradient_of_exactly_zero() -> None:
    """π(a|s) is exactly 0 or 1 in float64 at logits ±400: the softmax's derivative is 0 there,
    and so is every entry of the exact gradient (not a rounding residue)."""
    mdp = make_garnet(30, 3, 4, seed=0, horizon=20)
    policy = random_policy(mdp, seed=0)
    with torch.no_grad():
        best = policy.theta.argmax(-1, keepdim=True)
        policy.theta.fill_(-400).scatter_(-1, best, 400.0)
    assert set(policy.probs().unique().tolist()) == {0.0, 1.0}
    assert ExactGradient(mdp).estimate(policy).grad.abs().max() == 0


def test_each_run_of_a_batch_gets_the_gradient_it_gets_alone() -> None:
    """Bit for bit, whoever its companions are and wherever it sits among them."""
    mdp = make_garnet(60, 4, 3, seed=2, horizon=30, discount=0.95)
    sparse = SparseMDP.of(mdp, torch.float64)
    gen = torch.Generator().manual_seed(0)
    pi = torch.softmax(torch.randn(7, 60, 4, generator=gen, dtype=torch.float64), -1)
    J, grad = value_and_logit_grad(sparse, pi)
    for r in [0, 3, 6]:
        J_r, grad_r = value_and_logit_grad(sparse, pi[r : r + 1])
        assert torch.equal(J_r[0], J[r]) and torch.equal(grad_r[0], grad[r])
        assert torch.equal(value(sparse, pi[r : r + 1])[0], J[r])
    pair = value_and_logit_grad(sparse, pi[[5, 2]])  # other companions, another order
    assert torch.equal(pair[1][1], grad[2]) and torch.equal(pair[0][0], J[5])


def best_deterministic_policy_value(mdp: FiniteMDP) -> float:
    """max over every deterministic time-dependent policy d_t(s) of its J, each evaluated on
    its own (dense numpy policy evaluation, no maximum inside the recursion)."""
    S, A, T, gamma = mdp.n_states, mdp.n_actions, mdp.horizon, mdp.discount
    P = np.zeros((S, A, S))
    np.add.at(P, (mdp.entry_state.numpy(), mdp.entry_action.numpy(), mdp.entry_next.numpy()),
              mdp.entry_prob.numpy())  # fmt: skip
    R = mdp.expected_reward().numpy()
    rows = np.arange(S)
    best = -np.inf
    for choice in itertools.product(itertools.product(range(A), repeat=S), repeat=T):
        V = np.zeros(S)
        for t in reversed(range(T)):
            a = np.array(choice[t])
            V = R[rows, a] + gamma * P[rows, a] @ V
        best = max(best, float(mdp.mu0.numpy() @ V))
    return best


@settings(max_examples=12, deadline=None, derandomize=True)
@given(
    seed=st.integers(0, 2**16),
    states=st.integers(2, 3),
    horizon=st.integers(1, 3),
    discount=st.sampled_from([1.0, 0.9]),
)
def test_J_star_is_the_best_value_of_any_time_dependent_policy(
    seed: int, states: int, horizon: int, discount: float
) -> None:
    mdp = make_garnet(states, 2, 2, seed=seed, horizon=horizon, discount=discount)
    assert optimal_objective(mdp) == pytest.approx(best_deterministic_policy_value(mdp), abs=1e-12)


def test_J_star_on_frozenlake_4x4_is_the_finite_horizon_optimum_and_above_every_policy() -> None:
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=100)
    J_star = optimal_objective(mdp)
    assert J_star == pytest.approx(0.744190, abs=5e-7)  # value iteration (pymdptoolbox), T = 100
    for seed in range(5):
        assert float(dp_objective(mdp, random_policy(mdp, seed, 3.0))[0]) < J_star


@pytest.mark.parametrize("name", ["frozenlake2x2_T5", "garnet_T4", "chain_T6_discounted"])
def test_the_unrolled_mdp_keeps_J_and_J_star_and_repeats_a_stationary_policy(name: str) -> None:
    """A time-dependent policy whose T tables are one stationary policy's has its J, and both
    MDPs have the same J*; the unrolled one has a table per step and non-absorbing state."""
    mdp = SMALL[name]
    unrolled = unroll_time(mdp)
    T = mdp.horizon
    assert unrolled.n_policy_states == T * mdp.n_policy_states
    assert unrolled.n_states - unrolled.n_policy_states == mdp.n_states - mdp.n_policy_states
    assert optimal_objective(unrolled) == pytest.approx(optimal_objective(mdp), abs=1e-12)
    stationary = random_policy(mdp, 7)
    by_step = TabularSoftmax(unrolled.n_states, mdp.n_actions, unrolled.n_policy_states)
    with torch.no_grad():
        by_step.theta.copy_(stationary.theta.repeat(1, T, 1))
    J = float(dp_objective(mdp, stationary)[0])
    assert float(dp_objective(unrolled, by_step)[0]) == pytest.approx(J, abs=1e-12)


@pytest.mark.slow
def test_exact_ascent_of_a_time_dependent_policy_reaches_the_finite_horizon_optimum(
    tmp_path: Path,
) -> None:
    """FrozenLake 4x4 at T = 100: J* = 0.744190, which no stationary policy reaches (exact
    ascent of one stops near 0.7401); one table per step gets within 1e-3."""
    overrides = ["env=frozenlake4x4", "policy.time_dependent=true", "train.optimizer=adam",
                 "train.lr=0.1", "train.iters=600", "train.eval_episodes=0"]  # fmt: skip
    summary = run(compose(quiet(overrides)), tmp_path)
    assert summary.J_star is not None and summary.J_final is not None
    assert summary.J_star == pytest.approx(0.744190, abs=5e-7)
    assert 0 < summary.J_star - summary.J_final < 1e-3
