"""Idempotency keys (IETF httpapi-idempotency-key-header), kept in the database.

The first request with a key claims it (a row in state `in_flight`, by primary key, so two
racing requests cannot both win). The same key with the same body later replays the first
answer; with another body it is a 422; while the first is still being served, a 409.
A request that fails releases its key: a failed request stores nothing.

A claim is a lease: the row names its owner and holds until `lease_until`, which a heartbeat
thread of the serving process renews while the render runs (`heartbeat`). A process that dies
(SIGKILL, a lost machine) stops renewing, so a retry takes the key over once the short lease
(IDEMPOTENCY_LEASE, 10 s) has run out, not after a long fixed lock. The takeover is a
conditional UPDATE on the old owner, so of two retries only one takes it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import delete, insert, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.loop import BackgroundLoop
from app.problems import IdempotencyKeyInFlight, IdempotencyKeyReused, InvalidRequest
from app.store.models import IdempotencyKey

log = logging.getLogger(__name__)

# Statements that leave the session's loaded rows alone (SQLite's naive datetimes cannot be
# compared with ours in Python; the rows are re-read where it matters).
PLAIN = {"synchronize_session": False}


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


def new_owner() -> str:
    return uuid.uuid4().hex


def claim(db: Session, key: str, request_hash: str, ttl: int, lock_timeout: int,
          now: datetime | None = None, owner: str | None = None,
          lease: float = 10.0) -> IdempotencyKey | None:
    """Claim `key` for this request (as `owner`, for `lease` seconds): None when claimed, the
    stored row to replay otherwise. `lock_timeout` is for claims made before leases."""
    if not key or len(key) > 255:
        raise InvalidRequest.at("Idempotency-Key", "must be 1 to 255 characters")
    now = now or datetime.now(UTC)
    owner = owner or new_owner()
    db.execute(delete(IdempotencyKey).where(IdempotencyKey.expires_at < now), execution_options=PLAIN)
    db.commit()
    # A plain INSERT, not the session's unit of work: this session may already hold the key's
    # row from an earlier request in the same context, and the database decides who wins.
    try:
        db.execute(insert(IdempotencyKey).values(
            key=key, request_hash=request_hash, state="in_flight", owner=owner,
            lease_until=now + timedelta(seconds=lease), created_at=now,
            expires_at=now + timedelta(seconds=ttl)))
        db.commit()
        return None
    except IntegrityError:
        db.rollback()
    existing = db.get(IdempotencyKey, key, populate_existing=True)
    if existing is None:  # released between our insert and our read: try once more
        return claim(db, key, request_hash, ttl, lock_timeout, now, owner, lease)
    if existing.request_hash != request_hash:
        raise IdempotencyKeyReused(
            "This Idempotency-Key was used with a different request body."
        )
    if existing.state == "in_flight":
        if _abandoned(existing, lock_timeout, now) and _take_over(db, existing, owner, now, lease):
            return None
        raise IdempotencyKeyInFlight(
            "A request with this Idempotency-Key is still being served.",
            headers={"Retry-After": "1"},
        )
    return existing


def _abandoned(row: IdempotencyKey, lock_timeout: int, now: datetime) -> bool:
    """Its server died: the lease ran out (or, for a claim from before leases, the lock)."""
    if row.lease_until is not None:
        return _aware(row.lease_until) < now
    return _aware(row.created_at) + timedelta(seconds=lock_timeout) < now


def _take_over(db: Session, row: IdempotencyKey, owner: str, now: datetime, lease: float) -> bool:
    """Become the key's owner, only if it is still the dead one's."""
    previous = IdempotencyKey.owner.is_(None) if row.owner is None else IdempotencyKey.owner == row.owner
    taken = db.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == row.key, IdempotencyKey.state == "in_flight", previous)
        .values(owner=owner, created_at=now, lease_until=now + timedelta(seconds=lease)),
        execution_options=PLAIN,
    ).rowcount
    db.commit()
    return bool(taken)


def renew(db: Session, key: str, owner: str, lease: float) -> bool:
    """Move the lease on while the owner still holds the key; False when it does not."""
    renewed = db.execute(
        update(IdempotencyKey)
        .where(IdempotencyKey.key == key, IdempotencyKey.owner == owner,
               IdempotencyKey.state == "in_flight")
        .values(lease_until=datetime.now(UTC) + timedelta(seconds=lease)),
        execution_options=PLAIN,
    ).rowcount
    db.commit()
    return bool(renewed)


@contextmanager
def heartbeat(sessions: Callable[[], Session], key: str, owner: str, lease: float) -> Iterator[None]:
    """Renew the claim every third of its lease, from a thread of its own, while the body runs:
    a render that takes minutes keeps its key; a dead process's key is free within `lease`."""
    loop: BackgroundLoop

    def beat() -> None:
        try:
            with sessions() as db:
                if not renew(db, key, owner, lease):
                    loop.stop()  # answered (done) or released: nothing left to hold
        except Exception:  # a missed beat is retried (a warning, not an error): the lease covers two
            log.warning("idempotency: could not renew the lease of a key", exc_info=True)

    loop = BackgroundLoop("idempotency-lease", beat, lease / 3, logger=log)
    loop.start()
    try:
        yield
    finally:
        loop.stop(timeout=None)


def complete(db: Session, key: str, status_code: int, response: dict[str, Any],
             message_id: str | None) -> None:
    """Record the answer on the key, in the caller's transaction.

    The archive calls this just before it commits the message, so the message and its
    key's answer are stored together: a crash cannot leave a stored message whose key
    would, once its lock times out, let a retry render it a second time.
    """
    row = db.get(IdempotencyKey, key, populate_existing=True)
    if row is not None and row.state == "done" and row.message_id != message_id:
        # Our lease ran out while we rendered and a retry took the key and stored its
        # message first: this one must not be stored too.
        raise IdempotencyKeyInFlight("A retry with this Idempotency-Key was served meanwhile.",
                                     headers={"Retry-After": "1"})
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
