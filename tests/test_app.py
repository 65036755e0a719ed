"""The entry point's own logic, in-process: what a config error leaves behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from pgexp.hydra_jobs import HYDRA_FILES, remove_hydra_files


def hydra_job(run_dir: Path) -> Path:
    """The files Hydra writes before a job starts."""
    for name in (*HYDRA_FILES, "pgexp.log"):
        (run_dir / name).parent.mkdir(parents=True, exist_ok=True)
        (run_dir / name).write_text("x")
    return run_dir


def test_a_job_that_never_started_leaves_no_directory(tmp_path: Path) -> None:
    remove_hydra_files(hydra_job(tmp_path / "outputs" / "day" / "time"), "pgexp")
    assert [p.name for p in tmp_path.iterdir()] == ["outputs"]
    assert not any((tmp_path / "outputs").iterdir())


def test_nothing_but_hydra_files_is_removed(tmp_path: Path) -> None:
    run_dir = hydra_job(tmp_path / "day" / "time")
    (run_dir / "notes.txt").write_text("mine")
    remove_hydra_files(run_dir, "pgexp")
    assert sorted(p.name for p in run_dir.iterdir()) == ["notes.txt"]


def test_the_working_directory_is_never_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(hydra_job(tmp_path / "here"))
    remove_hydra_files(Path("."), "pgexp")
    assert (tmp_path / "here").is_dir() and not (tmp_path / "here" / ".hydra").exists()
