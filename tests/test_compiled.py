"""hardware.compile: torch.compile changes speed, not results."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from pgexp.envs.batched import CompiledDynamics
from pgexp.envs.cartpole import TorchCartPole
from pgexp.metrics import read_metrics
from pgexp.run import run
from tests.helpers import compose, draws, quiet


@pytest.mark.slow
def test_compiled_cartpole_step_matches_eager() -> None:
    compiled = CompiledDynamics(TorchCartPole())
    state = TorchCartPole.reset(draws(0, 512, 4), torch.float64) * 20  # many terminate
    action = (draws(1, 512, 1)[:, 0] < 0.5).long()
    eager_out, compiled_out = TorchCartPole.step(state, action), compiled.step(state, action)
    torch.testing.assert_close(compiled_out[0], eager_out[0], rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(compiled_out[1], eager_out[1])
    assert torch.equal(compiled_out[2], eager_out[2]) and eager_out[2].any()


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
