"""The torch CartPole against gymnasium's CartPole-v1, step by step on identical states."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from pgexp.envs.cartpole import TorchCartPole


def test_steps_match_gymnasium_until_termination() -> None:
    env = gym.make("CartPole-v1").unwrapped
    rng = np.random.default_rng(0)
    episodes, terminations = 0, 0
    for seed in range(20):
        env.reset(seed=seed)
        state = torch.tensor(env.state, dtype=torch.float64)[None]
        for _ in range(500):
            action = int(rng.integers(2))
            _, reward, terminated, _, _ = env.step(action)
            state, r, done = TorchCartPole.step(state, torch.tensor([action]))
            np.testing.assert_allclose(state[0].numpy(), env.state, rtol=1e-12, atol=1e-12)
            assert r.item() == reward and bool(done) == terminated
            if terminated:
                terminations += 1
                break
        episodes += 1
    assert terminations == episodes  # random actions always drop the pole within 500 steps


def test_reset_is_uniform_in_the_gymnasium_box_and_batched() -> None:
    gen = torch.Generator().manual_seed(0)
    state = TorchCartPole.reset(100_000, gen, dtype=torch.float64)
    assert state.shape == (100_000, 4)
    assert state.min() >= -0.05 and state.max() < 0.05
    torch.testing.assert_close(
        state.mean(0), torch.zeros(4, dtype=torch.float64), atol=1e-3, rtol=0
    )


def test_a_batch_steps_like_its_rows() -> None:
    gen = torch.Generator().manual_seed(1)
    state = TorchCartPole.reset(64, gen, dtype=torch.float64) * 40  # some start terminated
    action = torch.randint(2, (64,), generator=gen)
    batch = TorchCartPole.step(state, action)
    for i in range(64):
        row = TorchCartPole.step(state[i : i + 1], action[i : i + 1])
        for b, r in zip(batch, row, strict=True):
            assert torch.equal(b[i : i + 1], r)
    assert batch[2].any() and not batch[2].all()
