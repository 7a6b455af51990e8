"""GET /assets/<sha256>.png: content-addressed images, cached forever by anyone; and
GET /assets/fonts/<file>: the shipped type family the web page's @font-face names (app/fonts)."""

from __future__ import annotations

import re

from flask import Blueprint, Response, send_file

from app import fonts
from app.problems import NotFound
from app.store import artifacts

bp = Blueprint("assets", __name__)

_DIGEST = re.compile(r"^[0-9a-f]{64}$")
# A font may change with a release (a new version of the family): a day, then asked again.
FONT_MAX_AGE = 86400


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


@bp.get(f"{fonts.URL_PATH}<name>")
def font(name: str) -> Response:
    path = fonts.face(name)
    if path is None:
        raise NotFound("No such font.")
    response = send_file(path, mimetype=fonts.CONTENT_TYPE, conditional=True, max_age=FONT_MAX_AGE)
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
