"""GET /v1/messages/{id} and its artifacts."""

from __future__ import annotations

import io

from flask import Blueprint, Response, current_app, json, send_file

from app.auth import may_see, requires
from app.channels import eml
from app.jobs import deferred
from app.problems import NotFound
from app.store import archive
from app.store.models import Message

bp = Blueprint("messages", __name__)

ARTIFACTS = ("email.html", "email.txt", "email.eml", "page.html", "document.pdf", "invite.ics")


@bp.get("/v1/messages/<message_id>")
@requires("messages:read")
def get_message(message_id: str) -> Response:
    return Response(json.dumps(archive.answer_of(visible_message(message_id))), mimetype="application/json")


def visible_message(message_id: str) -> Message:
    """The message, if it exists and this request's key may see its brand; else 404."""
    message = archive.get_message(message_id)
    if message is None or not may_see(message.brand):
        raise NotFound(f"No message {message_id}.")
    return message


def send_artifact(message_id: str, name: str, download_name: str | None = None) -> Response:
    # A PDF still being laid out (Prefer: respond-async), and the .eml that carries it:
    # wait a little for it, then answer 202 and when to ask again.
    if name in (deferred.PDF_NAME, eml.EML) and deferred.wait_while_pending(
            message_id, current_app.config["PDF_PENDING_WAIT"]):
        response = Response(json.dumps({"id": message_id, "artifact": name, "status": "pending"}),
                            status=202, mimetype="application/json")
        response.headers["Retry-After"] = "1"
        return response
    artifact = archive.get_artifact(message_id, name) if name in ARTIFACTS else None
    if artifact is None and name == eml.EML and (message := archive.get_message(message_id)):
        artifact = eml.ensure_eml(message)
    if artifact is None:
        raise NotFound(f"Message {message_id} has no {name}.")
    source = archive.artifact_source(artifact)
    response = send_file(
        io.BytesIO(source) if isinstance(source, bytes) else source, mimetype=artifact.content_type,
        download_name=download_name or name, as_attachment=name.endswith((".eml", ".ics")),
        etag=artifact.sha256, conditional=True, max_age=0,
    )
    # The type as stored, parameters and all: Werkzeug appends a second `charset` to text/*.
    response.headers["Content-Type"] = artifact.content_type
    if name.endswith(".html"):
        # A stored page is shown as it is: no script runs, nothing loads from elsewhere.
        response.headers["Content-Security-Policy"] = (
            "default-src 'none'; img-src 'self' https: data:; style-src 'unsafe-inline'; "
            "font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'self'"
        )
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


@bp.get("/v1/messages/<message_id>/<name>")
@requires("messages:read")
def get_artifact(message_id: str, name: str) -> Response:
    visible_message(message_id)
    return send_artifact(message_id, name)
