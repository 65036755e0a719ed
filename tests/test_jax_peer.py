"""The JAX peer of the benchmarks solves pgexp's problems: its CartPole steps as gymnasium's do,
and its REINFORCE learns (skipped where JAX is not installed: ``pip install -e ".[peer]"``)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

jax = pytest.importorskip("jax")

from benchmarks.jax_reinforce import cartpole_step, cartpole_train  # noqa: E402


def test_the_peers_cartpole_steps_as_gymnasium_does() -> None:
    env = gym.make("CartPole-v1").unwrapped
    state, _ = env.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(60):
        action = int(rng.integers(2))
        expected, _, terminated, _, _ = env.step(action)
        mine, done = cartpole_step(jax.numpy.asarray(state, dtype=jax.numpy.float32), action)
        np.testing.assert_allclose(np.asarray(mine), expected, rtol=1e-5, atol=1e-5)
        assert bool(done) == terminated
        if terminated:
            state, _ = env.reset(seed=int(rng.integers(100)))
        else:
            state = expected


@pytest.mark.slow
def test_the_peers_reinforce_learns_cartpole() -> None:
    returns = np.asarray(jax.jit(lambda k: cartpole_train(k, 60))(jax.random.PRNGKey(1)))
    assert returns[0] < 50 and returns[-10:].mean() > 150, returns
