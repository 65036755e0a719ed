"""Markdown tables: the one way the report and the benchmarks write them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def table(head: Sequence[str], rows: Iterable[Sequence[object]], align: str = "") -> str:
    """A Markdown table of ``head`` (C column names) and ``rows`` (C cells each, written with
    ``str``); ``align`` has one letter per column, ``l`` or ``r`` (left when shorter)."""
    align = align.ljust(len(head), "l")
    if len(align) != len(head) or set(align) - {"l", "r"}:
        raise ValueError(f"align {align!r}: one of l/r for each of the {len(head)} columns")
    lines = ["| " + " | ".join(head) + " |", "|" + "".join(RULE[a] for a in align)]
    for row in rows:
        if len(row) != len(head):
            raise ValueError(f"a row of {len(row)} cells under {len(head)} columns: {row}")
        lines.append("| " + " | ".join(str(cell) for cell in row) + " |")
    return "\n".join(lines)


RULE = {"l": "---|", "r": "---:|"}
