"""The C kernels of pgexp.native: the same bits as the torch code they replace, a torch fallback
where they cannot be built."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pgexp import native
from pgexp.envs import FiniteMDP, make_garnet, make_toy_text, unroll_time
from pgexp.rollout import Sampler
from tests.helpers import assert_same_trajectories, random_policy, sample_keys, small_mdps


def test_the_kernel_builds_here() -> None:
    """CI's machine has a C compiler: the fused sampler really runs the kernel there."""
    assert native.library("tabular_rollout") is not None


@st.composite
def garnets(draw: st.DrawFn) -> FiniteMDP:
    states = draw(st.integers(1, 40))
    return make_garnet(
        states,
        draw(st.integers(1, 5)),
        draw(st.integers(1, min(states, 4))),
        seed=draw(st.integers(0, 1000)),
        horizon=draw(st.integers(1, 40)),
        discount=draw(st.sampled_from([1.0, 0.9])),
    )


MDPS = st.one_of(
    st.sampled_from(sorted(small_mdps())).map(lambda name: small_mdps()[name]),
    garnets(),
    st.just(make_toy_text("FrozenLake-v1", {"map_name": "8x8"}, horizon=60)),
    st.just(unroll_time(make_toy_text("FrozenLake-v1", {}, horizon=12))),
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    mdp=MDPS,
    runs=st.integers(1, 3),
    n=st.integers(1, 70),
    first=st.one_of(st.integers(0, 300), st.integers(2**32 - 40, 2**32 + 40)),
    seed=st.integers(0, 2**31),
    scale=st.sampled_from([0.1, 1.0, 30.0, 300.0]),
)
def test_fused_sampler_is_the_torch_sampler_bit_for_bit(
    mdp: FiniteMDP, runs: int, n: int, first: int, seed: int, scale: float
) -> None:
    """Any finite MDP (branching garnets, toy text, time-unrolled), runs, batch size, chunk
    position (trajectory counters past 2³² wrap in both), saturated policies or not."""
    policy = random_policy(mdp, seed, scale, runs)  # large scales: entries of zero mass
    keys = sample_keys(range(seed, seed + runs))
    plain = Sampler(mdp, fused=False).sample(policy, keys, n, first)
    fused = Sampler(mdp).sample(policy, keys, n, first)
    assert_same_trajectories(plain, fused)


@pytest.fixture
def no_compiler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A machine whose C compiler fails, with an empty kernel cache."""
    monkeypatch.setenv("CC", "false")
    monkeypatch.setenv("PGEXP_CACHE_DIR", str(tmp_path))
    native.library.cache_clear()
    yield
    native.library.cache_clear()


def test_without_a_compiler_the_torch_code_runs_with_the_same_results(no_compiler: None) -> None:
    mdp = make_toy_text("FrozenLake-v1", {}, horizon=30)
    policy = random_policy(mdp, 0, runs=2)
    keys = sample_keys([0, 1])
    with pytest.warns(RuntimeWarning, match="tabular_rollout is not available .*false failed"):
        fused = Sampler(mdp).sample(policy, keys, 50)
    assert_same_trajectories(Sampler(mdp, fused=False).sample(policy, keys, 50), fused)


def test_a_built_kernel_is_kept_for_later_processes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PGEXP_CACHE_DIR", str(tmp_path))
    native.library.cache_clear()
    try:
        assert native.library("tabular_rollout") is not None
        built = list(tmp_path.glob("tabular_rollout-*.so"))
        assert len(built) == 1 and not list(tmp_path.glob("*.partial"))
        stamp = built[0].stat().st_mtime_ns
        native.library.cache_clear()  # as a new process would
        assert native.library("tabular_rollout") is not None
        assert built[0].stat().st_mtime_ns == stamp  # loaded, not rebuilt
    finally:
        native.library.cache_clear()
