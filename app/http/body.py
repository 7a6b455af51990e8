"""Reading a JSON request body: the checks every POST shares (415, 413, 400)."""

from __future__ import annotations

import json
from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from app.problems import BodyTooLarge, MalformedJSON, UnsupportedMediaType


def json_body() -> tuple[Any, bytes]:
    """The parsed body and its bytes."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaType(
            f"Send the request as application/json, not {mimetype or 'no content type'}."
        )
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise BodyTooLarge("The request body is larger than this service accepts.") from exc
    try:
        return json.loads(raw, parse_constant=_not_json), raw
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedJSON(f"The body is not valid JSON: {exc}") from exc


def _not_json(name: str) -> Any:
    # Python's json reads NaN, Infinity and -Infinity; RFC 8259 JSON has no such values.
    raise ValueError(f"{name} is not a JSON value")
