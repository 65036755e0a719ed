"""Reading an offline W&B run file (``run-<id>.wandb``) back, to check what it holds.

The file is a 7-byte header (``:W&B``, magic 0xBEE1, version 0) followed by 32 KiB blocks of
LevelDB-log records (crc32, little-endian length, type: full/first/middle/last), each holding a
serialized ``wandb_internal_pb2.Record``. wandb 0.31 reads it in Go only; this reader is
pgexp's own.

wandb-core writes the file in its own process, and ``run.finish()`` ends by telling that process
the run is over without waiting for an answer: nothing promises that the file holds every record
when ``finish()`` returns (files holding the header alone have been seen on a loaded machine).
:func:`wait_for_history` waits for the records and says what is still missing.
"""

from __future__ import annotations

import struct
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HEADER, BLOCK, RECORD_HEADER = 7, 32 * 1024, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: Path) -> Iterator[Any]:
    """The ``wandb_internal_pb2.Record`` messages of a run file, in order (a record still being
    written is left out)."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = path.read_bytes()
    if len(data) < HEADER:  # still being written
        return
    if data[:4] != b":W&B":
        raise ValueError(f"{path} is not a W&B run file")
    pos, pending = HEADER, b""
    while pos + RECORD_HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < RECORD_HEADER:  # zero padding at the end of a block
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        chunk = data[pos + RECORD_HEADER : pos + RECORD_HEADER + length]
        if (kind == 0 and length == 0) or len(chunk) < length:
            break
        pos += RECORD_HEADER + length
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = pb.Record()  # type: ignore[attr-defined]
            record.ParseFromString(pending)
            yield record


@dataclass(frozen=True)
class RunFileContents:
    """What an offline run file holds: the run record (and its group), history steps and
    summary updates."""

    has_run: bool
    history: int
    summaries: int
    group: str | None = None

    @classmethod
    def of(cls, path: Path) -> RunFileContents:
        if not path.is_file():
            return cls(False, 0, 0)
        records = list(read_records(path))
        runs = [r.run for r in records if r.HasField("run")]
        return cls(
            has_run=bool(runs),
            history=sum(r.HasField("history") for r in records),
            summaries=sum(r.HasField("summary") for r in records),
            group=runs[0].run_group if runs else None,
        )

    def holds(self, history: int) -> bool:
        """Whether the file holds the run record and at least ``history`` steps."""
        return self.has_run and self.history >= history


def wait_for_history(path: Path, history: int, timeout_s: float = 10.0) -> RunFileContents:
    """Poll ``path`` until it holds the run record and ``history`` steps, or ``timeout_s`` passes;
    return what it holds then."""
    deadline = time.monotonic() + timeout_s
    while True:
        contents = RunFileContents.of(path)
        if contents.holds(history) or time.monotonic() > deadline:
            return contents
        time.sleep(0.05)
