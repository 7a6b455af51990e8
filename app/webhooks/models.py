"""The webhook outbox: one row per event to tell upstream, kept until it is delivered.

A row is written in the same transaction as what it reports (a customer's reschedule or
cancel), so an event is never lost and never reported for something that did not happen.
Runners lease a row (`locked_until`) before they send it; a runner that dies mid-send
leaves a lease that runs out, and another runner sends it again with the same
`webhook-id`, by which the receiver recognises a repeat (Standard Webhooks).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models import Base, utcnow


class WebhookDelivery(Base):
    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index("ix_webhook_deliveries_due", "status", "next_attempt_at"),)

    # The `webhook-id` header: the same on every attempt of this event.
    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    # The message the customer acted on, and the message the action rendered.
    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), index=True
    )
    result_message_id: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    event_type: Mapped[str] = mapped_column(String(64))
    url: Mapped[str] = mapped_column(String(2000))
    # The exact bytes signed and sent, on every attempt.
    payload: Mapped[str] = mapped_column(Text)
    # `pending` (waiting for its next attempt), `delivered`, or `failed` (gave up).
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    locked_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(String(500), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
