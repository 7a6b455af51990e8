"""The archive of messages: a rendered message's row and artifact files, and reading them back.

`add_message` runs inside the one transaction of a render (app/pipeline/commit.py): it writes
the message's files (each atomically) and adds its row; the caller commits, or rolls back and
removes the files again (`ArtifactStore.discard_message`), so a failed request leaves nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.channels import ChannelOutput
from app.store import artifacts, session
from app.store.artifacts import ArtifactStore
from app.store.models import Artifact, Message, Profile


def load_profile(customer_id: str | None) -> dict[str, Any] | None:
    if not customer_id:
        return None
    profile = session().get(Profile, customer_id)
    return dict(profile.data) if profile else None


def add_message(
    db: Session, store: ArtifactStore, *, message_id: str, request: dict[str, Any],
    answer: dict[str, Any], customer_id: str | None, brand: str, outputs: dict[str, ChannelOutput],
) -> Message:
    """Write the message's files and add its row to `db`'s transaction; the rows that refer
    to it (an appointment's, a note's) follow it. The caller commits, holding the row it is
    given until then (a flushed row is only weakly held by the session)."""
    message = Message(
        id=message_id, type=answer["type"], brand=brand, locale=answer["locale"],
        customer_id=customer_id, reference=answer.get("reference"),
        channels=list(outputs), request=request, document=answer,
        envelope=outputs["email"].envelope if "email" in outputs else None,
    )
    for output in outputs.values():
        for file in output.files:
            path, digest = store.write_message_file(message_id, file.name, file.data)
            message.artifacts.append(Artifact(
                name=file.name, content_type=file.content_type, path=path,
                size=len(file.data), sha256=digest,
            ))
    db.add(message)
    return message


def get_message(message_id: str) -> Message | None:
    return session().get(Message, message_id)


def add_artifact_once(message: Message, name: str, content_type: str, data: bytes) -> Artifact:
    """Store an artifact made after the message (the .eml on first fetch), exactly once."""
    path, digest, _ = artifacts().write_message_file_once(message.id, name, data)
    db = session()
    size = artifacts().absolute(path).stat().st_size
    db.add(Artifact(message_id=message.id, name=name, content_type=content_type, path=path,
                    size=size, sha256=digest))
    try:
        db.commit()
    except IntegrityError:
        db.rollback()  # another request stored it first: the same file, the same row
    stored = get_artifact(message.id, name)
    assert stored is not None
    return stored


def get_artifact(message_id: str, name: str) -> Artifact | None:
    return session().scalars(
        select(Artifact).where(Artifact.message_id == message_id, Artifact.name == name)
    ).first()
