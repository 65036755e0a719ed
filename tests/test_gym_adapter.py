"""The generic gymnasium adapter: real gymnasium vector envs behind pgexp's sampler."""

from __future__ import annotations

import math
import os
from pathlib import Path

import pytest
import torch

from pgexp.config import Activation, NetInit, Vectorization
from pgexp.envs import GymVectorEnv, make_env
from pgexp.envs.batched import make_batched_env
from pgexp.errors import ConfigError
from pgexp.metrics import read_metrics
from pgexp.policies import CategoricalMLP
from pgexp.records import Status
from pgexp.rollout import BatchedEnvSampler, GymSampler
from pgexp.run import run
from tests.helpers import assert_same_trajectories, compose, quiet, sample_keys


def cartpole_policy() -> CategoricalMLP:
    """A random-init MLP whose CartPole episodes last about 10-60 steps."""
    gens = [torch.Generator().manual_seed(0)]
    return CategoricalMLP(4, 2, [16], Activation.tanh, NetInit.default, gens)


def test_cartpole_masks_rewards_and_lengths() -> None:
    env = GymVectorEnv("CartPole-v1", {}, horizon=None)
    assert (env.horizon, env.obs_dim, env.n_actions) == (500, 4, 2)  # from the id's spec
    batch = GymSampler(env).sample(cartpole_policy(), sample_keys(1), 64)
    env.close()
    assert batch.states.shape == (1, 64, 500, 4) and batch.actions.shape == (1, 64, 500)
    lengths = batch.alive.sum(-1)
    assert (lengths < 500).all()  # every copy ended, so the round stopped early
    # alive is a prefix and CartPole pays 1 per step: the return is the episode length
    assert torch.equal(batch.alive, torch.arange(500) < lengths[..., None])
    assert torch.equal(batch.returns(1.0), lengths.double())
    # the first observation of each copy is gymnasium's reset state, inside ±0.05
    assert (batch.states[:, :, 0].abs() <= 0.05).all()


@pytest.mark.slow
def test_episode_lengths_match_the_torch_cartpole() -> None:
    """Same policy, two independent implementations: the mean episode lengths agree."""
    n = 2000
    policy = cartpole_policy()
    env = GymVectorEnv("CartPole-v1", {}, horizon=500)
    gym_len = GymSampler(env).sample(policy, sample_keys(2), n).alive.sum(-1)
    env.close()
    torch_env = make_batched_env("cartpole", horizon=500)
    sampler = BatchedEnvSampler(torch_env)
    torch_len = sampler.sample(policy, sample_keys(3), n).alive.sum(-1)
    a, b = gym_len.double(), torch_len.double()
    z = (a.mean() - b.mean()) / math.sqrt(float(a.var() + b.var()) / n)
    assert abs(float(z)) < 4, (float(a.mean()), float(b.mean()))


def test_sync_and_async_give_the_same_trajectories() -> None:
    batches = []
    for mode in ("sync", "async"):
        env = GymVectorEnv("CartPole-v1", {}, 100, vectorization=Vectorization[mode], num_envs=4)
        batches.append(GymSampler(env).sample(cartpole_policy(), sample_keys(4), 10))
        env.close()
    sync, async_ = batches
    assert sync.n == async_.n == 10  # 4 + 4 + 2 copies in three rounds
    assert_same_trajectories(sync, async_)


@pytest.mark.parametrize(
    ("env_id", "policy", "horizon"),
    [("CartPole-v1", "mlp", 500), ("Acrobot-v1", "mlp", 500), ("MountainCar-v0", "mlp", 200),
     ("Pendulum-v1", "gaussian", 200)],
)  # fmt: skip
def test_runs_through_the_cli_config(
    env_id: str, policy: str, horizon: int, tmp_path: Path
) -> None:
    overrides = [
        "env=gym",
        f"env.id={env_id}",
        f"policy={policy}",
        "estimator=minibatch",
        "estimator.N=4",
        "train.optimizer=adam",
        "train.lr=0.001",
        "train.iters=2",
    ]
    cfg = compose(quiet(overrides))
    summary = run(cfg, tmp_path)
    records = read_metrics(tmp_path / "metrics.jsonl")
    assert summary.status is Status.ok and len(records) == 2
    assert cfg.env.name == env_id
    assert 0 < summary.env_steps <= 2 * 4 * horizon
    if env_id in ("MountainCar-v0", "Pendulum-v1"):  # neither ends before its TimeLimit
        assert summary.env_steps == 2 * 4 * horizon
    if env_id == "MountainCar-v0":  # -1 per step, and a random policy never reaches the flag
        assert all(r.return_mean == -200 for r in records)


@pytest.mark.parametrize(
    ("env_id", "horizon", "message"),
    [
        ("NoSuchEnv-v0", None, "env.id must be a registered gymnasium id"),
        ("Blackjack-v1", None, "env.horizon must be set"),
        ("CartPole-v1", None, "env.kwargs do not fit CartPole-v1"),
        ("CarRacing-v3", None, "'CarRacing-v3' is registered but needs a package"),
    ],
)
def test_bad_ids_are_config_errors(env_id: str, horizon: int | None, message: str) -> None:
    kwargs = {"no_such_kwarg": 1} if env_id == "CartPole-v1" else {}
    with pytest.raises(ConfigError, match=message):
        GymVectorEnv(env_id, kwargs, horizon)


def test_horizon_null_is_only_for_gym() -> None:
    cfg = compose(quiet(["env=cartpole", "env.horizon=null"]))
    with pytest.raises(ConfigError, match=r"env\.horizon must be an integer"):
        run(cfg, Path("unused"))
    assert make_env(compose(["env=gym", "env.horizon=7"]).env).horizon == 7


def test_width_caps_copies_per_round() -> None:
    """null num_envs: all N in one sync vector env, but one async worker per core."""
    cores = os.cpu_count() or 1
    assert GymVectorEnv("CartPole-v1", {}, None).width(1000) == 1000
    parallel = Vectorization["async"]
    assert GymVectorEnv("CartPole-v1", {}, None, vectorization=parallel).width(1000) == cores
    assert GymVectorEnv("CartPole-v1", {}, None, vectorization=parallel, num_envs=3).width(2) == 2
