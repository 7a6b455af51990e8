"""Tables: each appointment's current state, its history of changes, and booked slots.

What the database guarantees, not only what the code checks:
- `appointment_changes` holds one row per SEQUENCE of an appointment (unique). Two changes
  racing from the same state (a double submit, a page left open while something else moved
  the appointment) both want SEQUENCE n + 1: one wins, the other fails on the constraint.
- `slot_bookings` holds one row per (brand, whose time, start): two customers offered the
  same slot of one advisor cannot both take it.
- `appointments.sequence` only moves by a conditional UPDATE from the value read before
  rendering (optimistic concurrency), so a slow render never writes back an old state.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models import Base, utcnow


class Appointment(Base):
    """An appointment as it now stands, keyed by brand and upstream's `appointment_id`."""

    __tablename__ = "appointments"

    brand: Mapped[str] = mapped_column(String(128), primary_key=True)
    appointment_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    # `confirmed` or `cancelled`.
    status: Mapped[str] = mapped_column(String(16))
    # Local wall-clock times (ISO 8601, no offset) in `timezone`, as upstream sends them.
    start: Mapped[str] = mapped_column(String(32))
    end: Mapped[str] = mapped_column(String(32))
    timezone: Mapped[str] = mapped_column(String(64))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    location: Mapped[dict[str, Any]] = mapped_column()
    # The invite's SEQUENCE (RFC 5545): raised with every change of time, place or status.
    sequence: Mapped[int] = mapped_column(Integer)
    # What the customer may move to (`[{start, end}]`, local), and what they took.
    slots: Mapped[list[Any]] = mapped_column()
    taken_slot: Mapped[dict[str, Any] | None] = mapped_column(nullable=True)
    callback_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # Whose time a slot is (the advisor), so two appointments cannot book one slot.
    resource: Mapped[str] = mapped_column(String(300))
    customer_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # The newest message about the appointment: what `/m/` shows for older ones.
    message_id: Mapped[str | None] = mapped_column(
        ForeignKey("messages.id", ondelete="SET NULL"), nullable=True
    )
    # `upstream` (a render request) or `customer` (a reschedule or cancel page).
    changed_by: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AppointmentMessage(Base):
    """Which appointment a message is about, at which SEQUENCE, and its card as composed."""

    __tablename__ = "appointment_messages"
    __table_args__ = (Index("ix_appointment_messages_appointment", "brand", "appointment_id"),)

    message_id: Mapped[str] = mapped_column(
        ForeignKey("messages.id", ondelete="CASCADE"), primary_key=True
    )
    brand: Mapped[str] = mapped_column(String(128))
    appointment_id: Mapped[str] = mapped_column(String(128))
    sequence: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(16))
    # The `appointment` part of the composed context (title, when, where, advisor, ...), in
    # the message's language: the customer pages show the appointment with it.
    view: Mapped[dict[str, Any]] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class AppointmentChange(Base):
    """One change of an appointment: its history, and the guard against two changes at once."""

    __tablename__ = "appointment_changes"
    __table_args__ = (
        UniqueConstraint("brand", "appointment_id", "sequence", name="uq_appointment_changes_sequence"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    brand: Mapped[str] = mapped_column(String(128))
    appointment_id: Mapped[str] = mapped_column(String(128))
    sequence: Mapped[int] = mapped_column(Integer)
    # `created`, `rescheduled`, `cancelled` or `updated`; by `upstream` or `customer`.
    kind: Mapped[str] = mapped_column(String(16))
    by: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    start: Mapped[str] = mapped_column(String(32))
    end: Mapped[str] = mapped_column(String(32))
    message_id: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SlotBooking(Base):
    """A slot taken through a reschedule page: one per (brand, whose time, start in UTC)."""

    __tablename__ = "slot_bookings"

    brand: Mapped[str] = mapped_column(String(128), primary_key=True)
    resource: Mapped[str] = mapped_column(String(300), primary_key=True)
    # `20301204T080000Z`: the same instant always written the same way, on every database.
    starts_at: Mapped[str] = mapped_column(String(16), primary_key=True)
    appointment_id: Mapped[str] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
