"""Torch-native batched envs against gymnasium, step by step on identical float64 states."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from pgexp.envs.acrobot import TorchAcrobot, wrap_angle
from pgexp.envs.cartpole import TorchCartPole
from pgexp.envs.pendulum import TorchPendulum
from tests.helpers import draws

Policy = Callable[[np.ndarray, np.random.Generator], Any]


def random_discrete(n: int) -> Policy:
    return lambda state, rng: int(rng.integers(n))


def acrobot_pump(state: np.ndarray, rng: np.random.Generator) -> int:
    """Torque along the second joint's velocity (mostly): pumps energy, so episodes terminate."""
    return 2 if state[3] > 0 else (0 if rng.uniform() < 0.9 else 1)


def pendulum_torque(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(-3.0, 3.0, size=(1,))  # beyond ±2: exercises the clipping


def as_tensor(action: Any) -> torch.Tensor:
    a = torch.as_tensor(action)
    return a[None] if a.ndim == 0 else a[None, :]


CASES = [
    ("CartPole-v1", TorchCartPole, random_discrete(2), 500),
    ("Acrobot-v1", TorchAcrobot, acrobot_pump, 500),
    ("Pendulum-v1", TorchPendulum, pendulum_torque, 200),
]


@pytest.mark.parametrize(
    ("env_id", "torch_env", "policy", "steps"), CASES, ids=[c[0] for c in CASES]
)
def test_steps_match_gymnasium(env_id: str, torch_env: Any, policy: Policy, steps: int) -> None:
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(0)
    terminations = 0
    for seed in range(8):
        env.reset(seed=seed)
        for _ in range(steps):
            # identical state and action on both sides, so rounding never accumulates
            state = torch.tensor(np.asarray(env.state), dtype=torch.float64)[None]
            action = policy(np.asarray(env.state), rng)
            obs, reward, terminated, _, _ = env.step(action)
            state, r, done = torch_env.step(state, as_tensor(action))
            np.testing.assert_allclose(state[0].numpy(), env.state, rtol=1e-12, atol=1e-12)
            np.testing.assert_allclose(
                torch_env.observe(state)[0].numpy(), obs, rtol=1e-6, atol=1e-6
            )
            assert r.item() == pytest.approx(reward, rel=1e-12, abs=1e-12)
            assert bool(done) == terminated
            if terminated:
                terminations += 1
                break
    if env_id != "Pendulum-v1":
        assert terminations >= 4  # termination itself is compared, not only the dynamics


@pytest.mark.parametrize(
    ("torch_env", "low", "high"),
    [
        (TorchCartPole, [-0.05] * 4, [0.05] * 4),
        (TorchAcrobot, [-0.1] * 4, [0.1] * 4),
        (TorchPendulum, [-np.pi, -1.0], [np.pi, 1.0]),
    ],
)
def test_reset_is_uniform_in_gymnasiums_box(
    torch_env: Any, low: list[float], high: list[float]
) -> None:
    state = torch_env.reset(draws(0, 100_000, len(low)), torch.float64)
    lo, hi = torch.tensor(low, dtype=torch.float64), torch.tensor(high, dtype=torch.float64)
    assert state.shape == (100_000, len(low))
    assert (state >= lo).all() and (state < hi).all()
    torch.testing.assert_close(
        state.mean(0), (lo + hi) / 2, atol=0.01 * float((hi - lo).max()), rtol=0
    )


def test_a_batch_steps_like_its_rows() -> None:
    state = TorchCartPole.reset(draws(1, 64, 4), torch.float64) * 40  # some start terminated
    action = (draws(2, 64, 1)[:, 0] < 0.5).long()
    batch = TorchCartPole.step(state, action)
    for i in range(64):
        row = TorchCartPole.step(state[i : i + 1], action[i : i + 1])
        for b, r in zip(batch, row, strict=True):
            assert torch.equal(b[i : i + 1], r)
    assert batch[2].any() and not batch[2].all()


def test_acrobot_wraps_angles_of_any_number_of_turns_like_gymnasium() -> None:
    """Extreme velocities can move an angle by more than a turn in one RK4 step: every next
    angle lies in [-π, π] and is gymnasium's to rounding, turns counted alike."""
    rng = np.random.default_rng(0)
    n = 20_000
    angles = rng.uniform(-np.pi, np.pi, (n, 2))
    speeds = rng.uniform(-1, 1, (n, 2)) * [4 * np.pi, 9 * np.pi]
    states = np.concatenate([angles, speeds], 1)
    actions = rng.integers(0, 3, n)
    nxt, _, _ = TorchAcrobot.step(torch.as_tensor(states), torch.as_tensor(actions))
    assert float(nxt[:, :2].abs().max()) <= np.pi
    env = gym.make("Acrobot-v1").unwrapped
    env.reset(seed=0)
    expected = []
    for state, action in zip(states, actions, strict=True):
        env.state = state.copy()
        env.step(int(action))
        expected.append(env.state[:2])
    gap = nxt[:, :2] - torch.as_tensor(np.array(expected))
    gap = torch.remainder(gap + np.pi, 2 * np.pi) - np.pi  # ±π on either side of the seam
    assert float(gap.abs().max()) < 1e-9
    wide = torch.as_tensor([7 * np.pi + 0.5, -11 * np.pi - 0.25, 101.0, 3 * np.pi - 1e-9])
    wrapped = wrap_angle(wide)
    assert float(wrapped.abs().max()) <= np.pi
    assert torch.allclose(torch.cos(wrapped), torch.cos(wide), atol=1e-12)
