"""Sizes that cannot fit are refused before they are attempted.

The estimates are of the tensors a run holds at once, times a safety factor for intermediates,
compared with the memory available on the run's device now. The point is one clear line for
``estimator.N=1000000000000`` or ``env.horizon=1000000000`` instead of an allocation of
terabytes or a machine swapping for hours; a run that passes may still be slow.
"""

from __future__ import annotations

import os
from itertools import pairwise

import torch

from pgexp.config import (
    Config,
    DType,
    ExactEstimatorConfig,
    GarnetEnvConfig,
    LinearSoftmaxConfig,
    MinibatchEstimatorConfig,
    MLPPolicyConfig,
    TabularSoftmaxConfig,
)
from pgexp.envs import Env
from pgexp.errors import ConfigError
from pgexp.estimators.score import BLOCK_STEPS

SAFETY = 4
"""Intermediates (weights, gathers, the backward pass) per tensor kept."""
EVAL_CHUNK = 100
"""Evaluation episodes sampled at once (the evaluation's progress display advances per chunk)."""


def available_bytes(device: torch.device) -> int:
    """Memory free for new tensors on ``device``: the GPU's free memory, or the host's."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))


def needed_bytes(cfg: Config, env: Env, runs: int) -> tuple[int, str]:
    """About how many bytes a batch of ``runs`` runs holds at once, and the keys that set it."""
    value = 4 if cfg.hardware.dtype is DType.float32 else 8
    T = env.horizon
    mdp = env.finite_mdp
    if isinstance(cfg.estimator, ExactEstimatorConfig) and mdp is not None:
        # the forward recursion keeps γ^t d_t of every step for the backward one
        S, A = mdp.n_states, mdp.n_actions
        per_step = runs * S * value
        tables = 2 * mdp.nnz * (value + 8) + SAFETY * runs * S * A * value
        return T * per_step + tables, f"env.horizon={T} (steps of the exact recursion)"
    sizes = {"train.reference_N": cfg.train.reference_N,
             "train.eval_episodes": min(cfg.train.eval_episodes or 0, EVAL_CHUNK)}  # fmt: skip
    if isinstance(cfg.estimator, MinibatchEstimatorConfig):
        est = cfg.estimator
        if est.chunk is not None and est.chunk < est.N:
            sizes["estimator.chunk"] = est.chunk
        else:
            sizes["estimator.N"] = est.N
    key = max(sizes, key=lambda k: sizes[k])
    per_step = runs * sizes[key] * env.step_bytes(value)
    need = SAFETY * (T * per_step + env.table_bytes(runs))
    return need, f"{key}={sizes[key]} with env.horizon={T}"


def policy_bytes(cfg: Config, env: Env, runs: int) -> tuple[int, str]:
    """About how many bytes the policies of ``runs`` runs hold: a network's parameters (float64
    as drawn, the update's state, the gradient) and the activations of a block of steps, or a
    linear policy's random features; and the key that sets it."""
    policy, obs, mdp = cfg.policy, env.observation_env, env.finite_mdp
    if isinstance(policy, MLPPolicyConfig) and obs is not None:
        widths = [obs.obs_dim, *policy.hidden, 2 * max(obs.n_actions or 0, obs.action_dim)]
        params = sum((a + 1) * b for a, b in pairwise(widths))
        sampled = cfg.estimator.N if isinstance(cfg.estimator, MinibatchEstimatorConfig) else 0
        rows = BLOCK_STEPS + max(sampled, EVAL_CHUNK)
        activations = SAFETY * rows * sum(widths) * 8
        return 6 * runs * params * 8 + activations, f"policy.hidden={list(policy.hidden)}"
    linear = policy if isinstance(policy, LinearSoftmaxConfig) else None
    if linear is not None and linear.features == "random" and mdp is not None:
        size = SAFETY * mdp.n_states * mdp.n_actions * linear.dim * 8
        return size, f"policy.dim={linear.dim}"
    return 0, "policy"


def env_bytes(cfg: Config) -> tuple[int, str]:
    """About how many bytes generating the env takes (a garnet's entries and their draws), and
    the keys that set it; 0 for envs whose size does not come from the config."""
    env = cfg.env
    if isinstance(env, GarnetEnvConfig):
        entries = env.n_states * env.n_actions * env.branching
        keys = f"env.n_states={env.n_states} with env.n_actions={env.n_actions}"
        return SAFETY * entries * 40, f"{keys} and env.branching={env.branching}"
    return 0, "env"


def check_env_fits(cfg: Config) -> None:
    """:class:`ConfigError` when the env would not fit in the host's memory (before it is built)."""
    refuse_if_too_big(*env_bytes(cfg), runs=1, device=torch.device("cpu"))


UNROLLED_ENTRY_BYTES = 96
"""Bytes per transition entry and step while the time-unrolled MDP is built (its four entry
tensors of 8 bytes, and the temporaries that make them)."""


def check_unrolled_fits(cfg: Config, env: Env) -> None:
    """:class:`ConfigError` when a time-dependent policy's MDP, T copies of ``env``'s
    transition entries (:func:`pgexp.envs.unroll_time`), would not fit in the host's memory."""
    policy, mdp = cfg.policy, env.finite_mdp
    if isinstance(policy, TabularSoftmaxConfig) and policy.time_dependent and mdp is not None:
        need = UNROLLED_ENTRY_BYTES * mdp.horizon * mdp.nnz
        keys = "policy.time_dependent=true (or a shorter env.horizon)"
        refuse_if_too_big(need, keys, runs=1, device=torch.device("cpu"))


def check_fits(cfg: Config, env: Env, runs: int, device: torch.device) -> None:
    """:class:`ConfigError` naming the sizes to lower when the batch cannot fit in memory."""
    refuse_if_too_big(*needed_bytes(cfg, env, runs), runs=runs, device=device)
    refuse_if_too_big(*policy_bytes(cfg, env, runs), runs=runs, device=device)


def refuse_if_too_big(need: int, keys: str, runs: int, device: torch.device) -> None:
    """:class:`ConfigError` naming ``keys`` when ``need`` bytes exceed what ``device`` has free."""
    free = available_bytes(device)
    if need > free:
        batch = f" for {runs} runs in one batch (hydra.launcher.max_batch splits it)"
        raise ConfigError(
            keys,
            f"needs about {need / 2**30:.3g} GiB{batch if runs > 1 else ''}, more than the "
            f"{free / 2**30:.3g} GiB available on {device}: lower it{chunk_hint(keys)}",
        )


def chunk_hint(keys: str) -> str:
    """How to keep N and lower the memory when N is what does not fit."""
    if keys.startswith("estimator.N="):
        return ", or sample it in chunks (estimator.chunk=K: the same estimate, K·T steps at once)"
    return ""
