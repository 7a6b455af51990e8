"""JSON that remembers where each value was written, so a designer hears `offers.json:12`.

`load(text)` parses like `json.loads` but answers `Located` dicts and lists that know the
line of every key and item. Duplicate keys, which `json` silently collapses, are refused.
Only for data files loaded once (the catalogue): it runs the pure-Python scanner.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import json.scanner
from collections.abc import Callable, Sequence
from typing import Any

Path = Sequence[str | int]


class DuplicateKey(ValueError):
    def __init__(self, key: str, line: int) -> None:
        super().__init__(f"the key '{key}' is given twice")
        self.line = line


class LocatedDict(dict[str, Any]):
    line: int = 1
    lines: dict[str, int]


class LocatedList(list[Any]):
    line: int = 1
    lines: list[int]


def load(text: str) -> Any:
    """The document; raises json.JSONDecodeError (with `lineno`) or DuplicateKey."""
    starts = [0] + [i + 1 for i, char in enumerate(text) if char == "\n"]

    def line_of(position: int) -> int:
        return bisect.bisect_right(starts, position)

    def recording(scan_once: Callable[[str, int], Any], positions: list[int]) -> Callable[[str, int], Any]:
        def scan(string: str, index: int) -> Any:
            positions.append(index)
            return scan_once(string, index)

        return scan

    def parse_object(s_and_end: tuple[str, int], strict: bool, scan_once: Any, object_hook: Any,
                     object_pairs_hook: Any, memo: Any = None) -> tuple[LocatedDict, int]:
        positions: list[int] = []
        pairs, end = json.decoder.JSONObject(
            s_and_end, strict, recording(scan_once, positions), None, lambda pairs: pairs, memo
        )
        result = LocatedDict()
        result.line = line_of(s_and_end[1] - 1)
        result.lines = {}
        for (key, value), position in zip(pairs, positions, strict=True):
            if key in result:
                raise DuplicateKey(key, line_of(position))
            result[key] = value
            result.lines[key] = line_of(position)
        return result, end

    def parse_array(s_and_end: tuple[str, int], scan_once: Any) -> tuple[LocatedList, int]:
        positions: list[int] = []
        values, end = json.decoder.JSONArray(s_and_end, recording(scan_once, positions))
        result = LocatedList(values)
        result.line = line_of(s_and_end[1] - 1)
        result.lines = [line_of(position) for position in positions]
        return result, end

    decoder = json.JSONDecoder()
    decoder.parse_object = parse_object  # type: ignore[assignment]
    decoder.parse_array = parse_array  # type: ignore[assignment]
    decoder.scan_once = json.scanner.py_make_scanner(decoder)  # type: ignore[attr-defined]
    return decoder.decode(text)


def line_at(document: Any, path: Path) -> int:
    """The line of the deepest value along `path` (keys and indexes) that the document has."""
    line = getattr(document, "line", 1)
    node = document
    for part in path:
        in_dict = isinstance(node, LocatedDict) and isinstance(part, str) and part in node
        in_list = isinstance(node, LocatedList) and isinstance(part, int) and 0 <= part < len(node)
        if not (in_dict or in_list):
            break
        line = node.lines[part]  # type: ignore[index]
        node = node[part]
    return line
