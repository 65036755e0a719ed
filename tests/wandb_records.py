"""Read the records of an offline W&B run file (``run-<id>.wandb``) for assertions.

The file is a 7-byte header (``:W&B``, magic 0xBEE1, version 0) followed by 32 KiB blocks of
LevelDB-log records (crc32, little-endian length, type: full/first/middle/last), each holding a
serialized ``wandb_internal_pb2.Record``. wandb 0.31 reads it in Go only, so the tests read it here.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path

from wandb.proto import wandb_internal_pb2 as pb

HEADER, BLOCK, RECORD_HEADER = 7, 32 * 1024, 7
FULL, FIRST, MIDDLE, LAST = 1, 2, 3, 4


def read_records(path: Path) -> Iterator[pb.Record]:
    data = path.read_bytes()
    assert data[:4] == b":W&B", f"{path} is not a W&B run file"
    pos, pending = HEADER, b""
    while pos + RECORD_HEADER <= len(data):
        left_in_block = BLOCK - pos % BLOCK
        if left_in_block < RECORD_HEADER:  # zero padding at the end of a block
            pos += left_in_block
            continue
        _crc, length, kind = struct.unpack_from("<IHB", data, pos)
        chunk = data[pos + RECORD_HEADER : pos + RECORD_HEADER + length]
        pos += RECORD_HEADER + length
        if kind == 0 and length == 0:
            break
        pending = chunk if kind in (FULL, FIRST) else pending + chunk
        if kind in (FULL, LAST):
            record = pb.Record()
            record.ParseFromString(pending)
            yield record


def run_file(run_dir: Path) -> Path:
    """The one ``.wandb`` file under ``<run_dir>/wandb``."""
    (found,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    return found
