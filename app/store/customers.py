"""Everything the store keeps per customer: the profile, the archive by customer, erasure.

Profiles live in the same database as the archive (table `profiles`), as validated JSON. Each
version has an ETag (a hash of its canonical JSON) for conditional requests; a conditional
write is one conditional statement (`UPDATE … WHERE etag = ?`, or an INSERT the primary key
refuses), so of writers racing on one ETag exactly one wins, on SQLite as on PostgreSQL.

Erasure removes every copy of the customer: the profile, every archived message with its
events (clicks, actions), offers shown, artifact files and idempotency answers, their
preference changes, and what each other part keeps of them, erased by that part in the same
transaction (`on_erase`): the appointments they hold with their history, booked slots and
views, the webhook deliveries about them, and the inputs of job items that rendered for them.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask, current_app
from sqlalchemy import bindparam, delete, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.problems import InvalidRequest, PreconditionFailed
from app.store import artifacts, session
from app.store.ids import chunks
from app.store.models import (
    Artifact,
    IdempotencyKey,
    Message,
    Note,
    OfferShown,
    PreferenceChange,
    Profile,
)

STALE = "The profile has changed since you read it (or does not exist); GET it again."
# How often a patch without If-Match is merged again into what a racing writer stored.
CHANGE_ATTEMPTS = 20
# What each part that keeps a customer's rows erases of them (`on_erase`), per app.
ERASERS = "touchpoint.erasers"
# A part's eraser: its rows of the customer and of their messages, in erase_customer's
# transaction (db, customer_id, message_ids); the store's own rows go after.
Eraser = Callable[[Session, str, Sequence[str]], None]


def _aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def etag_of(data: dict[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return '"' + hashlib.sha256(canonical.encode()).hexdigest()[:32] + '"'


# --------------------------------------------------------------------------- profiles


@dataclass(frozen=True)
class StoredProfile:
    customer_id: str
    data: dict[str, Any]
    updated_at: datetime

    @property
    def etag(self) -> str:
        return etag_of(self.data)

    def document(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, **self.data}


def get_profile(customer_id: str) -> StoredProfile | None:
    row = session().scalars(select(Profile).where(Profile.customer_id == customer_id)).first()
    if row is None:
        return None
    return StoredProfile(row.customer_id, dict(row.data), _aware(row.updated_at))


def _update(customer_id: str, data: dict[str, Any], etags: frozenset[str] | None) -> StoredProfile | None:
    """Write `data` over the stored profile, only if its ETag is one of `etags` (None: any);
    None when nothing was written. One statement, so the check and the write are one: on
    PostgreSQL a racing writer waits for the row and re-reads its ETag, on SQLite writers
    take turns on the database."""
    db = session()
    now = datetime.now(UTC)
    statement = update(Profile).where(Profile.customer_id == customer_id)
    if etags is not None:
        statement = statement.where(Profile.etag.in_(sorted(etags)))
    written = db.execute(statement.values(data=data, etag=etag_of(data), updated_at=now)).rowcount
    db.commit()
    return StoredProfile(customer_id, data, now) if written else None


def _insert(customer_id: str, data: dict[str, Any]) -> StoredProfile | None:
    """Create the profile; None when one exists (the primary key refuses a second)."""
    db = session()
    now = datetime.now(UTC)
    try:
        db.execute(insert(Profile).values(customer_id=customer_id, data=data, etag=etag_of(data),
                                          updated_at=now))
        db.commit()
    except IntegrityError:
        db.rollback()
        return None
    return StoredProfile(customer_id, data, now)


def save_profile(customer_id: str, data: dict[str, Any], if_match: frozenset[str] | None = None,
                 create_only: bool = False) -> tuple[StoredProfile, bool]:
    """Store `data` as the whole profile; answer it and whether it was created.

    `if_match` (ETags, or `*`): only over a stored profile with one of them; `create_only`
    (If-None-Match: *): only when there is none. Either fails with PreconditionFailed."""
    if create_only:
        created = _insert(customer_id, data)
        if created is None:
            raise PreconditionFailed("A profile already exists for this customer.")
        return created, True
    if if_match is not None:
        updated = _update(customer_id, data, None if "*" in if_match else if_match)
        if updated is None:
            raise PreconditionFailed(STALE)
        return updated, False
    while True:  # replace, else create; a profile created or erased meanwhile: again
        if updated := _update(customer_id, data, None):
            return updated, False
        if created := _insert(customer_id, data):
            return created, True


def change_profile(customer_id: str, change: Callable[[dict[str, Any]], dict[str, Any]],
                   if_match: frozenset[str] | None = None) -> StoredProfile | None:
    """Store `change(stored data)` in place of the stored profile, only if nobody wrote it
    between the read and the write; None when there is no profile.

    With `if_match`, a profile that is not at one of those ETags, or that another writer
    changed first, fails with PreconditionFailed. Without, the change is made again on what
    the other writer stored: a merge patch is never lost."""
    for _ in range(CHANGE_ATTEMPTS):
        current = get_profile(customer_id)
        session().rollback()  # read done: the write starts a transaction of its own
        if current is None:
            return None
        if if_match is not None and "*" not in if_match and current.etag not in if_match:
            raise PreconditionFailed(STALE)
        if updated := _update(customer_id, change(current.data), frozenset({current.etag})):
            return updated
        if if_match is not None:
            raise PreconditionFailed(STALE)
    raise PreconditionFailed("The profile changes too often to merge this patch; try again.")


def write_profile_with(customer_id: str, data: dict[str, Any], etag: str | None) -> bool:
    """Store `data` as the profile only if it is still at `etag` (None: only if there is none),
    committing with it the rows the caller added to the session (an audit entry, a webhook),
    in one transaction. False, with nothing stored, when another writer came first."""
    db = session()
    now = datetime.now(UTC)
    try:
        if etag is None:
            db.execute(insert(Profile).values(customer_id=customer_id, data=data, etag=etag_of(data),
                                              updated_at=now))
        elif not db.execute(update(Profile).where(Profile.customer_id == customer_id,
                                                  Profile.etag == etag)
                            .values(data=data, etag=etag_of(data), updated_at=now)).rowcount:
            db.rollback()
            return False
        db.commit()
    except IntegrityError:
        db.rollback()
        return False
    return True


@dataclass(frozen=True)
class Erased:
    profile: bool
    messages: int

    def as_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "messages": self.messages}


def on_erase(app: Flask, eraser: Eraser) -> None:
    """Join a part's eraser to `erase_customer` (a part's init_app, for the rows it owns)."""
    app.extensions.setdefault(ERASERS, []).append(eraser)


def erase_customer(customer_id: str, if_match: frozenset[str] | None = None) -> Erased:
    """Remove every copy of the customer's data, files included, in one transaction.

    With `if_match` (the ETags of If-Match; `*`: any profile), only if the profile is at one of
    them: the condition is part of the statement that deletes the profile, its transaction's
    first write, so a profile written meanwhile is never erased on the strength of an older
    read (PreconditionFailed, and nothing is erased)."""
    db = session()
    try:
        return _erase(db, customer_id, if_match)
    except BaseException:
        db.rollback()
        raise


def _erase(db: Session, customer_id: str, if_match: frozenset[str] | None) -> Erased:
    statement = delete(Profile).where(Profile.customer_id == customer_id)
    if if_match is not None and "*" not in if_match:
        statement = statement.where(Profile.etag.in_(sorted(if_match)))
    had_profile = db.execute(statement).rowcount > 0
    if if_match is not None and not had_profile:
        exists = db.scalar(select(Profile.customer_id).where(Profile.customer_id == customer_id))
        raise PreconditionFailed(STALE if exists is not None else "There is no profile to match.")
    # After the profile's delete: on SQLite it holds the write lock, so no message of the
    # customer can be committed between this read and the deletes below.
    message_ids = list(db.scalars(select(Message.id).where(Message.customer_id == customer_id)))
    for eraser in current_app.extensions.get(ERASERS, ()):
        eraser(db, customer_id, message_ids)
    db.execute(delete(OfferShown).where(OfferShown.customer_id == customer_id))
    db.execute(delete(PreferenceChange).where(PreferenceChange.customer_id == customer_id))
    for chunk in chunks(message_ids):
        # Explicit, not left to ON DELETE CASCADE: every backend, whatever its foreign-key setting.
        db.execute(delete(Note).where(Note.message_id.in_(chunk)))
        db.execute(delete(Artifact).where(Artifact.message_id.in_(chunk)))
        db.execute(delete(IdempotencyKey).where(IdempotencyKey.message_id.in_(chunk)))
        db.execute(delete(OfferShown).where(OfferShown.message_id.in_(chunk)))
        db.execute(delete(PreferenceChange).where(PreferenceChange.message_id.in_(chunk)))
        db.execute(delete(Message).where(Message.id.in_(chunk)))
    db.commit()
    # Files after the commit: had it failed, the archive would still point at them.
    store = artifacts()
    for message_id in message_ids:
        store.discard_message(message_id)
    return Erased(had_profile, len(message_ids))


# --------------------------------------------------------------------------- the archive


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_cursor: str | None


def _cursor(created: datetime, message_id: str) -> str:
    raw = json.dumps([_aware(created).isoformat(), message_id]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _read_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, message_id = json.loads(raw)
        return datetime.fromisoformat(created), str(message_id)
    except (ValueError, TypeError, binascii.Error):
        raise InvalidRequest.at("cursor", "is not a cursor this service gave") from None


def customer_messages(customer_id: str, limit: int, cursor: str | None = None,
                      brands: frozenset[str] | None = None) -> Page:
    """The customer's messages, newest first, `limit` a page, each with what happened since;
    only those of `brands` when given."""
    db = session()
    query = (
        select(Message.id, Message.type, Message.brand, Message.locale, Message.reference,
               Message.channels, Message.created_at)
        .where(Message.customer_id == customer_id)
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(limit + 1)
    )
    if brands is not None:
        query = query.where(Message.brand.in_(sorted(brands)))
    if cursor:
        created, message_id = _read_cursor(cursor)
        # Stored naive on SQLite (UTC) and aware on PostgreSQL: compare like with like.
        if db.get_bind().dialect.name == "sqlite":
            created = created.astimezone(UTC).replace(tzinfo=None)
        query = query.where(tuple_(Message.created_at, Message.id) < tuple_(created, message_id))
    rows = list(db.execute(query))
    more = len(rows) > limit
    rows = rows[:limit]
    actions = _actions([row.id for row in rows])
    items = [
        {
            "id": row.id, "type": row.type, "brand": row.brand, "locale": row.locale,
            "created": _aware(row.created_at).isoformat(), "channels": list(row.channels),
            "reference": row.reference, "actions": actions.get(row.id, []),
        }
        for row in rows
    ]
    next_cursor = _cursor(rows[-1].created_at, rows[-1].id) if more and rows else None
    return Page(items, next_cursor)


def _actions(message_ids: Sequence[str]) -> dict[str, list[dict[str, Any]]]:
    """What was recorded for each message after it was made (`message_events`), oldest first."""
    found: dict[str, list[dict[str, Any]]] = {}
    if not message_ids:
        return found
    notes = session().scalars(
        select(Note).where(Note.message_id.in_(message_ids)).order_by(Note.created_at, Note.id)
    )
    for note in notes:
        found.setdefault(note.message_id, []).append(
            {"kind": note.kind, "at": _aware(note.created_at).isoformat(), "detail": note_detail(note)}
        )
    return found


def message_notes(message_ids: Sequence[str]) -> list[dict[str, Any]]:
    """What the customer did after the messages `message_ids` were made, oldest first, each
    with the message they acted from, as `GET /v1/messages/{id}/activity` shows it."""
    notes = session().scalars(select(Note).where(Note.message_id.in_(message_ids))
                              .order_by(Note.created_at, Note.id))
    return [_note_view(note) for note in notes]


def _note_view(note: Note) -> dict[str, Any]:
    return {"kind": note.kind, "at": _aware(note.created_at).isoformat().replace("+00:00", "Z"),
            "message_id": note.message_id, "detail": note_detail(note)}


def note_detail(note: Note) -> dict[str, Any] | None:
    """A note's detail as the object it was stored as (JSON text), or None: one shape for the
    archive, `/activity` and the export."""
    return json.loads(note.detail) if note.detail else None


def message_brand(message_id: str) -> str | None:
    return session().scalar(select(Message.brand).where(Message.id == message_id))


def record_event(message_id: str, kind: str, detail: dict[str, Any] | None = None) -> None:
    db = session()
    db.add(Note(message_id=message_id, kind=kind,
                detail=json.dumps(detail, sort_keys=True) if detail is not None else None))
    db.commit()


# Built once: this runs in every render of a known customer, so it skips rebuilding the query.
_OFFERS_SHOWN = select(OfferShown.offer_id, OfferShown.shown_at).where(
    OfferShown.customer_id == bindparam("customer_id"), OfferShown.brand == bindparam("brand"),
    OfferShown.offer_id.in_(bindparam("offers", expanding=True)),
    OfferShown.shown_at >= bindparam("since"),
)


def offers_shown(customer_id: str | None, brand: str, windows: Mapping[str, int],
                 now: datetime) -> dict[str, list[datetime]]:
    """When each capped offer was shown to the customer by the brand's messages, within the
    longest of their caps' windows (the engine counts each offer within its own).

    `windows` maps each capped offer to its cap's days. Only those offers are read: an offer
    without a cap may be shown in every message, and a customer's history of it would make
    every render slower than the last; a capped one is shown at most its cap's count in each
    window, so its rows stay few.
    """
    if not customer_id or not windows:
        return {}
    db = session()
    since = now - timedelta(days=max(windows.values()))
    naive = db.get_bind().dialect.name == "sqlite"  # SQLite keeps UTC without an offset
    if naive:
        since = since.astimezone(UTC).replace(tzinfo=None)
    # Core, on the session's connection: plain rows, none of the ORM's bookkeeping.
    rows = db.connection().execute(_OFFERS_SHOWN, {"customer_id": customer_id, "brand": brand,
                                                   "offers": list(windows), "since": since})
    shown: dict[str, list[datetime]] = {}
    for offer_id, shown_at in rows:
        shown.setdefault(offer_id, []).append(shown_at.replace(tzinfo=UTC) if naive else shown_at)
    return shown
