"""Reading a JSON request body: the checks every POST shares (415, 413, 400).

The media type is `application/json`, or `application/merge-patch+json` (RFC 7396, what
PATCH /v1/profiles takes); any other type, other `+json` types included, is a 415. A charset
parameter other than UTF-8 is a 415 too: it names an encoding we do not read, which is what
415 says. A body that claims UTF-8 (or nothing) but is not, a UTF-16 one for instance, is a
400 like any other body that is not JSON (app/strict_json.py: UTF-8, no duplicate keys,
bounded depth).
"""

from __future__ import annotations

from typing import Any

from flask import request
from werkzeug.exceptions import RequestEntityTooLarge

from app import strict_json
from app.problems import BodyTooLarge, UnsupportedMediaType

JSON_TYPES = ("application/json", "application/merge-patch+json")


def json_body() -> tuple[Any, bytes]:
    """The parsed body and its bytes."""
    check_media_type(JSON_TYPES)
    try:
        raw = request.get_data(cache=True)
    except RequestEntityTooLarge as exc:
        raise BodyTooLarge("The request body is larger than this service accepts.") from exc
    return strict_json.loads(raw), raw


def check_media_type(accepted: tuple[str, ...]) -> None:
    """415 unless the request's type is one of `accepted`, in UTF-8 (said or not)."""
    mimetype = request.mimetype or ""
    if mimetype not in accepted:
        raise UnsupportedMediaType(
            f"Send the request as {' or '.join(accepted)}, not {mimetype or 'no content type'}."
        )
    charset = request.mimetype_params.get("charset", "utf-8").strip().lower()
    if charset not in ("utf-8", "utf8"):
        raise UnsupportedMediaType(f"Send the request in UTF-8, not charset={charset}.")
