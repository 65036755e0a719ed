"""A finite MDP whose states carry the step: what a time-dependent table policy sees.

State (t, s) of the unrolled MDP is state s of the original at step t, for t < T and every
non-absorbing s; the absorbing state stays one state. Its trajectories are the original's, step
for step, with t attached, so J, ∇J, J* and every sampled return are the original's; a
stationary table policy on it is a time-dependent policy π_t(a|s) on the original, with
parameters θ[t, s, a] (stored as θ[t·S' + s, a]).
"""

from __future__ import annotations

import torch

from pgexp.envs.finite_mdp import FiniteMDP


def unroll_time(mdp: FiniteMDP) -> FiniteMDP:
    """The unrolled MDP of ``mdp``: T·S' states (t, s) numbered t·S' + s over the S'
    non-absorbing states, then the absorbing state (if any). An entry (s, a, s') of step t leads
    to (t + 1, s'), to (T − 1, s') from the last step (never taken: the horizon ends there), or
    to the absorbing state. T·E entries at most; the features of a file's MDP are not kept."""
    T, A, S_pol = mdp.horizon, mdp.n_actions, mdp.n_policy_states
    absorbing = mdp.absorbing
    live = mdp.entry_state != absorbing if absorbing is not None else None
    E = mdp.nnz if live is None else int(live.sum())  # a state's entries are contiguous and the
    steps = torch.arange(T, device=mdp.device).repeat_interleave(E)  # absorbing state is last
    nxt = mdp.entry_next[:E].repeat(T)
    to_absorbing = (
        nxt == absorbing if absorbing is not None else torch.zeros_like(nxt, dtype=torch.bool)
    )
    next_state = torch.where(
        to_absorbing, T * S_pol, torch.clamp(steps + 1, max=T - 1) * S_pol + nxt
    )
    entry_sa = steps * (S_pol * A) + mdp.entry_sa[:E].repeat(T)
    parts = [(entry_sa, next_state, mdp.entry_prob[:E].repeat(T), mdp.entry_reward[:E].repeat(T))]
    n_states = T * S_pol
    mu0 = torch.zeros(n_states + (absorbing is not None), dtype=torch.float64, device=mdp.device)
    mu0[:S_pol] = mdp.mu0[:S_pol]
    if absorbing is not None:
        own = slice(E, mdp.nnz)  # the absorbing state's self-loops
        parts.append(
            (
                n_states * A + mdp.entry_action[own],
                torch.full_like(mdp.entry_next[own], n_states),
                mdp.entry_prob[own],
                mdp.entry_reward[own],
            )
        )
        mu0[n_states] = mdp.mu0[absorbing]
    sa, next_, prob, reward = (torch.cat(columns) for columns in zip(*parts, strict=True))
    return FiniteMDP(
        n_states=len(mu0), n_actions=A, entry_sa=sa, entry_next=next_, entry_prob=prob,
        entry_reward=reward, mu0=mu0, horizon=T, discount=mdp.discount,
        absorbing=n_states if absorbing is not None else None,
    )  # fmt: skip
