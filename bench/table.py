"""Rows of text printed in columns, for the benchmarks' tables."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def print_columns(lines: Sequence[Sequence[str]], out: Any) -> None:
    """Each column as wide as its widest cell, left-aligned, with a rule under the first line
    (the header)."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)
