"""The JAX peer: REINFORCE written the way a JAX user would write it (PureJaxRL style), for the
side-by-side timings of ``benchmarks.jax_peer``.

The whole training of every seed is one program: ``jit(vmap(train))`` over the seeds, each
iteration a ``lax.scan`` over the T steps of N vectorized environments, then the gradient of
the score-function surrogate and an update. The workloads are pgexp's own:

- ``cartpole``: gymnasium's CartPole-v1 dynamics (constants read from gymnasium), T = 500,
  categorical MLP [64, 64] tanh with orthogonal initialization (gain √2, 0.01 on the output),
  N = 64, reward-to-go with the leave-one-out baseline, Adam lr = 0.005, float32;
- ``frozenlake``: FrozenLake 4x4 (slippery; the transition table read from gymnasium), T = 100,
  tabular softmax from θ = 0, N = 100, the total return, SGD lr = 1.

Prints one JSON line: the workload, the seeds, the iterations and each seed's mean sampled return
at the last iteration. Needs ``jax`` (``pip install -e ".[peer]"``); XLA on one CPU thread.

Usage: ``python -m benchmarks.jax_reinforce cartpole|frozenlake --seeds 8 [--iters 150]``.
"""

from __future__ import annotations

import argparse
import json
import os
from itertools import pairwise

os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)

import gymnasium as gym
import jax
import jax.numpy as jnp
import numpy as np

CARTPOLE = gym.make("CartPole-v1").unwrapped
"""The constants of gymnasium's CartPole-v1."""


def cartpole_step(state: jax.Array, action: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Gymnasium's Euler step of one cart: next state [4] and whether it terminated."""
    spec = CARTPOLE
    x, x_dot, theta, theta_dot = state
    force = jnp.where(action == 1, spec.force_mag, -spec.force_mag)
    cos, sin = jnp.cos(theta), jnp.sin(theta)
    total, pole_length = spec.masspole + spec.masscart, spec.masspole * spec.length
    temp = (force + pole_length * theta_dot**2 * sin) / total
    theta_acc = (spec.gravity * sin - cos * temp) / (
        spec.length * (4.0 / 3.0 - spec.masspole * cos**2 / total)
    )
    x_acc = temp - pole_length * theta_acc * cos / total
    tau = spec.tau
    nxt = jnp.stack([x + tau * x_dot, x_dot + tau * x_acc, theta + tau * theta_dot,
                     theta_dot + tau * theta_acc])  # fmt: skip
    done = (jnp.abs(nxt[0]) > spec.x_threshold) | (jnp.abs(nxt[2]) > spec.theta_threshold_radians)
    return nxt, done


def mlp_init(key: jax.Array, sizes: list[int]) -> list[tuple[jax.Array, jax.Array]]:
    """Orthogonal weights (gain √2 inside, 0.01 on the output layer), zero biases."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(pairwise(sizes)):
        key, sub = jax.random.split(key)
        gain = 0.01 if i == len(sizes) - 2 else np.sqrt(2)
        weight = jax.nn.initializers.orthogonal(gain)(sub, (fan_in, fan_out), jnp.float32)
        layers.append((weight, jnp.zeros(fan_out, jnp.float32)))
    return layers


def mlp_logits(params: list[tuple[jax.Array, jax.Array]], obs: jax.Array) -> jax.Array:
    for weight, bias in params[:-1]:
        obs = jnp.tanh(obs @ weight + bias)
    weight, bias = params[-1]
    return obs @ weight + bias


def rollout(step, logits_of, reset, params, key, n: int, horizon: int):
    """N trajectories of T steps: observations, actions, rewards and live masks [T, N, ...]."""
    key, sub = jax.random.split(key)
    state = reset(sub, n)

    def one_step(carry, step_key):
        state, alive = carry
        action = jax.random.categorical(step_key, logits_of(params, state))
        nxt, done = jax.vmap(step)(state, action)
        reward = alive.astype(jnp.float32)
        return (nxt, alive & ~done), (state, action, reward, alive)

    alive = jnp.ones(n, dtype=bool)
    _, (obs, actions, rewards, live) = jax.lax.scan(
        one_step, (state, alive), jax.random.split(key, horizon)
    )
    return obs, actions, rewards, live


def surrogate(params, logits_of, obs, actions, weights, live):
    """(1/N) Σ_{i,t} w_it log π(a_t^i|s_t^i) over the live steps."""
    logp = jax.nn.log_softmax(logits_of(params, obs))
    chosen = jnp.take_along_axis(logp, actions[..., None], -1)[..., 0]
    return jnp.sum(weights * chosen * live) / obs.shape[1]


def cartpole_train(key, iters: int, n: int = 64, horizon: int = 500, lr: float = 5e-3):
    """Adam ascent on reward-to-go with the leave-one-out baseline; mean return per iteration."""
    key, sub = jax.random.split(key)
    params = mlp_init(sub, [4, 64, 64, 2])

    def reset(k, n):
        return jax.random.uniform(k, (n, 4), jnp.float32, -0.05, 0.05)

    def iteration(carry, k):
        params, m, v, count = carry
        obs, actions, rewards, live = rollout(cartpole_step, mlp_logits, reset, params, k, n,
                                              horizon)  # fmt: skip
        to_go = jnp.cumsum(rewards[::-1], 0)[::-1]  # [T, N]
        weights = to_go - (to_go.sum(1, keepdims=True) - to_go) / (n - 1)
        grad = jax.grad(surrogate)(params, mlp_logits, obs, actions, weights, live)
        count = count + 1
        m = jax.tree.map(lambda m, g: 0.9 * m + 0.1 * g, m, grad)
        v = jax.tree.map(lambda v, g: 0.999 * v + 0.001 * g * g, v, grad)
        step = lr * jnp.sqrt(1 - 0.999**count) / (1 - 0.9**count)
        params = jax.tree.map(lambda p, m, v: p + step * m / (jnp.sqrt(v) + 1e-8), params, m, v)
        return (params, m, v, count), rewards.sum(0).mean()

    zeros = jax.tree.map(jnp.zeros_like, params)
    _, returns = jax.lax.scan(iteration, (params, zeros, zeros, 0), jax.random.split(key, iters))
    return returns


def frozenlake_train(key, iters: int, n: int = 100, horizon: int = 100, lr: float = 1.0):
    """SGD ascent on the total return with a tabular softmax; mean return per iteration."""
    env = gym.make("FrozenLake-v1", map_name="4x4").unwrapped
    S, A = env.observation_space.n, env.action_space.n
    P, R = np.zeros((S, A, S), np.float32), np.zeros((S, A, S), np.float32)
    terminal = np.zeros(S, bool)
    for s in range(S):
        for a in range(A):
            for p, s2, r, done in env.P[s][a]:
                P[s, a, s2] += p
                R[s, a, s2] = r
                terminal[s2] |= done
    cdf, R_, terminal_ = jnp.cumsum(jnp.asarray(P), -1), jnp.asarray(R), jnp.asarray(terminal)

    def logits_of(theta, states):
        return theta[states]

    def iteration(theta, k):
        def one_step(carry, step_key):
            state, alive = carry  # [N]
            u = jax.random.uniform(step_key, (2, n))
            policy_cdf = jnp.cumsum(jax.nn.softmax(theta[state]), -1)
            action = jnp.sum(policy_cdf[:, :-1] <= u[0][:, None], -1)
            nxt = jnp.sum(cdf[state, action][:, :-1] <= u[1][:, None], -1)
            reward = R_[state, action, nxt] * alive
            return (nxt, alive & ~terminal_[nxt]), (state, action, reward, alive)

        start = (jnp.zeros(n, jnp.int32), jnp.ones(n, dtype=bool))
        _, (obs, actions, rewards, live) = jax.lax.scan(one_step, start,
                                                        jax.random.split(k, horizon))  # fmt: skip
        weights = jnp.broadcast_to(rewards.sum(0), rewards.shape)
        grad = jax.grad(surrogate)(theta, logits_of, obs, actions, weights, live)
        return theta + lr * grad, rewards.sum(0).mean()

    _, returns = jax.lax.scan(iteration, jnp.zeros((S, A), jnp.float32),
                              jax.random.split(key, iters))  # fmt: skip
    return returns


WORKLOADS = {"cartpole": (cartpole_train, 150), "frozenlake": (frozenlake_train, 30)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("workload", choices=sorted(WORKLOADS))
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--iters", type=int, default=None)
    args = parser.parse_args()
    train, iters = WORKLOADS[args.workload]
    iters = args.iters or iters
    keys = jax.random.split(jax.random.PRNGKey(0), args.seeds)
    returns = jax.jit(jax.vmap(lambda k: train(k, iters)))(keys)
    final = [round(float(r), 3) for r in np.asarray(returns[:, -1])]
    print(json.dumps({"workload": args.workload, "seeds": args.seeds, "iters": iters,
                      "final_return": final}))  # fmt: skip


if __name__ == "__main__":
    main()
