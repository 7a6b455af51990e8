"""Tables: the archive of messages and their artifacts, idempotency keys, customer profiles."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class Message(Base):
    __tablename__ = "messages"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    type: Mapped[str] = mapped_column(String(20))
    brand: Mapped[str] = mapped_column(String(128))
    locale: Mapped[str] = mapped_column(String(35))
    customer_id: Mapped[str | None] = mapped_column(String(128), index=True)
    reference: Mapped[str | None] = mapped_column(String(200))
    channels: Mapped[list[Any]] = mapped_column(JSON)
    # The request as accepted, and the answer document as first given (CONTRACT.md).
    request: Mapped[dict[str, Any]] = mapped_column(JSON)
    document: Mapped[dict[str, Any]] = mapped_column(JSON)
    # What the .eml is built from on first fetch: subject, from, to, date, Message-ID and
    # which artifacts it carries (app/channels/email.py). None for a message with no email.
    envelope: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    # The code of its short SMS link, `/s/<code>` (app/links.py); None for a message with no SMS.
    short_code: Mapped[str | None] = mapped_column(String(16), unique=True, index=True)

    artifacts: Mapped[list[Artifact]] = relationship(
        back_populates="message", cascade="all, delete-orphan", lazy="selectin"
    )


class Artifact(Base):
    """One file of a message (`email.html`, `document.pdf`, ...). Its bytes are in the row
    (`content`) when it is small (ARTIFACT_INLINE_BYTES), else under ARTIFACT_DIR at `path`;
    exactly one of the two is set. Read them with `archive.artifact_bytes`."""

    __tablename__ = "artifacts"

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(128))
    path: Mapped[str | None] = mapped_column(String(512), nullable=True)
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    # Loaded only when read: listing a message's artifacts does not carry their bytes.
    content: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True, deferred=True)

    message: Mapped[Message] = relationship(back_populates="artifacts")


class IdempotencyKey(Base):
    __tablename__ = "idempotency_keys"

    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    # `in_flight` while the first request is served, then `done` with its answer.
    state: Mapped[str] = mapped_column(String(16))
    # While in flight: who serves it, and until when; the server renews the lease while it
    # renders, so a lease that ran out is a dead server's, and a retry takes the key over.
    owner: Mapped[str | None] = mapped_column(String(40), nullable=True)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    message_id: Mapped[str | None] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class Profile(Base):
    __tablename__ = "profiles"

    customer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)
    # The ETag of `data`, kept so a conditional write is one `UPDATE … WHERE etag = ?`.
    etag: Mapped[str] = mapped_column(String(34))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Note(Base):
    """Free-form log of what happened to a message after it was made (actions, deliveries)."""

    __tablename__ = "message_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(40))
    detail: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class OfferShown(Base):
    """An offer block a message showed: what frequency caps count (app/personalise).

    Written with the message, in its transaction (`archive.add_message`), so the caps never
    read the archived documents themselves.
    """

    __tablename__ = "offers_shown"
    # Led by the offer after the customer: each render reads its brand's capped offers only
    # (`customers.offers_shown`), never the rows of the offers shown without a cap.
    __table_args__ = (Index("ix_offers_shown_cap", "customer_id", "brand", "offer_id", "shown_at"),)

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    offer_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    customer_id: Mapped[str] = mapped_column(String(128))
    brand: Mapped[str] = mapped_column(String(128))
    shown_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class PreferenceChange(Base):
    """The audit of a customer's preference changes (app/preferences): what changed, when, from
    which message's page, and how (`preference_centre`, `one_click`, `undo`).

    Kept with the customer, not the message: a change outlives the message it was made from
    (retention purges it with the customer's other rows, RETENTION_DAYS after it was made), and
    erasure removes it with the customer.
    """

    __tablename__ = "preference_changes"
    __table_args__ = (Index("ix_preference_changes_customer", "customer_id", "created_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    customer_id: Mapped[str | None] = mapped_column(String(128))
    brand: Mapped[str] = mapped_column(String(128))
    # The message whose link the customer followed; a plain column, so a purged message leaves
    # the audit whole.
    message_id: Mapped[str] = mapped_column(String(40), index=True)
    source: Mapped[str] = mapped_column(String(32))
    # {"field": {"from": …, "to": …}, …}: only what changed.
    changes: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
