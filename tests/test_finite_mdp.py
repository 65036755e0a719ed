"""Finite MDPs: the absorbing-state rule, validation, and sampling checked against gymnasium."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch

from pgexp.counter_rng import seed_keys, uniforms
from pgexp.envs import FiniteMDP, from_entries, from_gymnasium, make_toy_text


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


def one_step(mdp: FiniteMDP, probs: torch.Tensor, states: torch.Tensor, u: torch.Tensor):
    """Entries [N] drawn for states [N] with uniforms [N] by the sampler's search."""
    table = mdp.step_table(probs.unsqueeze(0), mdp.entry_states())
    return torch.searchsorted(table, (2 * states + u).unsqueeze(0), right=True)[0]


def test_one_draw_per_step_follows_pi_times_P() -> None:
    """The entry (s, a, s') drawn from s has probability π(a|s)·p(s'|s, a)."""
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=10)
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(mdp.n_states, mdp.n_actions, generator=gen, dtype=torch.float64)
    probs = torch.softmax(logits, -1)
    n = 60_000
    for i, s in enumerate([0, 6, 14]):
        u = uniforms(seed_keys([i]), (0, n), (0, 1))[0, :, 0]
        entries = one_step(mdp, probs, torch.full((n,), s), u)
        counts = torch.bincount(entries, minlength=mdp.nnz)
        assert int(counts[mdp.entry_state == s].sum()) == n  # every draw stays in state s
        freq = counts.double() / n
        expected = torch.where(
            mdp.entry_state == s, probs[mdp.entry_state, mdp.entry_action] * mdp.entry_prob, 0.0
        )
        sigma = (expected * (1 - expected) / n).sqrt()
        assert ((freq - expected).abs() <= 5 * sigma + 1e-12).all()


def test_draws_stay_in_their_state_and_never_take_a_zero_mass_entry() -> None:
    """Actions of probability 0 (a saturated softmax), and uniforms at both ends of (0, 1),
    where 2s + u rounds to 2s or to 2s + 1: the first and the last entry of positive mass."""
    mdp = make_toy_text("FrozenLake-v1", {"map_name": "4x4"}, horizon=10)
    S, A = mdp.n_states, mdp.n_actions
    gen = torch.Generator().manual_seed(1)
    probs = torch.softmax(torch.randn(S, A, generator=gen, dtype=torch.float64), -1)
    probs[::2, 0] = 0.0  # the first action of even states
    probs[1::2, -1] = 0.0  # the last action of odd states
    probs /= probs.sum(-1, keepdim=True)
    mass = probs[mdp.entry_state, mdp.entry_action] * mdp.entry_prob
    states = torch.arange(S)
    positive = [torch.nonzero((mdp.entry_state == s) & (mass > 0)).flatten() for s in range(S)]
    for u, expected in [
        (2.0**-54, [p[0] for p in positive]),
        (1 - 2.0**-53, [p[-1] for p in positive]),
    ]:
        entries = one_step(mdp, probs, states, torch.full((S,), u, dtype=torch.float64))
        assert entries.tolist() == [int(e) for e in expected]
    u = uniforms(seed_keys([7]), (0, 20_000), (0, 1))[0, :, 0]
    drawn = one_step(mdp, probs, states.repeat(20_000 // S + 1)[:20_000], u)
    assert torch.equal(mdp.entry_state[drawn], states.repeat(20_000 // S + 1)[:20_000])
    assert (mass[drawn] > 0).all()


@pytest.mark.parametrize(
    ("env_id", "kwargs"),
    [("CliffWalking-v1", {}), ("Taxi-v4", {}), ("FrozenLake-v1", {"is_slippery": False})],
)
def test_deterministic_envs_step_like_gymnasium(env_id: str, kwargs: dict) -> None:
    """Same actions, same states, rewards and termination as gymnasium, step by step."""
    env = gym.make(env_id, **kwargs).unwrapped
    mdp = from_gymnasium(env, horizon=300)
    P, R = mdp.dense_transitions(), mdp.expected_reward()
    rng = np.random.default_rng(0)
    obs, _ = env.reset(seed=0)
    state = int(obs)
    for _ in range(300):
        action = int(rng.integers(mdp.n_actions))
        obs, reward, terminated, _, _ = env.step(action)
        assert P[state, action].max() == 1 and R[state, action] == reward
        state = int(P[state, action].argmax())
        assert state == (mdp.absorbing if terminated else obs)
        if terminated:
            break
