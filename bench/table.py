"""How the benchmarks print their results: as a table in columns, or as JSON."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from typing import Any


def print_columns(lines: Sequence[Sequence[str]], out: Any) -> None:
    """Each column as wide as its widest cell, left-aligned, with a rule under the first line
    (the header)."""
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    for n, line in enumerate(lines):
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip(), file=out)
        if n == 0:
            print("  ".join("-" * w for w in widths), file=out)


def print_json_or(results: Any, as_json: bool, table: Callable[[Any], None]) -> None:
    """`results` as indented JSON on standard output (`--json`), or through `table`."""
    if as_json:
        json.dump(results, sys.stdout, indent=2)
        print()
    else:
        table(results)
