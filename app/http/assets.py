"""GET /assets/<sha256>.png: content-addressed images, cached forever by anyone."""

from __future__ import annotations

import re

from flask import Blueprint, Response, send_file

from app.problems import NotFound
from app.store import artifacts

bp = Blueprint("assets", __name__)

_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@bp.get("/assets/<digest>.png")
def asset(digest: str) -> Response:
    path = artifacts().asset_path(digest, "png") if _DIGEST.match(digest) else None
    if path is None or not path.is_file():
        raise NotFound("No such image.")
    response = send_file(path, mimetype="image/png", etag=digest, conditional=True)
    # The URL is the content's hash: it can never show anything else.
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
