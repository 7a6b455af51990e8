"""Job and item state: claim, renew, finish, cancel, and the progress a caller sees.

Every change is a conditional UPDATE, so it holds on SQLite and on PostgreSQL with any
number of runners, threads or Celery workers at once:

    claim   queued (or running with a lapsed lease) -> running, under a fresh token
    done    running under my token -> done, in the transaction that archives the message
    failed  running under my token -> failed, with the problem
    cancel  queued -> cancelled (what has started finishes)

Locks are always taken item first, job second, so two transactions never wait on each
other in a circle. The transaction that ends a job's last item finishes the job and queues
its completion webhook, so neither can be lost between two commits.
"""

from __future__ import annotations

import logging
import math
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import and_, case, delete, func, or_, select, update
from sqlalchemy.orm import Session

from app.jobs.models import (
    BATCH,
    CANCELLED,
    DONE,
    FAILED,
    ITEM_CANCELLED,
    ITEM_DONE,
    ITEM_FAILED,
    ITEM_QUEUED,
    ITEM_RUNNING,
    QUEUED,
    RECEIVING,
    RUNNING,
    Job,
    JobItem,
)
from app.store.ids import new_id
from app.webhooks.delivery import enqueue
from app.webhooks.models import WebhookDelivery

log = logging.getLogger(__name__)

NO_SYNC = {"synchronize_session": False}
FINISHED_STATES = (ITEM_DONE, ITEM_FAILED, ITEM_CANCELLED)


class LostClaim(Exception):
    """The item is no longer claimed under this token (its lease ran out and another worker
    took it): this attempt must not record anything for it."""


@dataclass(frozen=True)
class Claim:
    job_id: str
    position: int
    token: str
    kind: str
    request: dict[str, Any] | None
    message_id: str | None
    attempts: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Busy:
    """Claimed by another worker whose lease has not run out: try again after `until`."""

    until: datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were written in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def lease_length() -> timedelta:
    return timedelta(seconds=float(current_app.config["JOB_LEASE_SECONDS"]))


def worker_lost_problem(attempts: int) -> dict[str, Any]:
    return {"type": "/problems/worker-lost", "title": "Rendering stopped", "status": 500,
            "detail": f"The worker rendering this item stopped {attempts} times; it is not tried again."}


def internal_problem(exc: BaseException) -> dict[str, Any]:
    return {"type": "/problems/internal-error", "title": "Internal error", "status": 500,
            "detail": f"Rendering failed: {type(exc).__name__}: {str(exc)[:300]}"}


# Claiming.

def claim(db: Session, job_id: str, position: int, now: datetime | None = None) -> Claim | Busy | None:
    """Claim one item: the Claim, Busy while another worker holds it, None when there is
    nothing to do (finished, cancelled, gone, or given up after too many attempts)."""
    now = now or utcnow()
    row = db.execute(
        select(JobItem.state, JobItem.lease_until, JobItem.attempts, JobItem.request,
               JobItem.message_id, Job.kind, Job.status)
        .join(Job, Job.id == JobItem.job_id)
        .where(JobItem.job_id == job_id, JobItem.position == position)
    ).first()
    if row is None or row.state in FINISHED_STATES or row.status == RECEIVING:
        db.rollback()
        return None
    lease_until = aware(row.lease_until)
    if row.state == ITEM_RUNNING and lease_until is not None and lease_until > now:
        db.rollback()
        return Busy(lease_until)
    matches = and_(JobItem.job_id == job_id, JobItem.position == position,
                   JobItem.state == row.state, JobItem.attempts == row.attempts)
    if row.status == CANCELLED:
        # Started once by a worker that died; the job was cancelled meanwhile.
        _end(db, matches, job_id, ITEM_CANCELLED, None, now)
        db.commit()
        return None
    if row.attempts >= current_app.config["JOB_MAX_ATTEMPTS"]:
        _end(db, matches, job_id, ITEM_FAILED, worker_lost_problem(row.attempts), now)
        db.commit()
        return None
    # A batch item renders under its token as message id; a deferred PDF's message exists.
    token = new_id("msg" if row.kind == BATCH else "try")
    claimed = db.execute(
        update(JobItem).where(matches).values(
            state=ITEM_RUNNING, token=token, attempts=row.attempts + 1,
            lease_until=now + lease_length(), started_at=now,
        ).execution_options(**NO_SYNC)
    )
    if claimed.rowcount != 1:  # type: ignore[attr-defined]
        db.rollback()  # another worker won it between our read and our write
        return Busy(now)
    db.execute(update(Job).where(Job.id == job_id, Job.status == QUEUED)
               .values(status=RUNNING, started_at=now).execution_options(**NO_SYNC))
    db.commit()
    return Claim(job_id, position, token, row.kind, row.request, row.message_id, row.attempts + 1)


def claim_next(db: Session, limit: int, now: datetime | None = None) -> list[Claim]:
    """Up to `limit` items for the embedded runner: lapsed leases first (a worker died on
    them), then queued items, PDFs a person waits for before batches, oldest job first."""
    now = now or utcnow()
    live = Job.status.in_((QUEUED, RUNNING, CANCELLED))
    lapsed = db.execute(
        select(JobItem.job_id, JobItem.position).join(Job, Job.id == JobItem.job_id)
        .where(JobItem.state == ITEM_RUNNING, JobItem.lease_until < now, live)
        .limit(limit)
    ).all()
    queued = db.execute(
        select(JobItem.job_id, JobItem.position).join(Job, Job.id == JobItem.job_id)
        .where(JobItem.state == ITEM_QUEUED, Job.status.in_((QUEUED, RUNNING)))
        .order_by(JobItem.priority.desc(), JobItem.job_id, JobItem.position)
        .limit(limit)
        # PostgreSQL: two runners looking at once see different items.
        .with_for_update(of=JobItem, skip_locked=True)
    ).all()
    db.rollback()
    claims = []
    for job_id, position in [*lapsed, *queued][:limit]:
        got = claim(db, job_id, position, now)
        if isinstance(got, Claim):
            claims.append(got)
    return claims


def renew(db: Session, claims: list[Claim], now: datetime | None = None) -> None:
    """Extend the leases of items still rendering, so nobody takes them up meanwhile."""
    until = (now or utcnow()) + lease_length()
    for held in claims:
        db.execute(update(JobItem).where(
            JobItem.job_id == held.job_id, JobItem.position == held.position,
            JobItem.token == held.token, JobItem.state == ITEM_RUNNING,
        ).values(lease_until=until).execution_options(**NO_SYNC))
    db.commit()


def release(db: Session, held: Claim) -> None:
    """Give an item back, unfinished (its worker died or the database failed under it). The
    attempt still counts: an item that stops every worker is failed after a few."""
    db.rollback()
    db.execute(update(JobItem).where(
        JobItem.job_id == held.job_id, JobItem.position == held.position,
        JobItem.token == held.token, JobItem.state == ITEM_RUNNING,
    ).values(state=ITEM_QUEUED, lease_until=None).execution_options(**NO_SYNC))
    db.commit()


# Finishing.

def mark_done(db: Session, held: Claim, message_id: str, now: datetime | None = None) -> None:
    """In the caller's transaction (the one that archives the message): the item is done.
    Raises LostClaim, which rolls that transaction back, when the claim is no longer ours."""
    mine = and_(JobItem.job_id == held.job_id, JobItem.position == held.position,
                JobItem.token == held.token, JobItem.state == ITEM_RUNNING)
    if not _end(db, mine, held.job_id, ITEM_DONE, None, now or utcnow(), message_id=message_id):
        raise LostClaim(f"{held.job_id}#{held.position}")


def mark_failed(db: Session, held: Claim, problem: dict[str, Any], now: datetime | None = None,
                *, keep: bool = False) -> bool:
    """The item failed with its problem, committed with what the session holds when `keep`
    (else alone); False, and nothing committed, when the claim was no longer ours."""
    if not keep:
        db.rollback()
    mine = and_(JobItem.job_id == held.job_id, JobItem.position == held.position,
                JobItem.token == held.token, JobItem.state == ITEM_RUNNING)
    ended = _end(db, mine, held.job_id, ITEM_FAILED, problem, now or utcnow())
    if ended:
        db.commit()
    else:
        db.rollback()
    return ended


def _end(db: Session, which: Any, job_id: str, state: str, problem: dict[str, Any] | None,
         now: datetime, message_id: str | None = None) -> bool:
    values: dict[str, Any] = {"state": state, "problem": problem, "lease_until": None, "finished_at": now}
    if message_id is not None:
        values["message_id"] = message_id
    ended = db.execute(update(JobItem).where(which).values(**values).execution_options(**NO_SYNC))
    if ended.rowcount != 1:  # type: ignore[attr-defined]
        return False
    counter = {ITEM_DONE: Job.done, ITEM_FAILED: Job.failed, ITEM_CANCELLED: Job.cancelled}[state]
    db.execute(update(Job).where(Job.id == job_id).values({counter: counter + 1})
               .execution_options(**NO_SYNC))
    finish_if_complete(db, job_id, now, anchor=message_id)
    return True


def finish_if_complete(db: Session, job_id: str, now: datetime, anchor: str | None = None) -> bool:
    """Finish the job when every item has ended, once (the conditional UPDATE lets only one
    transaction do it), and queue its completion webhook in the same transaction."""
    finished = db.execute(
        update(Job).where(
            Job.id == job_id, Job.finished_at.is_(None), Job.status != RECEIVING,
            Job.done + Job.failed + Job.cancelled >= Job.total,
        ).values(
            finished_at=now,
            status=case((Job.status == CANCELLED, CANCELLED),
                        (and_(Job.done == 0, Job.failed > 0), FAILED), else_=DONE),
        ).execution_options(**NO_SYNC)
    )
    if finished.rowcount != 1:  # type: ignore[attr-defined]
        return False
    job = db.get(Job, job_id, populate_existing=True)
    assert job is not None
    if job.callback_url:
        _queue_webhook(db, job, now, anchor)
    return True


def _queue_webhook(db: Session, job: Job, now: datetime, anchor: str | None) -> None:
    """The signed `job.completed` event, through the webhook outbox (app/webhooks)."""

    if anchor is None:
        anchor = db.scalars(select(JobItem.message_id).where(
            JobItem.job_id == job.id, JobItem.state == ITEM_DONE).limit(1)).first()
    if anchor is None and not WebhookDelivery.__table__.c.message_id.nullable:
        # The outbox files every event under a message; a job none of whose items was
        # rendered has none to file it under.
        job.webhook_note = "not sent: no item was rendered, and the webhook outbox needs a message"
        log.warning("job %s: completion webhook not sent (%s)", job.id, job.webhook_note)
        return
    db.flush()
    delivery = enqueue(db, message_id=anchor, result_message_id=None,  # type: ignore[arg-type]
                       url=job.callback_url or "", event_type="job.completed",
                       data=completion_event(job), now=now)
    job.webhook_id = delivery.id


def completion_event(job: Job) -> dict[str, Any]:
    base = current_app.config["PUBLIC_BASE_URL"]
    return {
        "job_id": job.id, "status": job.status, "total": job.total, "done": job.done,
        "failed": job.failed, "cancelled": job.cancelled,
        "created": iso(job.created_at), "started": iso(job.started_at), "finished": iso(job.finished_at),
        "url": f"{base}/v1/jobs/{job.id}", "items_url": f"{base}/v1/jobs/{job.id}/items",
    }


# Cancelling and tidying.

def cancel(db: Session, job_id: str, now: datetime | None = None) -> None:
    """Cancel what has not started: queued items become cancelled; running ones finish."""
    now = now or utcnow()
    cancelled = db.execute(
        update(JobItem).where(JobItem.job_id == job_id, JobItem.state == ITEM_QUEUED)
        .values(state=ITEM_CANCELLED, finished_at=now).execution_options(**NO_SYNC)
    ).rowcount  # type: ignore[attr-defined]
    db.execute(update(Job).where(Job.id == job_id, Job.finished_at.is_(None)).values(
        status=CANCELLED, cancelled=Job.cancelled + cancelled).execution_options(**NO_SYNC))
    finish_if_complete(db, job_id, now)
    db.commit()


def forget_abandoned(db: Session, older_than: timedelta = timedelta(hours=1)) -> int:
    """Jobs whose body never finished arriving (the client got no 202): delete them."""
    gone = db.execute(delete(Job).where(Job.status == RECEIVING, Job.created_at < utcnow() - older_than)
                      .execution_options(**NO_SYNC)).rowcount  # type: ignore[attr-defined]
    db.commit()
    return gone


# What a caller sees.

def iso(moment: datetime | None) -> str | None:
    value = aware(moment)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


def view(job: Job, now: datetime | None = None) -> dict[str, Any]:
    """GET /v1/jobs/{id}: status and progress, with the rate so far and the time left at it."""
    now = now or utcnow()
    ended = job.done + job.failed + job.cancelled
    started, finished = aware(job.started_at), aware(job.finished_at)
    rate = eta = None
    if started is not None:
        elapsed = ((finished or now) - started).total_seconds()
        if elapsed > 0 and job.done + job.failed:
            rate = (job.done + job.failed) / elapsed
            if finished is None and job.status != CANCELLED:
                eta = math.ceil((job.total - ended) / rate)
    if finished is not None:
        eta = 0
    base = current_app.config["PUBLIC_BASE_URL"]
    body: dict[str, Any] = {
        "id": job.id,
        "status": QUEUED if job.status == RECEIVING else job.status,
        "total": job.total, "done": job.done, "failed": job.failed, "cancelled": job.cancelled,
        "pending": job.total - ended,
        "rate_per_minute": round(rate * 60) if rate is not None else None,
        "eta_seconds": eta,
        "created": iso(job.created_at), "started": iso(started), "finished": iso(finished),
        "callback_url": job.callback_url,
        "items_url": f"{base}/v1/jobs/{job.id}/items",
    }
    if job.webhook_id or job.webhook_note:
        body["webhook"] = {"id": job.webhook_id, "note": job.webhook_note}
    return body


def item_view(item: JobItem) -> dict[str, Any]:
    base = current_app.config["PUBLIC_BASE_URL"]
    body: dict[str, Any] = {"position": item.position, "status": item.state, "reference": item.reference}
    if item.state == ITEM_DONE and item.message_id:
        body["message_id"] = item.message_id
        body["url"] = f"{base}/v1/messages/{item.message_id}"
    if item.problem:
        body["problem"] = item.problem
    return body


def depth(db: Session) -> dict[str, int]:
    """Items waiting and rendering, over every job: the queue's depth."""
    rows = db.execute(select(JobItem.state, func.count()).where(
        or_(JobItem.state == ITEM_QUEUED, JobItem.state == ITEM_RUNNING)).group_by(JobItem.state)).all()
    counts = {ITEM_QUEUED: 0, ITEM_RUNNING: 0}
    counts.update({state: count for state, count in rows})
    return counts
