"""POST /v1/render: bind, check the idempotency key, call the pipeline, answer 201.

What goes into the message's transaction besides the message: the idempotency key's answer,
and with `Prefer: respond-async` the job that lays its PDF out (dispatched once committed).
"""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Response, current_app, json, request

from app.auth import caller, check_brand, requires
from app.cpu_turn import takes_cpu_turn
from app.http.body import json_body
from app.jobs.deferred import DeferredPdf
from app.pipeline import IdempotencyDone, Record, commit, render_message
from app.problems import InvalidRequest
from app.store import idempotency, session

bp = Blueprint("render", __name__)

# A structured-field string (RFC 8941): printable ASCII, capped so the stored key fits.
IDEMPOTENCY_KEY = re.compile(r"[\x20-\x7e]{1,128}")


def _created(answer: dict, status: int = 201, replayed: bool = False) -> Response:
    response = Response(json.dumps(answer), status=status, mimetype="application/json")
    response.headers["Location"] = f"/v1/messages/{answer['id']}"
    if replayed:
        response.headers["Idempotent-Replayed"] = "true"
    if answer.get("outputs", {}).get("pdf", {}).get("status") == "pending":
        response.headers["Preference-Applied"] = "respond-async"
    return response


def _prefers_async() -> bool:
    """`Prefer: respond-async` (RFC 7240): answer without waiting for the PDF; it follows."""
    return any(part.split(";")[0].strip().lower() == "respond-async"
               for value in request.headers.getlist("Prefer") for part in value.split(","))


@bp.post("/v1/render")
@requires("render")
@takes_cpu_turn
def render() -> Response:
    document, raw = json_body()
    check_brand(document.get("brand") if isinstance(document, dict) else None)
    key = request.headers.get("Idempotency-Key")
    defer_pdf = _prefers_async()
    if key is None:
        return _created(_render(document, defer_pdf))
    if not IDEMPOTENCY_KEY.fullmatch(key):
        raise InvalidRequest.at("Idempotency-Key", "must be 1 to 128 printable ASCII characters")
    key = idempotency.scoped(caller().name, key)

    config = current_app.config
    db = session()
    owner, lease = idempotency.new_owner(), config["IDEMPOTENCY_LEASE"]
    stored = idempotency.claim(db, key, idempotency.fingerprint(raw), config["IDEMPOTENCY_TTL"],
                               config["IDEMPOTENCY_LOCK_TIMEOUT"], owner=owner, lease=lease)
    if stored is not None:
        return _created(stored.response or {}, stored.status_code or 201, replayed=True)
    try:
        # The key's answer is stored in the same transaction as the message; the claim's
        # lease is renewed while the render runs, and runs out soon after a crash.
        with idempotency.heartbeat(current_app.extensions["touchpoint.db"], key, owner, lease):
            answer = _render(document, defer_pdf, key)
    except BaseException:
        idempotency.release(db, key)
        raise
    return _created(answer)


def _render(document: Any, defer_pdf: bool, key: str | None = None) -> dict[str, Any]:
    """Render and commit the message with the key's answer and its deferred PDF's job; the
    answer. The job is dispatched only once committed: a runner must find it stored."""
    rendered = render_message(document, defer_pdf=defer_pdf)
    job = DeferredPdf.of(rendered)
    records: list[Record] = [] if job is None else [job]
    if key is not None:
        records.append(IdempotencyDone.of(rendered, key))
    answer = commit(rendered, *records)
    if job is not None:
        job.dispatch()
    return answer
