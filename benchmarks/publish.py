"""How every benchmark reports: the table on stdout, then ``benchmarks/results/<name>.md`` (the
machine line and the table) and ``<name>.json`` (the machine and the raw rows)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

import torch

RESULTS = Path(__file__).parent / "results"


def machine(threads: str | None = None) -> str:
    """The CPU (and GPU, when one is visible), torch's threads (or ``threads``) and version."""
    cpu = platform.processor() or platform.machine()
    n = torch.get_num_threads()
    line = f"{cpu}, {threads or f'{n} torch thread' + 's' * (n > 1)}, torch {torch.__version__}"
    if torch.cuda.is_available():
        line += f", GPU {torch.cuda.get_device_name()}"
    return line


def publish(
    name: str, rows: list[dict[str, object]], table: str, threads: str | None = None
) -> None:
    """Print ``table`` and write it and ``rows`` under ``benchmarks/results/``."""
    print(table)
    RESULTS.mkdir(exist_ok=True)
    line = machine(threads)
    (RESULTS / f"{name}.json").write_text(
        json.dumps({"machine": line, "rows": rows}, indent=2) + "\n"
    )
    (RESULTS / f"{name}.md").write_text(f"Machine: {line}\n\n{table}\n")
