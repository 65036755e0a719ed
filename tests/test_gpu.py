"""On a CUDA GPU: rollouts stay on the device, and the device computes what the CPU does.

Skipped without a GPU; run on a machine with a CUDA card with ``pytest -m gpu``.
"""

from __future__ import annotations

import pytest
import torch

from pgexp.config import Activation, NetInit
from pgexp.envs.batched import TORCH_ENVS, make_batched_env
from pgexp.policies import CategoricalMLP, GaussianMLP, Policy
from pgexp.rollout import BatchedEnvSampler
from tests.helpers import draws, requires_cuda, sample_keys

pytestmark = [pytest.mark.gpu, requires_cuda]


def policy_for(name: str) -> Policy:
    gen = [torch.Generator().manual_seed(0)]
    _, n_actions, action_dim = TORCH_ENVS[name]
    obs_dim = TORCH_ENVS[name][0].obs_dim
    if n_actions is None:
        return GaussianMLP(obs_dim, action_dim, [32], Activation.tanh, NetInit.orthogonal, gen)
    return CategoricalMLP(obs_dim, n_actions, [32], Activation.tanh, NetInit.orthogonal, gen)


@pytest.mark.parametrize("name", sorted(TORCH_ENVS))
def test_rollout_moves_no_data_to_the_host(name: str) -> None:
    env = make_batched_env(name, horizon=50)
    policy = policy_for(name).to("cuda", torch.float32)
    keys = sample_keys(0).cuda()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")  # any device-to-host copy or sync raises
    try:
        batch = BatchedEnvSampler(env, check_every=None).sample(policy, keys, 1024)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert batch.states.is_cuda and batch.rewards.is_cuda and batch.alive.is_cuda
    assert batch.states.shape[2] == 50


@pytest.mark.parametrize("name", sorted(TORCH_ENVS))
def test_gpu_steps_match_the_cpu_in_float64(name: str) -> None:
    dynamics = TORCH_ENVS[name][0]
    state = dynamics.reset(draws(1, 4096, len(dynamics.reset_half_width)), torch.float64)
    policy = policy_for(name)
    for t in range(20):
        u = draws(2 + t, 4096, policy.draws_per_action)
        action = policy.sample(dynamics.observe(state)[None], u.T[:, None])[0]
        cpu = dynamics.step(state, action)
        gpu = dynamics.step(state.cuda(), action.cuda())
        for a, b in zip(cpu, gpu, strict=True):
            torch.testing.assert_close(b.cpu(), a, rtol=1e-10, atol=1e-10)
        state = cpu[0]
