"""Finite MDPs: the absorbing-state rule, validation, and sampling checked against gymnasium."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from pgexp.counter_rng import seed_keys, uniforms
from pgexp.envs import from_entries, from_gymnasium, make_toy_text


def test_frozenlake_table_follows_the_absorbing_state_rule() -> None:
    env = gym.make("FrozenLake-v1", map_name="4x4")
    mdp = from_gymnasium(env, horizon=100)
    P, R = mdp.dense_transitions(), mdp.expected_reward()
    assert (mdp.n_states, mdp.n_actions, mdp.absorbing) == (17, 4, 16)
    torch.testing.assert_close(P.sum(-1), torch.ones(17, 4, dtype=torch.float64))
    # state 14, action 2 (right): 1/3 each to 15 (right), 10 (up) and the goal 15 -> absorbing
    expected = torch.zeros(17, dtype=torch.float64)
    expected[[10, 14]] = 1 / 3
    expected[16] = 1 / 3
    torch.testing.assert_close(P[14, 2], expected)
    assert R[14, 2].item() == pytest.approx(1 / 3)
    assert P[16, :, 16].tolist() == [1.0] * 4 and R[16].abs().sum() == 0
    assert mdp.mu0[0] == 1 and mdp.mu0.sum() == 1


def test_rows_that_do_not_sum_to_one_are_rejected() -> None:
    entries = [(0, 0, 0, 0.5, 0.0), (0, 0, 1, 0.4, 0.0), (1, 0, 1, 1.0, 0.0)]
    with pytest.raises(ValueError, match=r"P\[0\]\[0\] sums to 0.9"):
        from_entries(2, 1, entries, torch.tensor([1.0, 0.0]), horizon=3)


def test_sampled_next_states_follow_P() -> None:
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=10)
    table, n = mdp.sampling_table(), 60_000
    P = mdp.dense_transitions()
    for i, (s, a) in enumerate([(0, 0), (6, 1), (14, 2)]):
        states = torch.full((n,), s)
        u = uniforms(seed_keys([i]), (0, n), (0, 1))[0, :, 0]
        nxt, _ = mdp.sample_step(table, states, torch.full((n,), a), u)
        freq = torch.bincount(nxt, minlength=mdp.n_states).double() / n
        sigma = (P[s, a] * (1 - P[s, a]) / n).sqrt()
        assert ((freq - P[s, a]).abs() <= 5 * sigma + 1e-12).all()


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [("CliffWalking-v1", {}), ("Taxi-v4", {}), ("FrozenLake-v1", {"is_slippery": False})],
)
def test_deterministic_envs_step_like_gymnasium(env_id: str, kwargs: dict) -> None:
    """Same actions, same states, rewards and termination as gymnasium, step by step."""
    env = gym.make(env_id, **kwargs).unwrapped
    mdp = from_gymnasium(env, horizon=300)
    table, u = mdp.sampling_table(), torch.full((1,), 0.5, dtype=torch.float64)
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    state = torch.tensor([int(obs)])
    for _ in range(300):
        action = int(rng.integers(mdp.n_actions))
        obs, reward, terminated, _, _ = env.step(action)
        state, r = mdp.sample_step(table, state, torch.tensor([action]), u)
        assert r.item() == reward
        assert state.item() == (mdp.absorbing if terminated else obs)
        if terminated:
            break
