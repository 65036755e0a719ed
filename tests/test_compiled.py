"""hardware.compile: torch.compile changes speed, not results (beyond rounding)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgexp.config import Activation, NetInit
from pgexp.envs import make_batched_env
from pgexp.metrics import read_metrics
from pgexp.policies import CategoricalMLP, GaussianMLP, Policy
from pgexp.rollout import BatchedEnvSampler, Trajectories
from pgexp.run import run
from tests.helpers import assert_same_trajectories, compose, quiet, sample_keys


def net_policy(env: str, runs: int) -> Policy:
    """A float64 network policy of ``runs`` runs for a torch env (seeds 0, 1, ...)."""
    gens = [torch.Generator().manual_seed(r) for r in range(runs)]
    obs_dim = {"cartpole": 4, "acrobot": 6, "pendulum": 3}[env]
    if env == "pendulum":
        return GaussianMLP(obs_dim, 1, [16], Activation.tanh, NetInit.orthogonal, gens)
    n_actions = {"cartpole": 2, "acrobot": 3}[env]
    # default init: logits far from uniform, so that the draws depend on the network's numbers
    return CategoricalMLP(obs_dim, n_actions, [32, 32], Activation.tanh, NetInit.default, gens)


def assert_same_rollout(eager: Trajectories, compiled: Trajectories, continuous: bool) -> None:
    """The same actions taken, episodes ended and rewards earned, and the same states to
    rounding as the dynamics amplify it over up to 200 steps (continuous actions to rounding).
    Compiled blocks are longer than the eager sampler's checks, so a compiled batch may have
    more columns: every copy has ended in those (no reward, not alive)."""
    T = eager.states.shape[2]
    assert compiled.states.shape[2] >= T
    assert not compiled.alive[:, :, T:].any() and not compiled.rewards[:, :, T:].any()
    compiled = Trajectories(*(x[:, :, :T] for x in (compiled.states, compiled.actions,
                                                    compiled.rewards, compiled.alive)))  # fmt: skip
    assert compiled.states.shape == eager.states.shape
    assert torch.equal(compiled.alive, eager.alive)
    if continuous:
        torch.testing.assert_close(compiled.actions, eager.actions, rtol=1e-10, atol=1e-12)
    else:
        assert torch.equal(compiled.actions, eager.actions)
    torch.testing.assert_close(compiled.rewards, eager.rewards, rtol=1e-10, atol=1e-12)
    torch.testing.assert_close(compiled.states, eager.states, rtol=1e-7, atol=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("env", ["acrobot", "pendulum"])
def test_compiled_rollout_matches_eager(env: str) -> None:
    """A horizon that is not a whole number of blocks (its last block is cut), two runs."""
    eager_env = make_batched_env(env, horizon=37)
    policy = net_policy(env, runs=2)
    keys = sample_keys([7, 8])
    eager = BatchedEnvSampler(eager_env).sample(policy, keys, 23, first=3)
    compiled = BatchedEnvSampler(eager_env.compiled()).sample(policy, keys, 23, first=3)
    assert compiled.states.shape[2] == 37
    assert_same_rollout(eager, compiled, continuous=env == "pendulum")


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    runs=st.integers(1, 2),
    n=st.integers(1, 90),
    first=st.integers(0, 200),
    horizon=st.integers(1, 200),
    seed=st.integers(0, 2**31),
    spread=st.sampled_from([1.0, 8.0]),
)
def test_compiled_cartpole_rollouts_match_eager(
    runs: int, n: int, first: int, horizon: int, seed: int, spread: float
) -> None:
    """Any batch: runs, copies, chunk position, horizon (cut or stopped early: with a wide
    reset most carts fall within a block), the same as the eager sampler's. The program
    compiles for the first two shapes only (then with a dynamic batch size), whatever sampler
    runs it."""
    env = make_batched_env("cartpole", horizon=horizon)
    compiled = BatchedEnvSampler(env.compiled())
    policy = net_policy("cartpole", runs)
    for p in policy.parameters():
        p.data.mul_(spread)  # sharper draws; episodes of every length
    keys = sample_keys(range(seed, seed + runs))
    eager = BatchedEnvSampler(env).sample(policy, keys, n, first)
    assert_same_rollout(eager, compiled.sample(policy, keys, n, first), continuous=False)


@pytest.mark.slow
def test_compiled_run_matches_eager(tmp_path: Path) -> None:
    overrides = [
        "env=cartpole",
        "env.horizon=60",
        "policy=mlp",
        "estimator=minibatch",
        "estimator.N=16",
        "train.optimizer=adam",
        "train.lr=0.01",
        "train.iters=3",
    ]
    for flag in ("false", "true"):
        run(compose(quiet([*overrides, f"hardware.compile={flag}"])), tmp_path / flag)
    eager = read_metrics(tmp_path / "false" / "metrics.jsonl")
    compiled = read_metrics(tmp_path / "true" / "metrics.jsonl")
    for a, b in zip(eager, compiled, strict=True):
        assert a.return_mean == b.return_mean and a.env_steps == b.env_steps
        assert b.grad_norm == pytest.approx(a.grad_norm, rel=1e-9)


@pytest.mark.slow
def test_a_rollout_torch_cannot_compile_runs_eager(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A machine without a working C++ compiler for inductor (a real compilation failure, in an
    empty inductor cache): one warning, then the eager sampler's trajectories, bit for bit."""
    import torch._dynamo
    import torch._inductor.config as inductor

    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", str(tmp_path))
    torch._dynamo.reset()  # nothing compiled earlier in this process is reused
    env = make_batched_env("cartpole", horizon=30)
    policy, keys = net_policy("cartpole", 1), sample_keys(3)
    sampler = BatchedEnvSampler(env.compiled())
    no_compiler = inductor.patch({"cpp.cxx": ("/nonexistent/c++",)})
    with no_compiler, pytest.warns(RuntimeWarning, match=r"could not compile the rollout on cpu"):
        fallen_back = sampler.sample(policy, keys, 10)
    torch._dynamo.reset()
    assert sampler.compiled_block is None
    assert_same_trajectories(fallen_back, BatchedEnvSampler(env).sample(policy, keys, 10))
