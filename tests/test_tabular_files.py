"""MDPs of one's own: files in three formats, their validation, and exact gradients over their
features."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
import yaml

from pgexp.config import ExactMethod
from pgexp.envs import MDPFileError, TabularMDP, load_mdp_file
from pgexp.estimators import ExactGradient, MinibatchGradient
from pgexp.metrics import read_metrics
from pgexp.policies import LinearSoftmax
from pgexp.rollout import Sampler
from pgexp.run import run
from tests.helpers import compose, quiet, sample_keys
from tests.test_cli import pgexp
from tests.test_exact import central_differences

EXAMPLES = Path(__file__).parents[1] / "examples" / "mdps"
CORRIDOR = EXAMPLES / "short_corridor.yaml"


def corridor_fields() -> dict[str, Any]:
    fields: dict[str, Any] = yaml.safe_load(CORRIDOR.read_text())
    return fields


def entries(mdp: Any) -> list[torch.Tensor]:
    return [mdp.entry_sa, mdp.entry_next, mdp.entry_prob, mdp.entry_reward, mdp.mu0, mdp.features]


def test_yaml_json_and_npz_files_and_arrays_give_the_same_mdp(tmp_path: Path) -> None:
    fields = corridor_fields()
    (tmp_path / "c.json").write_text(json.dumps(fields))
    arrays = {k: np.asarray(v) for k, v in fields.items()}
    np.savez(tmp_path / "c.npz", **arrays)
    mdps = [load_mdp_file(path, horizon=50) for path in
            (CORRIDOR, tmp_path / "c.json", tmp_path / "c.npz")]  # fmt: skip
    mdps.append(TabularMDP(**fields, horizon=50).to_finite_mdp())
    first = entries(mdps[0])
    for mdp in mdps[1:]:
        assert all(torch.equal(a, b) for a, b in zip(first, entries(mdp), strict=True))
    mdp = mdps[0]
    assert (mdp.n_states, mdp.n_actions, mdp.absorbing) == (5, 2, 4)  # the goal's mass moves on
    assert mdp.features is not None and mdp.features[4].abs().sum() == 0
    # from the third state, "right" reaches the goal: the entry leads to the absorbing state
    third_right = (mdp.entry_sa == 2 * 2 + 1).nonzero().flatten()
    assert mdp.entry_next[third_right].tolist() == [4]


MALFORMED: list[tuple[str, Any, str]] = [
    ("P", [[[1, 0], [0, 1]]], r"P must be \[S\]\[A\]\[S\] = \[1, 2, 1\] \(got shape \[1, 2, 2\]\)"),
    ("P", [[[1, 0, 0, 0], [0, 1]]], r"P must be a 3-dimensional array of numbers \(ragged"),
    ("P", "x", r"P must be a 3-dimensional array of numbers"),
    ("P", {"row": 1}, r"P must be a 3-dimensional array of numbers"),
    ("P[1][0]", [0, 0, 1.5, -0.5], r"P\[1\]\[0\]\[2\] = 1.5 is not a probability in \[0, 1\]"),
    ("P[1][0]", [0, 0, 0.5, 0.4], r"P\[1\]\[0\] sums to 0.9, not 1 \(within 1e-09\)"),
    ("P[2][1]", [0, 0, float("nan"), 1], r"P\[2\]\[1\]\[2\] is nan \(every entry must be finite\)"),
    ("R", [[-1, -1], [-1, -1]], r"R must be \[S\]\[A\] = \[4, 2\] \(got shape \[2, 2\]\)"),
    ("R[0]", [-1, float("inf")], r"R\[0\]\[1\] is inf"),
    ("mu0", [0.5, 0.4, 0, 0], r"mu0 sums to 0.9, not 1"),
    ("mu0", [1, 0, 0], r"mu0 must be \[S\] = \[4\] \(got shape \[3\]\)"),
    ("mu0", [2, -1, 0, 0], r"mu0\[0\] = 2.0 is not a probability"),
    ("terminal", [7], r"terminal\[0\] = 7 is not a state index in \[0, 4\)"),
    ("terminal", [3, 3], r"terminal\[1\] = 3 is listed twice"),
    ("terminal", [0], r"terminal\[0\] = 0 has initial probability mu0\[0\] = 1.0"),
    ("features", [[[0, 1]]], r"features must be \[S\]\[A\]\[d\] = \[4, 2, 2\]"),
    ("state_names", ["a", "b"], r"state_names must be 4 strings"),
    ("action_names", ["left", 3], r"action_names must be 2 strings"),
    ("extra", 1, r"unknown field 'extra'"),
]


@pytest.mark.parametrize(("where", "value", "message"), MALFORMED)
def test_each_malformed_field_is_refused_in_one_line_naming_it(
    where: str, value: Any, message: str, tmp_path: Path
) -> None:
    fields = corridor_fields()
    if "[" in where:  # one row of a field
        name, *index = where.replace("]", "").split("[")
        target = fields[name]
        for i in index[:-1]:
            target = target[int(i)]
        target[int(index[-1])] = value
    else:
        fields[where] = value
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(fields))
    with pytest.raises(MDPFileError, match=message) as err:
        load_mdp_file(path, horizon=10)
    assert "\n" not in str(err.value)


def test_missing_fields_and_unreadable_files_are_refused(tmp_path: Path) -> None:
    fields = corridor_fields()
    del fields["R"]
    (tmp_path / "m.yaml").write_text(yaml.safe_dump(fields))
    with pytest.raises(MDPFileError, match=r"^R is missing"):
        load_mdp_file(tmp_path / "m.yaml", horizon=10)
    (tmp_path / "b.yaml").write_text("P: [[[1, 0]]\n")
    with pytest.raises(MDPFileError, match=r"^is not valid YAML: "):
        load_mdp_file(tmp_path / "b.yaml", horizon=10)
    (tmp_path / "l.yaml").write_text("- 1\n- 2\n")
    with pytest.raises(MDPFileError, match=r"must hold a mapping of fields \(got list\)"):
        load_mdp_file(tmp_path / "l.yaml", horizon=10)
    with pytest.raises(MDPFileError, match=r"must end in \.yaml, \.yml, \.json, \.npz"):
        load_mdp_file(tmp_path / "m.txt", horizon=10)


def corridor_policy(mdp: Any, theta: list[float]) -> LinearSoftmax:
    policy = LinearSoftmax(mdp.features)
    with torch.no_grad():
        policy.theta.copy_(torch.tensor([theta], dtype=torch.float64))
    return policy


def test_exact_gradients_over_the_files_features_match_enumeration_and_differences() -> None:
    short = load_mdp_file(CORRIDOR, horizon=7)
    policy = corridor_policy(short, [0.3, -0.4])
    dp = ExactGradient(short).estimate(policy)
    en = ExactGradient(short, ExactMethod.enumerate).estimate(policy)
    torch.testing.assert_close(dp.grad, en.grad, rtol=0, atol=1e-12)
    assert dp.grad.abs().max() > 0.1
    long = load_mdp_file(CORRIDOR, horizon=60)
    policy = corridor_policy(long, [0.3, -0.4])
    grad = ExactGradient(long).estimate(policy).grad[0]
    fd = central_differences(long, policy, torch.arange(2))
    torch.testing.assert_close(grad, fd, rtol=1e-6, atol=1e-8)


def test_exact_ascent_finds_the_corridors_stochastic_optimum(tmp_path: Path) -> None:
    """p* = 2 − √2 and J* = (2p* − 4) / (p*(1 − p*)) = −11.657 (Sutton & Barto, Example 13.1)."""
    cfg = compose(quiet(["env=file", f"env.path={CORRIDOR}", "env.horizon=200",
                         "policy=linear_softmax", "policy.features=env", "estimator=exact",
                         "train.lr=0.1", "train.iters=200"]))  # fmt: skip
    summary = run(cfg, tmp_path)
    p = 2 - math.sqrt(2)
    assert summary.J_final == pytest.approx((2 * p - 4) / (p * (1 - p)), abs=1e-4)
    J = [r.J for r in read_metrics(tmp_path / "metrics.jsonl")]
    assert J[0] == pytest.approx(-12.0, abs=0.05)  # p = 1/2 at θ = 0: (1 − 4) / (1/4) = −12


def test_the_command_line_refuses_file_mistakes_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("P: [[[0.5, 0.4]], [[0, 1]]]\nR: [[1], [0]]\nmu0: [1, 0]\n")
    cases = {
        ("env=file",): "pgexp: error: env.path must be given (e.g. env.path=...)",
        ("env=file", "env.path=nope.yaml"):  # named as read: from where pgexp started
            f"pgexp: error: env.path cannot be read (No such file or directory: "
            f"{tmp_path / 'nope.yaml'})",
        ("env=file", "env.path=bad.yaml"):
            f"pgexp: error: env.path {tmp_path / 'bad.yaml'}: P[0][0] sums to 0.9, not 1 "
            "(within 1e-09)",
        ("policy=linear_softmax", "policy.features=env"):
            "pgexp: error: policy.features=env needs an MDP with features: env=file with a "
            "features field",
    }  # fmt: skip
    for args, line in cases.items():
        out = pgexp(tmp_path, *args, "logger=none")
        assert out.returncode == 1 and out.stderr.strip().splitlines() == [line], out.stderr


def test_a_minibatch_estimate_over_the_files_features_is_centred_on_the_exact_gradient() -> None:
    """Seeds 0-39, N = 1000 each on the corridor (T = 40, θ = (0.3, −0.4)): the mean of the
    estimates is within 4 standard errors of the exact gradient in each coordinate."""
    mdp = load_mdp_file(CORRIDOR, horizon=40)
    policy = corridor_policy(mdp, [0.3, -0.4])
    exact = ExactGradient(mdp).estimate(policy).grad[0]
    sampler = Sampler(mdp)
    estimates = torch.stack([
        MinibatchGradient(sampler, 1000).estimate(policy, sample_keys(seed)).grad[0]
        for seed in range(40)
    ])  # fmt: skip
    mean, error = estimates.mean(0), estimates.std(0) / math.sqrt(40)
    assert bool(((mean - exact).abs() < 4 * error).all()), (mean, exact, error)
    assert bool((error < 0.15 * exact.abs()).all())  # enough power to see a wrong scale or sign
