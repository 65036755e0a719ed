"""pgexp from Python: the README's example as written, and the same run as the command line."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import pytest
import yaml

import pgexp
from pgexp.errors import ConfigError
from tests.test_cli import PGEXP

ROOT = Path(__file__).parents[1]
CORRIDOR = ROOT / "examples" / "mdps" / "short_corridor.yaml"


def readme_python_example() -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Your own MDP, and pgexp from Python", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def test_the_readme_python_example_runs_as_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {}
    exec(readme_python_example(), namespace)
    result = namespace["result"]
    assert isinstance(result, pgexp.Result)
    p = 2 - math.sqrt(2)
    assert result.summary["J_final"] == pytest.approx((2 * p - 4) / (p * (1 - p)), abs=1e-4)
    assert (tmp_path / "outputs" / "corridor" / "mdp.npz").is_file()
    assert (tmp_path / "outputs" / "corridor" / ".hydra" / "config.yaml").is_file()
    printed = capsys.readouterr().out.splitlines()
    assert printed[0].startswith("-11.6568") and printed[1].startswith("tensor([-12.0000]")


def test_a_hand_written_file_runs_on_the_command_line_as_train_runs_its_arrays(
    tmp_path: Path,
) -> None:
    args = ["env.horizon=50", "policy=linear_softmax", "policy.features=env", "estimator=exact",
            "train.lr=0.1", "train.iters=20", "logger=none", "train.progress=false"]  # fmt: skip
    cli = subprocess.run(
        [PGEXP, "env=file", f"env.path={CORRIDOR}", *args, f"hydra.run.dir={tmp_path / 'cli'}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert cli.returncode == 0, cli.stderr
    fields = yaml.safe_load(CORRIDOR.read_text())
    arrays = pgexp.TabularMDP(**fields, horizon=50)
    result = pgexp.train(args[1:], env=arrays, run_dir=tmp_path / "api")
    lines = (tmp_path / "cli" / "metrics.jsonl").read_text().splitlines()
    assert [json.loads(line)["J"] for line in lines] == [m["J"] for m in result.metrics]
    assert len(result.metrics) == 20


def test_train_refuses_a_bad_value_in_one_line_before_writing(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"^train\.lr must be a finite number > 0"):
        pgexp.train(["train.lr=0", "logger=none"], run_dir=tmp_path / "a")
    with pytest.raises(ConfigError, match=r"^overrides .*estimator\.nope"):
        pgexp.train(["estimator.nope=1", "logger=none"], run_dir=tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()
