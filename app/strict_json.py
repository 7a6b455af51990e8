"""Reading JSON from callers strictly: UTF-8 only, no duplicate keys, bounded nesting.

Shared by request bodies (app/http/body.py) and NDJSON job lines (app/jobs/ingest.py). Each
refusal is a MalformedJSON (400) whose detail says what is wrong:

- UTF-8 only (RFC 8259 section 8.1): Python's json would otherwise guess UTF-16 or UTF-32 from
  the first bytes of a body; a byte-order mark is refused too.
- A key twice in one object: Python keeps the last silently, so `"unit_price"` sent twice
  would render whichever came last. Refused rather than guessed at.
- At most MAX_DEPTH nested arrays and objects: no request needs more, and deeper nesting
  would reach the interpreter's recursion limit in the parser or the validator.
- NaN, Infinity and -Infinity are not JSON (RFC 8259) although Python's json reads them.
"""

from __future__ import annotations

import json
from typing import Any

from app.problems import MalformedJSON

MAX_DEPTH = 64


def loads(raw: bytes, where: str = "The body") -> Any:
    """The JSON value in `raw`, or MalformedJSON naming `where` and what is wrong."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedJSON(f"{where} is not UTF-8 (JSON is UTF-8 only): {exc.reason} "
                            f"at byte {exc.start}") from None
    if text.startswith("\ufeff"):
        raise MalformedJSON(f"{where} starts with a byte-order mark; send UTF-8 without one")
    try:
        value = json.loads(text, parse_constant=_not_json, object_pairs_hook=_object)
    except RecursionError:
        raise MalformedJSON(f"{where} nests arrays and objects deeper than {MAX_DEPTH}") from None
    except ValueError as exc:
        raise MalformedJSON(f"{where} is not valid JSON: {exc}") from None
    if depth(value) > MAX_DEPTH:
        raise MalformedJSON(f"{where} nests arrays and objects deeper than {MAX_DEPTH}")
    return value


def depth(value: Any) -> int:
    """How deeply arrays and objects nest in `value` (a scalar: 0), without recursion, and
    stopping as soon as MAX_DEPTH is passed."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            children = node.values()
        elif isinstance(node, list):
            children = node
        else:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_DEPTH:
            break
        stack.extend((child, level + 1) for child in children if isinstance(child, dict | list))
    return deepest


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) < len(pairs):
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))  # type: ignore[func-returns-value]
        raise ValueError(f"the key {json.dumps(twice)} appears twice in one object")
    return result


def _not_json(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")
