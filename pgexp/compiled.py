"""``hardware.compile``: torch.compile on the per-step work of torch envs and neural policies."""

from __future__ import annotations

import dataclasses

import torch

from pgexp.envs import FiniteMDP, ObservationEnv
from pgexp.envs.batched import BatchedDynamics, BatchedEnv
from pgexp.policies import Policy


class CompiledDynamics:
    """The same dynamics with ``observe`` and ``step`` compiled (one fused kernel per call where
    inductor manages); ``reset`` runs once per rollout and stays eager."""

    def __init__(self, dynamics: BatchedDynamics) -> None:
        self.obs_dim = dynamics.obs_dim
        self.reset_half_width = dynamics.reset_half_width
        self.reset = dynamics.reset
        self.observe = torch.compile(dynamics.observe)
        self.step = torch.compile(dynamics.step)


def compile_env(env: FiniteMDP | ObservationEnv) -> FiniteMDP | ObservationEnv:
    """A torch env with compiled dynamics; other envs as they are."""
    if isinstance(env, BatchedEnv):
        return dataclasses.replace(env, dynamics=CompiledDynamics(env.dynamics))
    return env


def compile_policy(policy: Policy) -> None:
    """Compile a neural policy's network in place (parameter names and state-dict keys do not
    change); table policies are left as they are."""
    net = getattr(policy, "net", None)
    if isinstance(net, torch.nn.Module):
        net.compile()
