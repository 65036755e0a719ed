"""Local files of a run: ``metrics.jsonl`` (one line per iteration) and ``summary.json``."""

from __future__ import annotations

import json
from pathlib import Path

from pgexp.files import write_atomic
from pgexp.records import IterationRecord, Summary, from_json, to_json


class MetricsWriter:
    """Appends one JSON object per iteration to ``metrics.jsonl`` and flushes it at once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", encoding="utf-8")

    def write(self, record: IterationRecord) -> None:
        self._file.write(json.dumps(to_json(record)) + "\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def write_summary(path: Path, summary: Summary) -> None:
    """Write ``summary.json`` through a temporary file and a rename (never half-written)."""
    write_atomic(path, json.dumps(to_json(summary), indent=2) + "\n")


def read_summary(path: Path) -> Summary:
    """The summary in ``path``; ValueError (or OSError) if it is not one."""
    return from_json(Summary, json.loads(path.read_text(encoding="utf-8")))


def read_records(path: Path) -> tuple[list[IterationRecord], str | None]:
    """The records of ``metrics.jsonl`` up to the first line that is not one (a line cut short
    by a kill, say), and what is wrong with the file, naming it and what was kept (None if
    every line is a record). The one reader of the file: runs, resumes and reports use it."""
    records: list[IterationRecord] = []
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    for number, line in enumerate(lines, 1):
        try:
            records.append(from_json(IterationRecord, json.loads(line)))
        except (ValueError, TypeError, KeyError) as err:
            dropped = len(lines) - number + 1
            return records, (
                f"{path}: line {number} is not a record ({err}); kept the {len(records)} "
                f"records before it, dropped {dropped} line{'s' if dropped > 1 else ''}"
            )
    return records, None


def read_metrics(path: Path) -> list[IterationRecord]:
    """The records of a ``metrics.jsonl`` file, in order; ValueError if a line is not one."""
    records, damage = read_records(path)
    if damage:
        raise ValueError(damage)
    return records


def compact_iterations(iterations: list[int]) -> str:
    """``[1, 2, 3, 7]`` → ``1..3, 7``; ``[]`` → ``none``."""
    if not iterations:
        return "none"
    parts, start = [], iterations[0]
    for prev, cur in zip(iterations, [*iterations[1:], None], strict=True):
        if cur != prev + 1:
            parts.append(str(start) if start == prev else f"{start}..{prev}")
            start = cur if cur is not None else start
    return ", ".join(parts)


def missing_iterations(records: list[IterationRecord], iters: int) -> str | None:
    """What is wrong with records that should be iterations 1..``iters`` each once, in order
    (None when they are)."""
    found = [r.iter for r in records]
    if found == list(range(1, iters + 1)):
        return None
    return (
        f"holds iterations {compact_iterations(found)}, not 1..{iters} as its summary says: "
        "iterations are missing or repeated"
    )
