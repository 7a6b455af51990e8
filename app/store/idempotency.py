"""Idempotency keys (IETF httpapi-idempotency-key-header), kept in the database.

The first request with a key claims it (a row in state `in_flight`, by primary key, so two
racing requests cannot both win). The same key with the same body later replays the first
answer; with another body it is a 422; while the first is still being served, a 409.
A request that fails releases its key: a failed request stores nothing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.problems import IdempotencyKeyInFlight, IdempotencyKeyReused, InvalidRequest
from app.store.models import IdempotencyKey


def fingerprint(body: bytes) -> str:
    """The body's identity: its JSON, canonical, so key order and spacing do not matter."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":"))
    except ValueError:
        canonical = body.decode("utf-8", "replace")
    return hashlib.sha256(canonical.encode()).hexdigest()


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def scoped(caller: str, key: str) -> str:
    """The key as stored: each caller's keys are its own (keys of one caller share its name,
    so a retry survives a key rotation)."""
    return f"{caller}/{key}"


def claim(db: Session, key: str, request_hash: str, ttl: int, lock_timeout: int,
          now: datetime | None = None) -> IdempotencyKey | None:
    """Claim `key` for this request: None when claimed, the stored row to replay otherwise."""
    if not key or len(key) > 255:
        raise InvalidRequest.at("Idempotency-Key", "must be 1 to 255 characters")
    now = now or datetime.now(UTC)
    db.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now))
    db.commit()
    row = IdempotencyKey(key=key, request_hash=request_hash, state="in_flight",
                         created_at=now, expires_at=now + timedelta(seconds=ttl))
    db.add(row)
    try:
        db.commit()
        return None
    except IntegrityError:
        db.rollback()
    existing = db.get(IdempotencyKey, key, populate_existing=True)
    if existing is None:  # released between our insert and our read: try once more
        return claim(db, key, request_hash, ttl, lock_timeout, now)
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request body."
        )
    if existing.state == "in_flight":
        if _aware(existing.created_at) + timedelta(seconds=lock_timeout) < now:
            # The first request died without an answer; this one takes over.
            existing.created_at = now
            db.commit()
            return None
        raise IdempotencyKeyInFlight(
            "A request with this Idempotency-Key is still being served.",
            headers={"Retry-After": "1"},
        )
    return existing


def complete(db: Session, key: str, status_code: int, response: dict[str, Any],
             message_id: str | None) -> None:
    """Record the answer on the key, in the caller's transaction.

    The archive calls this just before it commits the message, so the message and its
    key's answer are stored together: a crash cannot leave a stored message whose key
    would, once its lock times out, let a retry render it a second time.
    """
    row = db.get(IdempotencyKey, key)
    if row is not None:
        row.state = "done"
        row.status_code = status_code
        row.response = response
        row.message_id = message_id


def release(db: Session, key: str) -> None:
    """Give up a claim whose request failed. A key already done keeps its answer: the
    failure came after the message was stored, and a retry must get that message."""
    db.rollback()
    db.execute(delete(IdempotencyKey).where(IdempotencyKey.key == key,
                                            IdempotencyKey.state == "in_flight"))
    db.commit()
