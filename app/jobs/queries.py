"""Reads of jobs for callers and scrapes: a batch job, a page of its items, the unfinished jobs.

Input: a session and what the caller asked for; output: rows or plain views. Nothing here
writes; the changes of state are in state.py. The handlers in app/http/jobs.py and
app/http/metrics.py call these and answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.jobs import state
from app.jobs.models import BATCH, Job, JobItem


@dataclass(frozen=True)
class ItemsPage:
    """One page of a job's items, as `GET /v1/jobs/{id}/items` answers it."""

    items: list[dict[str, Any]]
    next_cursor: str | None


def batch_job(db: Session, job_id: str) -> Job | None:
    """The caller-made job `job_id`, read afresh; None for another kind (deferred PDFs are
    jobs too, but no caller made them as jobs)."""
    job = db.get(Job, job_id, populate_existing=True)
    return job if job is not None and job.kind == BATCH else None


def items_page(db: Session, job_id: str, after: int, limit: int, status: str | None) -> ItemsPage:
    """Up to `limit` items after position `after` (with `status` only, when given); one row
    more is read to know whether another page follows."""
    query = select(JobItem).where(JobItem.job_id == job_id, JobItem.position > after)
    if status:
        query = query.where(JobItem.state == status)
    rows = db.scalars(query.order_by(JobItem.position).limit(limit + 1)).all()
    page = rows[:limit]
    more = len(rows) > limit
    return ItemsPage(
        items=[state.item_view(item) for item in page],
        next_cursor=str(page[-1].position) if more and page else None,
    )


def unfinished(db: Session) -> list[tuple[str, str, int]]:
    """(kind, status, count) of the jobs not finished yet."""
    rows = db.execute(
        select(Job.kind, Job.status, func.count()).where(Job.finished_at.is_(None))
        .group_by(Job.kind, Job.status)
    ).all()
    return [(kind, status, count) for kind, status, count in rows]
