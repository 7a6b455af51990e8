"""Stage 8, commit: a Rendered message and the records that come with it, all or nothing.

Input: a `Rendered` value (what `render_message` made) and the records its caller names: the
idempotency key's answer and a deferred PDF's job (POST /v1/render), the job item done
(app/jobs/work.py), the customer's note and the webhook to upstream (changes.py). The record
the message itself brings (its appointment's new state) travels in the Rendered value.
Output: the answer, once everything is stored.

This is the one place a render writes: first the files (the pictures it drew, then the
message's artifacts, each atomically), then one transaction with the message row and every
record. If any of it fails, the transaction rolls back and the message's files are removed,
so a failed request leaves nothing behind (the content-addressed pictures stay: they name no
one and other messages share them).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from app import logs
from app.pipeline.rendered import Record, Rendered
from app.store import archive, artifacts, idempotency, one_writer, session
from app.visuals.drawn import keep


@dataclass(frozen=True)
class IdempotencyDone:
    """The idempotency key's answer, stored with the message: a retry replays it."""

    key: str
    answer: dict[str, Any]
    message_id: str

    @classmethod
    def of(cls, rendered: Rendered, key: str) -> IdempotencyDone:
        return cls(key, rendered.answer, rendered.message_id)

    def write(self, db: Session) -> None:
        idempotency.complete(db, self.key, 201, self.answer, self.message_id)


def commit(rendered: Rendered, *records: Record) -> dict[str, Any]:
    """Store the message, its own records and the caller's, in one transaction; the answer."""
    store, db = artifacts(), session()
    try:
        for asset in rendered.assets:
            keep(store, asset)  # content-addressed, shared: kept even if the rest fails
        files = archive.write_files(store, rendered.message_id, rendered.files)
        _write_rows(db, rendered, files, records)
    except BaseException:
        store.discard_message(rendered.message_id)
        raise
    rendered.clock.lap("store")
    # The operator's line: message id, type, channels and the milliseconds of each stage.
    logs.rendered(rendered.message_id, rendered.answer["type"], list(rendered.outputs),
                  rendered.clock)
    return rendered.answer


def _write_rows(db: Session, rendered: Rendered, files: list[dict[str, Any]],
                records: tuple[Record, ...]) -> None:
    """The one transaction: the message's rows, then every record; rolled back on any failure.
    It holds the database's write turn from its first write to its commit."""
    try:
        with one_writer():
            archive.add_message(
                db, message_id=rendered.message_id, request=rendered.request, answer=rendered.answer,
                customer_id=rendered.customer_id, brand=rendered.brand, channels=list(rendered.outputs),
                envelope=rendered.envelope, files=files)
            for record in (*rendered.records, *records):
                record.write(db)
            db.commit()
    except BaseException:
        db.rollback()
        raise
