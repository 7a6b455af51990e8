"""Tables of render jobs: one row per job, one per item. The database is the truth of a job.

An item is `queued`, then `running` under a lease (claimed by one worker for a while, renewed
while it renders), then `done` (its message archived in the same transaction), `failed`
(its problem recorded) or `cancelled`. The job's counters change in the transaction that
ends an item, so they are always exact, and the job is finished by the transaction that ends
its last item.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from app.store.models import Base, utcnow

# Job kinds: a batch posted to /v1/jobs, or the PDF of one message (Prefer: respond-async).
BATCH, PDF = "batch", "pdf"
# Job statuses. `receiving` while an NDJSON body streams in: no runner takes its items yet.
RECEIVING, QUEUED, RUNNING, DONE, FAILED, CANCELLED = (
    "receiving", "queued", "running", "done", "failed", "cancelled")
# Item states.
ITEM_QUEUED, ITEM_RUNNING, ITEM_DONE, ITEM_FAILED, ITEM_CANCELLED = (
    "queued", "running", "done", "failed", "cancelled")


class Job(Base):
    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default=BATCH)
    status: Mapped[str] = mapped_column(String(16), index=True)
    total: Mapped[int] = mapped_column(Integer, default=0)
    done: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    cancelled: Mapped[int] = mapped_column(Integer, default=0)
    callback_url: Mapped[str | None] = mapped_column(String(2000), nullable=True)
    # The brands of the API key that posted it (app/auth): its items render only for them and
    # only keys bound to them see it. None: posted by a key bound to no brand.
    brands: Mapped[list[Any] | None] = mapped_column(JSON, nullable=True)
    # Celery: every item has been sent to the broker (a web process that died while sending
    # leaves this false, and a worker sends the rest when it starts).
    dispatched: Mapped[bool] = mapped_column(Boolean, default=False)
    # The completion webhook, once queued (or why it could not be).
    webhook_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    webhook_note: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class JobItem(Base):
    __tablename__ = "job_items"
    # What a runner looks for: queued items by priority, oldest job first, in order.
    __table_args__ = (Index("ix_job_items_claim", "state", "priority", "job_id", "position"),)

    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    # PDFs a person waits for go before batch items.
    priority: Mapped[int] = mapped_column(Integer, default=0)
    # The render request (batch), or the PDF's source (pdf). None for a line that was not JSON.
    request: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    reference: Mapped[str | None] = mapped_column(String(200), nullable=True)
    # Each claim draws a new token; what an attempt records holds only while the item is
    # still claimed under its token, so a worker that lost its claim (its lease ran out and
    # another took the item) cannot archive a second message for it. A batch item renders
    # under its token as the message id.
    token: Mapped[str | None] = mapped_column(String(40), nullable=True)
    # The message: a batch item's once done; a deferred PDF's from the start.
    message_id: Mapped[str | None] = mapped_column(String(40), nullable=True)
    problem: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
