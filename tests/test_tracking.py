"""pgexp's W&B contract, against a stand-in ``wandb`` module that records every call, and the
check of offline run files (real files in W&B's format, written by a small writer here)."""

from __future__ import annotations

import importlib
import struct
import threading
import time
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from pgexp import tracking
from pgexp.job import Job
from pgexp.records import METRIC_KEYS, Status
from pgexp.run import run, run_batch
from pgexp.wandb_offline import BLOCK, FIRST, FULL, LAST, MIDDLE, RunFileContents, read_records
from tests.helpers import compose

# ----------------------------------------------------------------------------- run files


def write_run_file(
    path: Path, history: int, run: bool = True, group: str = "g", pad: int = 0
) -> None:
    """A run file as wandb-core writes it: header, then records split across 32 KiB blocks
    (the first history value is padded with ``pad`` spaces)."""
    from wandb.proto import wandb_internal_pb2 as pb

    records = []
    if run:
        records.append(pb.Record(run=pb.RunRecord(run_id="x", run_group=group)))
    for step in range(history):
        item = pb.HistoryItem(key="J", value_json=" " * (pad if step == 0 else 0) + str(step))
        records.append(pb.Record(history=pb.HistoryRecord(item=[item])))
    out = bytearray(b":W&B" + struct.pack("<HB", 0xBEE1, 0))
    for record in records:
        data = record.SerializeToString()
        first = True
        while True:
            left = BLOCK - len(out) % BLOCK
            if left < 7:
                out += b"\0" * left
                continue
            chunk, data = data[: left - 7], data[left - 7 :]
            kind = (FULL if not data else FIRST) if first else (LAST if not data else MIDDLE)
            out += struct.pack("<IHB", 0, len(chunk), kind) + chunk
            first = False
            if not data:
                break
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(bytes(out))


def test_the_reader_follows_records_across_blocks(tmp_path: Path) -> None:
    path = tmp_path / "run-x.wandb"
    write_run_file(path, history=3000, group="sweep-1", pad=2 * BLOCK)  # spans three blocks
    assert path.stat().st_size > 3 * BLOCK
    held = RunFileContents.of(path)
    assert (held.has_run, held.history, held.group) == (True, 3000, "sweep-1")
    values = [
        r.history.item[0].value_json.strip() for r in read_records(path) if r.HasField("history")
    ]
    assert values == [str(k) for k in range(3000)]


def test_a_header_only_file_holds_nothing(tmp_path: Path) -> None:
    path = tmp_path / "run-x.wandb"
    write_run_file(path, history=0, run=False)
    assert path.stat().st_size == 7
    assert RunFileContents.of(path) == RunFileContents(False, 0, 0)


# ----------------------------------------------------------------------------- stand-in wandb


class FakeRun:
    def __init__(self, calls: list[tuple[str, Any]], sync_file: Path, write_after: float | None):
        self.calls, self.write_after = calls, write_after
        self.settings = ModuleType("settings")
        self.settings.sync_file = str(sync_file)  # type: ignore[attr-defined]
        self.summary = self
        self.logged = 0
        self.fail_after: int | None = None
        """Raise from ``log`` once this many records were logged (None: never)."""

    def log(self, record: dict[str, Any], step: int) -> None:
        if self.fail_after is not None and self.logged >= self.fail_after:
            raise RuntimeError("network is down")
        self.calls.append(("log", (record, step)))
        self.logged += 1

    def update(self, summary: dict[str, Any]) -> None:
        self.calls.append(("summary", summary))

    def finish(self, exit_code: int = 0) -> None:
        self.calls.append(("finish", exit_code))
        path, logged = Path(self.settings.sync_file), self.logged  # type: ignore[attr-defined]
        write_run_file(path, history=0, run=False)  # the header, as wandb-core starts
        if self.write_after is None:
            return
        threading.Timer(self.write_after, write_run_file, (path, logged)).start()


def fake_wandb(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, write_after: float | None = 0.0, **opts: Any
) -> list[tuple[str, Any]]:
    """Install a stand-in ``wandb`` module; return the list its calls are recorded in."""
    importlib.import_module("wandb.proto.wandb_internal_pb2")  # stays importable for run files
    calls: list[tuple[str, Any]] = []
    module = ModuleType("wandb")

    def init(**kwargs: Any) -> FakeRun:
        opts.get("attempts", []).append(kwargs["mode"])
        online = kwargs["mode"] == "online"
        if opts.get("fail_init") or (online and opts.get("fail_online_init")):
            raise RuntimeError("api_key not configured (no-tty)\nsecond line")
        calls.append(("init", kwargs))
        run = FakeRun(calls, tmp_path / "wandb" / "offline-run-x" / "run-x.wandb", write_after)
        run.fail_after = 0 if opts.get("fail_log") else None
        if online and opts.get("fail_online_log_after") is not None:
            run.fail_after = opts["fail_online_log_after"]
        return run

    module.init = init  # type: ignore[attr-defined]
    module.Settings = lambda **kw: kw  # type: ignore[attr-defined]
    monkeypatch.setitem(__import__("sys").modules, "wandb", module)
    monkeypatch.setattr(tracking, "OFFLINE_WAIT_S", 1.0)
    return calls


@pytest.fixture(autouse=True)
def online_not_tried_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts as a new process: no online W&B failure seen yet."""
    monkeypatch.setattr(tracking, "ONLINE_DOWN", [])


def run_bandit(tmp_path: Path, *overrides: str) -> Any:
    cfg = compose(["logger=wandb", "train.progress=false", "env=bandit", "train.iters=7",
                   "train.eval_episodes=0", *overrides])  # fmt: skip
    resolved = {"seed": 0, "env": {"name": "bandit"}}
    return run(cfg, tmp_path, name="bandit-run", group="sweep-x", resolved=resolved)


def test_one_wandb_run_per_pgexp_run_with_config_group_name_history_and_summary(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    calls = fake_wandb(monkeypatch, tmp_path)
    summary = run_bandit(tmp_path, "logger.project=proj", "logger.tags=[a,b]")
    kinds = [kind for kind, _ in calls]
    assert kinds == ["init", *["log"] * 7, "summary", "finish"]
    init = calls[0][1]
    assert init["mode"] == "offline" and init["project"] == "proj" and init["tags"] == ["a", "b"]
    assert (init["group"], init["name"], init["job_type"]) == ("sweep-x", "bandit-run", "train")
    assert init["config"] == {"seed": 0, "env": {"name": "bandit"}}
    assert init["dir"] == str(tmp_path) and init["reinit"] == "create_new"
    logs = [args for kind, args in calls if kind == "log"]
    assert [step for _, step in logs] == list(range(1, 8))
    assert all(list(record) == list(METRIC_KEYS) for record, _ in logs)
    (pushed,) = [args for kind, args in calls if kind == "summary"]
    assert pushed["status"] == "ok" and pushed["J_final"] == summary.J_final
    assert calls[-1] == ("finish", 0)
    assert "warning" not in capsys.readouterr().err


def test_logger_group_overrides_the_sweep_group(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    calls = fake_wandb(monkeypatch, tmp_path)
    run_bandit(tmp_path, "logger.group=mine")
    assert calls[0][1]["group"] == "mine"


def test_a_late_offline_file_is_waited_for(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_wandb(monkeypatch, tmp_path, write_after=0.3)
    start = time.monotonic()
    run_bandit(tmp_path)
    assert time.monotonic() - start >= 0.3
    assert "warning" not in capsys.readouterr().err


def test_an_incomplete_offline_file_is_one_warning_with_the_remedy(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_wandb(monkeypatch, tmp_path, write_after=None)  # wandb-core never writes the records
    summary = run_bandit(tmp_path)
    (warning,) = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert "holds 0 of the 7 steps logged and no run record" in warning
    assert "metrics.jsonl" in warning and "logger.mode=online" in warning
    assert summary.status is Status.ok
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 7


def test_a_failing_wandb_costs_one_warning_and_no_local_metric(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for failure in ("fail_init", "fail_log"):
        where = tmp_path / failure
        fake_wandb(monkeypatch, where, **{failure: True})
        summary = run_bandit(where)
        warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
        assert len(warnings) == 1, warnings
        assert "local files continue" in warnings[0] and "second line" not in warnings[0]
        assert summary.status is Status.ok
        assert len((where / "metrics.jsonl").read_text().splitlines()) == 7


@pytest.mark.parametrize(
    ("failure", "modes"),
    [
        ({"fail_online_init": True}, ["offline"]),
        ({"fail_online_log_after": 3}, ["online", "offline"]),
    ],
    ids=["init", "mid-run"],
)
def test_an_online_run_that_fails_goes_on_in_an_offline_run_with_its_history(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    failure: dict[str, Any],
    modes: list[str],
) -> None:
    calls = fake_wandb(monkeypatch, tmp_path, **failure)
    summary = run_bandit(tmp_path, "logger.mode=online")
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "logging to an offline W&B run under" in warnings[0], warnings
    assert "second line" not in warnings[0] and "wandb sync" in warnings[0]
    inits = [i for i, (kind, _) in enumerate(calls) if kind == "init"]
    assert [calls[i][1]["mode"] for i in inits] == modes
    offline_logs = [args[1] for kind, args in calls[inits[-1] :] if kind == "log"]
    assert offline_logs == list(range(1, 8))  # the history so far, then the rest
    assert calls[-1] == ("finish", 0)
    assert summary.status is Status.ok
    assert len((tmp_path / "metrics.jsonl").read_text().splitlines()) == 7


def test_a_batch_waits_for_online_wandb_once_not_once_per_job(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """After one online init failed (a timeout: up to ``logger.init_timeout_s``), the other
    jobs of the process start offline at once: a 256-seed sweep waits once, not 256 times."""
    attempts: list[str] = []
    fake_wandb(monkeypatch, tmp_path, fail_online_init=True, attempts=attempts)
    base = ["logger=wandb", "logger.mode=online", "train.progress=false", "env=bandit",
            "train.iters=3", "train.eval_episodes=0"]  # fmt: skip
    jobs = [Job(compose([*base, f"seed={s}"]), tmp_path / str(s)) for s in range(3)]
    assert [s.status for s in run_batch(jobs)] == [Status.ok] * 3
    assert attempts == ["online", "offline", "offline", "offline"]
    warnings = [line for line in capsys.readouterr().err.splitlines() if "warning" in line]
    assert len(warnings) == 3 and "online W&B did not start for an earlier run" in warnings[2]
