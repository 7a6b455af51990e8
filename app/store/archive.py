"""Stage 5, store: a rendered message and its artifacts, all or nothing.

Files are written first (each atomically), then one transaction records the message and
its artifacts; if that transaction fails, the files are removed again. A failed request
therefore leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.channels import ChannelOutput
from app.store import artifacts, idempotency, session
from app.store.models import Artifact, Message, Profile


def load_profile(customer_id: str | None) -> dict[str, Any] | None:
    if not customer_id:
        return None
    profile = session().get(Profile, customer_id)
    return dict(profile.data) if profile else None


def store_message(
    *, message_id: str, request: dict[str, Any], answer: dict[str, Any],
    customer_id: str | None, brand: str, outputs: dict[str, ChannelOutput],
    idempotency_key: str | None = None, also: Callable[[Session], None] | None = None,
) -> None:
    """`also` writes what belongs with the message (an appointment's state) in its transaction."""
    store = artifacts()
    db = session()
    try:
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
        if also is not None:
            also(db)
        if idempotency_key is not None:
            idempotency.complete(db, idempotency_key, 201, answer, message_id)
        db.commit()
    except BaseException:
        db.rollback()
        store.discard_message(message_id)
        raise


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
