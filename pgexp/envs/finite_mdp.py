"""Finite MDPs as sparse tensors, with exact-sampling of batched transitions.

A :class:`FiniteMDP` stores its transition table as a list of *entries* ``(s, a, s', p, r)`` sorted
by ``(s, a)``: O(nnz(P)) memory, so that one step of the exact forward recursion and one batched
sampling step both cost O(nnz(P)) or less. ``R[s, a] = Σ_entries p·r`` is the expected reward.

When the source environment can terminate, the last state is an *absorbing* state (self-loop,
zero reward) that every terminating entry leads to. Policies have no parameters there (see
:mod:`pgexp.policies`), so steps taken after termination contribute nothing to any gradient.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import NamedTuple

import torch

ROW_SUM_TOL = 1e-9
"""How far a probability row (P[s][a], mu0) may sum from 1, in a table of one's own or built."""


class EntryStates(NamedTuple):
    """[E] per transition entry: the index of its state's first and last entry (a state's
    entries are contiguous), and 2s in float64."""

    first: torch.Tensor
    last: torch.Tensor
    twice_state: torch.Tensor


@dataclass(frozen=True)
class FiniteMDP:
    """A finite-horizon MDP ``(S, A, P, R, mu0, T, discount)``.

    Attributes:
        n_states: S, including the absorbing state if there is one.
        n_actions: A.
        entry_sa: [E] int64, row index ``s * A + a`` of each entry, sorted ascending.
        entry_next: [E] int64, next state s'.
        entry_prob: [E] float64, transition probability p(s'|s, a).
        entry_reward: [E] float64, reward r(s, a, s') received on that transition.
        mu0: [S] float64, initial state distribution.
        horizon: T, number of steps of every trajectory.
        discount: γ in J = E[Σ_{t<T} γ^t r_t].
        absorbing: index of the absorbing state, or None.
        features: [S, A, d] float64 state-action features that came with the MDP (a file's),
            zero for the absorbing state, or None.
    """

    n_states: int
    n_actions: int
    entry_sa: torch.Tensor
    entry_next: torch.Tensor
    entry_prob: torch.Tensor
    entry_reward: torch.Tensor
    mu0: torch.Tensor
    horizon: int
    discount: float = 1.0
    absorbing: int | None = None
    features: torch.Tensor | None = None

    def __post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ derived tables
    @property
    def device(self) -> torch.device:
        return self.entry_prob.device

    @property
    def nnz(self) -> int:
        """Number of transition entries E."""
        return int(self.entry_sa.numel())

    @property
    def n_policy_states(self) -> int:
        """States where the policy has parameters (all but the absorbing one)."""
        return self.n_states - (self.absorbing is not None)

    @property
    def entry_state(self) -> torch.Tensor:
        """[E] int64, the state s of each entry."""
        return torch.div(self.entry_sa, self.n_actions, rounding_mode="floor")

    @property
    def entry_action(self) -> torch.Tensor:
        """[E] int64, the action a of each entry."""
        return self.entry_sa % self.n_actions

    def expected_reward(self) -> torch.Tensor:
        """[S, A] float64, R[s, a] = Σ p(s'|s,a) r(s,a,s')."""
        flat = torch.zeros(self.n_states * self.n_actions, dtype=torch.float64, device=self.device)
        flat.index_add_(0, self.entry_sa, self.entry_prob * self.entry_reward)
        return flat.view(self.n_states, self.n_actions)

    def dense_transitions(self) -> torch.Tensor:
        """[S, A, S] float64 transition tensor P (for small MDPs and tests)."""
        S, A = self.n_states, self.n_actions
        flat = torch.zeros(S * A * S, dtype=torch.float64, device=self.device)
        flat.index_add_(0, self.entry_sa * S + self.entry_next, self.entry_prob)
        return flat.view(S, A, S)

    def to(self, device: torch.device | str) -> FiniteMDP:
        """The same MDP with every tensor on ``device`` (probabilities stay float64)."""
        return replace(
            self,
            entry_sa=self.entry_sa.to(device),
            entry_next=self.entry_next.to(device),
            entry_prob=self.entry_prob.to(device),
            entry_reward=self.entry_reward.to(device),
            mu0=self.mu0.to(device),
        )

    # ------------------------------------------------------------------ the Env protocol
    @property
    def finite_mdp(self) -> FiniteMDP:
        return self

    @property
    def observation_env(self) -> None:
        return None

    def step_bytes(self, value_bytes: int) -> int:
        """A state and an action (int64), a reward and an alive flag."""
        return 8 + 8 + value_bytes + 1

    def table_bytes(self, runs: int) -> int:
        """The sampler's float64 table per run and transition entry (:meth:`step_table`)."""
        return runs * self.nnz * 8

    def compiled(self) -> FiniteMDP:
        return self  # its steps are lookups, with nothing to compile

    def close(self) -> None:
        pass

    # ------------------------------------------------------------------ sampling
    def entry_states(self) -> EntryStates:
        """Per transition entry, what :meth:`step_table` needs of its state (the MDP's alone:
        computed once per sampler, not per batch)."""
        state = self.entry_state
        return EntryStates(
            first=torch.searchsorted(state, state),
            last=torch.searchsorted(state, state, right=True) - 1,
            twice_state=2.0 * state.to(torch.float64),
        )

    def step_table(self, probs: torch.Tensor, states: EntryStates) -> torch.Tensor:
        """[R, E] float64: the inverse-CDF table of a whole step (action and next state drawn
        with one uniform) under the policies ``probs`` [R, S, A]; ``states`` is
        :meth:`entry_states`.

        A state's entries are contiguous (sorted by s·A + a). Entry e of state s holds 2s plus the
        mass π(a|s)·p(s'|s, a) of the state's entries up to and including e, and 2s + 1.5 from
        the state's last entry of positive mass on. So ``searchsorted(table[r], 2s + u,
        right=True)`` for u in (0, 1) returns an entry of state s with
        probability π(a|s)·p(e), never one of zero mass, also where 2s + u rounds to 2s or to
        2s + 1; the table increases along E, and states are 0.5 apart. Resolution: u counts to
        the spacing of floats near 2S (2⁻³² at 10⁶ states).
        """
        mass = probs.to(torch.float64).flatten(1)[:, self.entry_sa] * self.entry_prob
        upto = torch.cumsum(mass, -1)
        within = upto - torch.nn.functional.pad(upto, (1, 0))[:, states.first]
        within = torch.where(within >= within[:, states.last], 1.5, within)
        return within.add_(states.twice_state)

    def initial_cdf(self) -> torch.Tensor:
        """[S] float64 cumulative mu0, exactly 1 from the last state with mass on."""
        cdf = torch.cumsum(self.mu0, 0)
        last = int(torch.nonzero(self.mu0 > 0).max())
        return torch.where(torch.arange(self.n_states, device=cdf.device) >= last, 1.0, cdf)

    def sample_initial(self, cdf: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
        """int64 states s_0 ~ mu0 for uniforms ``u`` in (0, 1) of any shape, by inverse CDF on
        ``cdf`` (the output of :meth:`initial_cdf`)."""
        return torch.searchsorted(cdf, u.contiguous(), right=True)

    # ------------------------------------------------------------------ checks
    def _validate(self) -> None:
        S, A = self.n_states, self.n_actions
        if self.entry_sa.numel() and bool((self.entry_sa[1:] < self.entry_sa[:-1]).any()):
            raise ValueError("transition entries must be sorted by s * A + a")
        if bool((self.entry_prob < 0).any()):
            raise ValueError("transition probabilities must be >= 0")
        sums = torch.zeros(S * A, dtype=torch.float64, device=self.entry_prob.device)
        sums.index_add_(0, self.entry_sa, self.entry_prob)
        bad = torch.nonzero((sums - 1).abs() > ROW_SUM_TOL).flatten()
        if bad.numel():
            s, a = divmod(int(bad[0]), A)
            raise ValueError(
                f"P[{s}][{a}] sums to {float(sums[bad[0]]):.12g}, not 1 "
                f"({bad.numel()} of {S * A} rows are off by more than {ROW_SUM_TOL})"
            )
        if self.mu0.shape != (S,) or abs(float(self.mu0.sum()) - 1) > ROW_SUM_TOL:
            raise ValueError(f"mu0 must be a distribution over {S} states")
        if self.horizon < 1:
            raise ValueError(f"horizon must be >= 1 (got {self.horizon})")


def from_entries(
    n_states: int,
    n_actions: int,
    entries: list[tuple[int, int, int, float, float]],
    mu0: torch.Tensor,
    horizon: int,
    discount: float = 1.0,
    absorbing: int | None = None,
) -> FiniteMDP:
    """Build a :class:`FiniteMDP` from ``(s, a, s', p, r)`` tuples in any order."""
    ordered = sorted(entries, key=lambda e: e[0] * n_actions + e[1])
    sa = torch.tensor([s * n_actions + a for s, a, *_ in ordered], dtype=torch.int64)
    return FiniteMDP(
        n_states=n_states,
        n_actions=n_actions,
        entry_sa=sa,
        entry_next=torch.tensor([e[2] for e in ordered], dtype=torch.int64),
        entry_prob=torch.tensor([e[3] for e in ordered], dtype=torch.float64),
        entry_reward=torch.tensor([e[4] for e in ordered], dtype=torch.float64),
        mu0=mu0.to(torch.float64),
        horizon=horizon,
        discount=discount,
        absorbing=absorbing,
    )
