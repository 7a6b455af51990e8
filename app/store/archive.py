"""The archive of messages: a rendered message's row and artifact files, and reading them back.

A render stores through app/pipeline/commit.py: `write_files` writes the message's large
files (in place: no reader reaches them before the row commits) and keeps the small ones for
their rows, then `add_message` inserts its rows in the render's one transaction; the caller
commits, or rolls back and removes the files again (`ArtifactStore.discard_message`), so a
failed request leaves nothing. A file made after its message (a deferred PDF, the .eml on
first fetch) joins it through `add_artifact`, once. `artifact_bytes` and `artifact_source` read
an artifact wherever it is kept.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, insert, select
from sqlalchemy.orm import Session

from app.links import short_code
from app.store import artifacts, session
from app.store.artifacts import ArtifactStore, File
from app.store.models import Artifact, Message, OfferShown, Profile, utcnow

# Built once: every render of a known customer runs it (Core: a plain value, no ORM identity).
_PROFILE_DATA = select(Profile.data).where(Profile.customer_id == bindparam("customer_id"))


def load_profile(customer_id: str | None) -> dict[str, Any] | None:
    if not customer_id:
        return None
    data = session().connection().execute(_PROFILE_DATA, {"customer_id": customer_id}).scalar()
    return dict(data) if data is not None else None


def write_files(store: ArtifactStore, message_id: str, files: Sequence[File]) -> list[dict[str, Any]]:
    """Write a message's files larger than the store keeps in rows; answer the rows
    `add_message` inserts for all of them, the small ones with their bytes. Done before the
    transaction, so the database is held only for the inserts."""
    rows: list[dict[str, Any]] = []
    if any(len(file.data) > store.inline_bytes for file in files):
        store.make_message_folder(message_id)
    for file in files:
        if len(file.data) > store.inline_bytes:
            path, digest = store.write_message_file(message_id, file.name, file.data)
            content = None
        else:
            path, digest, content = None, hashlib.sha256(file.data).hexdigest(), file.data
        rows.append({"message_id": message_id, "name": file.name, "content_type": file.content_type,
                     "path": path, "size": len(file.data), "sha256": digest, "content": content})
    return rows


def artifact_bytes(artifact: Artifact) -> bytes:
    """An artifact's bytes, from its row or its file."""
    if artifact.path is not None:
        return artifacts().read(artifact.path)
    if artifact.content is None:  # the migration and write_files set exactly one of the two
        raise LookupError(f"artifact {artifact.name} of {artifact.message_id} has neither bytes nor a file")
    return artifact.content


def artifact_source(artifact: Artifact) -> Path | bytes:
    """Where to stream an artifact from: its file, or its bytes when the row holds them."""
    return artifacts().absolute(artifact.path) if artifact.path is not None else artifact_bytes(artifact)


# An answer's texts that are also the message's files, as (channel, field, file): the stored
# answer keeps the field with null in its place (the text would be stored twice, and it is
# most of the row), and `answer_of` reads it back from the file.
_TEXTS_IN_FILES = (("email", "html", "email.html"), ("email", "text", "email.txt"))


def _stored_answer(answer: dict[str, Any]) -> dict[str, Any]:
    """The answer as its row keeps it: each text that is one of the message's files, null."""
    outputs = dict(answer.get("outputs") or {})
    for channel, field, _ in _TEXTS_IN_FILES:
        if field in outputs.get(channel, {}):
            outputs[channel] = {**outputs[channel], field: None}
    return {**answer, "outputs": outputs}


def answer_of(message: Message) -> dict[str, Any]:
    """The message's answer as its render gave it: the stored row, each text it leaves to a
    file read back (rows stored before the texts moved out still hold them)."""
    document = message.document
    outputs = dict(document.get("outputs") or {})
    for channel, field, name in _TEXTS_IN_FILES:
        output = outputs.get(channel)
        if output is not None and field in output and output[field] is None:
            artifact = get_artifact(message.id, name)
            text = artifact_bytes(artifact).decode() if artifact is not None else None
            outputs[channel] = {**output, field: text}
    return {**document, "outputs": outputs}


_INSERT_MESSAGE = insert(Message.__table__)
_INSERT_ARTIFACT = insert(Artifact.__table__)
_INSERT_OFFER_SHOWN = insert(OfferShown.__table__)


def add_message(
    db: Session, *, message_id: str, request: dict[str, Any], answer: dict[str, Any],
    customer_id: str | None, brand: str, channels: list[str], envelope: dict[str, Any] | None,
    files: list[dict[str, Any]],
) -> None:
    """Insert the message's row, its files' rows (from `write_files`) and the offers it showed
    (what frequency caps count) in `db`'s transaction; the caller commits.

    Core inserts on the session's connection: every render passes here, and the ORM's unit of
    work would cost more than the inserts themselves. The rows that refer to the message (an
    appointment's, a note's) are the caller's ORM objects, flushed after these at commit.
    """
    created_at = utcnow()
    connection = db.connection()
    connection.execute(_INSERT_MESSAGE, {
        "id": message_id, "type": answer["type"], "brand": brand, "locale": answer["locale"],
        "customer_id": customer_id, "reference": answer.get("reference"),
        "channels": channels, "request": request, "document": _stored_answer(answer),
        "envelope": envelope, "created_at": created_at,
        "short_code": short_code(message_id) if "sms" in channels else None,
    })
    if files:
        connection.execute(_INSERT_ARTIFACT, files)
    blocks = (answer.get("personalisation") or {}).get("blocks") or []
    if customer_id and blocks:
        connection.execute(_INSERT_OFFER_SHOWN, [
            {"message_id": message_id, "offer_id": block["offer"], "customer_id": customer_id,
             "brand": brand, "shown_at": created_at}
            for block in blocks
        ])


def get_message(message_id: str) -> Message | None:
    return session().get(Message, message_id)


def message_by_short_code(code: str) -> Message | None:
    return session().scalars(select(Message).where(Message.short_code == code)).first()


def add_artifact(db: Session, message_id: str, name: str, content_type: str, data: bytes) -> Artifact:
    """A file made after its message (a deferred PDF, the .eml on first fetch) stored as one of
    its artifacts, in `db`'s transaction (the caller commits). Exactly once: when the file is
    there already (a second attempt, a racing request), the first stays, and so does its row."""
    path, digest, size = artifacts().write_message_file_once(message_id, name, data)
    stored = get_artifact(message_id, name)
    if stored is None:
        stored = Artifact(message_id=message_id, name=name, content_type=content_type, path=path,
                          size=size, sha256=digest)
        db.add(stored)
    return stored


def get_artifact(message_id: str, name: str) -> Artifact | None:
    return session().scalars(
        select(Artifact).where(Artifact.message_id == message_id, Artifact.name == name)
    ).first()
