"""Retention: what is past its age leaves the database and the disk, a chunk at a time.

    messages   -> older than RETENTION_DAYS: the row, its artifacts' rows and files, its events,
                  offers shown and appointment views; never one with a webhook still to deliver
    appointments -> whose time is older than RETENTION_DAYS, with their history
    preference changes -> the audit entries made more than RETENTION_DAYS ago (the profile
                  keeps what they set)
    jobs       -> finished more than JOB_RETENTION_DAYS ago, with their items (and the inputs
                  the items kept)
    webhooks   -> delivered, or given up, more than WEBHOOK_RETENTION_DAYS ago
    idempotency keys -> past their expiry

`flask --app app purge [--dry-run]` runs it by hand; the background process runs it daily.
Rows go before files, each chunk in its own transaction: a stop half-way leaves at most some
files without a row, never a row without its file. An erased customer stays erased: nothing
here writes anything back. Content-addressed images (`/assets/…`), shared between messages and
naming nobody, are kept.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import Select, delete, exists, func, select, tuple_
from sqlalchemy.orm import Session

from app.appointments.models import Appointment, AppointmentChange
from app.jobs.models import Job
from app.store import artifacts, session
from app.store.models import IdempotencyKey, Message, PreferenceChange, utcnow
from app.webhooks.models import WebhookDelivery

CHUNK = 500
# A webhook still to be delivered keeps its message (and itself): nothing accepted is lost.
OPEN_WEBHOOK = ("pending",)
ENDED_WEBHOOK = ("delivered", "failed")


@dataclass
class Purged:
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, kind: str, count: int) -> None:
        self.counts[kind] = self.counts.get(kind, 0) + count

    def summary(self) -> str:
        return ", ".join(f"{count} {kind}" for kind, count in self.counts.items())


def cutoffs(config: dict[str, Any], now: datetime) -> dict[str, datetime]:
    return {
        "messages": now - timedelta(days=config["RETENTION_DAYS"]),
        "jobs": now - timedelta(days=config["JOB_RETENTION_DAYS"]),
        "webhooks": now - timedelta(days=config["WEBHOOK_RETENTION_DAYS"]),
    }


def purge(db: Session, now: datetime | None = None, dry_run: bool = False) -> Purged:
    """Remove (or, with dry_run, count) everything past its age."""
    now = now or utcnow()
    before = cutoffs(current_app.config, now)
    purged = Purged()
    _messages(db, before["messages"], purged, dry_run)
    _rows(db, purged, "appointments", select(Appointment.brand, Appointment.appointment_id)
          .where(Appointment.starts_at < before["messages"]), dry_run)
    _rows(db, purged, "preference changes", select(PreferenceChange.id)
          .where(PreferenceChange.created_at < before["messages"]), dry_run)
    _rows(db, purged, "jobs", select(Job.id).where(Job.finished_at.is_not(None),
                                                 Job.finished_at < before["jobs"]), dry_run)
    _rows(db, purged, "webhook deliveries", select(WebhookDelivery.id).where(
        WebhookDelivery.status.in_(ENDED_WEBHOOK), WebhookDelivery.created_at < before["webhooks"]),
        dry_run)
    _rows(db, purged, "idempotency keys", select(IdempotencyKey.key)
          .where(IdempotencyKey.expires_at < now), dry_run)
    return purged


def _messages(db: Session, before: datetime, purged: Purged, dry_run: bool) -> None:
    open_webhook = exists().where(WebhookDelivery.message_id == Message.id,
                                  WebhookDelivery.status.in_(OPEN_WEBHOOK))
    query = select(Message.id).where(Message.created_at < before, ~open_webhook)
    if dry_run:
        purged.add("messages", _count(db, query))
        return
    while ids := list(db.scalars(query.order_by(Message.id).limit(CHUNK))):
        # The rows that hang on a message go with it (ON DELETE CASCADE, foreign keys on
        # for SQLite in app/store); job items keep their message id as a plain value.
        db.execute(delete(Message).where(Message.id.in_(ids)))
        db.commit()
        store = artifacts()
        for message_id in ids:
            store.discard_message(message_id)
        purged.add("messages", len(ids))


def _rows(db: Session, purged: Purged, kind: str, query: Select[Any], dry_run: bool) -> None:
    """Delete the rows `query` selects (by primary key), a chunk at a time."""
    if dry_run:
        purged.add(kind, _count(db, query))
        return
    table = query.column_descriptions[0]["entity"]
    key = tuple_(*table.__table__.primary_key.columns)
    while rows := [tuple(row) for row in db.execute(query.limit(CHUNK))]:
        db.execute(delete(table).where(key.in_(rows)))
        if table is Appointment:
            history = tuple_(AppointmentChange.brand, AppointmentChange.appointment_id)
            db.execute(delete(AppointmentChange).where(history.in_(rows)))
        db.commit()
        purged.add(kind, len(rows))


def _count(db: Session, query: Select[Any]) -> int:
    return db.scalar(select(func.count()).select_from(query.subquery())) or 0


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="Count what would go; remove nothing.")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Remove messages, artifacts, appointments, jobs, webhooks and keys past their age."""
    purged = purge(session(), dry_run=dry_run)
    click.echo(f"{'would purge' if dry_run else 'purged'}: {purged.summary()}")


def init_app(app: Flask) -> None:
    app.cli.add_command(purge_command)
