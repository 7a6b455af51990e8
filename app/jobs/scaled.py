"""The scaled-out runner: with CELERY_BROKER_URL set, Celery workers render the items.

    web process -> sends a job's items in chunks of JOB_CHUNK_SIZE positions to the queue
                   CELERY_QUEUE, marks the job dispatched, and only reports after that
    worker      -> `celery -A app.worker worker`: one thin task, `render_items`, claims each
                   position of its chunk and renders it with the same code as the embedded
                   runner (app/jobs/work.py)

Settings for no loss: a message is acknowledged only after its task ran (`acks_late`), and
given back to the queue when the process running it dies (`reject_on_worker_lost`); each
process reserves one message at a time (prefetch multiplier 1). A redelivered chunk renders
nothing twice: each item is claimed with a conditional UPDATE before it renders, and its
message is archived only while that claim holds (app/jobs/state.py). Items another worker
still holds are sent again, delayed until their lease would run out. PostgreSQL is the
database in this mode: every worker and web process share it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

from celery import Celery
from celery.signals import worker_process_init, worker_ready
from flask import Flask
from sqlalchemy import select, update

from app import metrics
from app.jobs import state, work
from app.jobs.leases import Heartbeat
from app.jobs.models import ITEM_QUEUED, QUEUED, RUNNING, Job, JobItem
from app.jobs.state import Busy, Claim
from app.loop import BackgroundLoop
from app.store import session

log = logging.getLogger(__name__)

TASK = "touchpoint.render_items"
# A job the web process did not finish sending for this long is sent by a worker.
STRANDED_AFTER = timedelta(seconds=30)
RECONCILE_SECONDS = 60.0
# A job is cut into at least this many chunks (when it has as many items).
SPREAD = 32


def make_celery(config: dict[str, Any]) -> Celery:
    celery = Celery("touchpoint", broker=config["CELERY_BROKER_URL"], set_as_current=False)
    celery.conf.update(
        task_default_queue=config["CELERY_QUEUE"],
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_ignore_result=True,
        task_serializer="json",
        accept_content=["json"],
        broker_transport_options=dict(config.get("CELERY_BROKER_TRANSPORT_OPTIONS") or {}),
        broker_connection_retry_on_startup=True,
        # Lost the broker: stop the tasks it would redeliver anyway (Celery 6's default).
        worker_cancel_long_running_tasks_on_connection_loss=True,
        # A process imports the app and warms WeasyPrint up before it takes a task.
        worker_proc_alive_timeout=60.0,
        worker_hijack_root_logger=False,
    )
    return celery


def chunks(positions: Iterable[int], size: int) -> Iterator[list[int]]:
    chunk: list[int] = []
    for position in positions:
        chunk.append(position)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def send(celery: Celery, job_id: str, groups: Iterable[list[int]], countdown: float | None = None) -> int:
    """Send chunks over a connection of their own, closed after (kombu's producer pools are
    process-wide and outlive the app)."""
    sent = 0
    with celery.connection_for_write() as connection:
        producer = celery.amqp.Producer(connection)
        for positions in groups:
            celery.send_task(TASK, args=(job_id, positions), producer=producer, countdown=countdown)
            sent += 1
    return sent


def chunk_size_for(total: int, most: int) -> int:
    """Chunks of at most `most` items, but at least SPREAD of them: a small job is spread over
    as many worker processes as there may be, instead of one chunk in one process."""
    return max(1, min(most, total // SPREAD))


def dispatch(celery: Celery, job_id: str, chunk_size: int) -> int:
    """Send every queued item of the job to the broker, then mark the job dispatched."""
    db = session()
    total = db.scalar(select(Job.total).where(Job.id == job_id)) or 0
    chunk_size = chunk_size_for(total, chunk_size)
    positions = db.execute(
        select(JobItem.position).where(JobItem.job_id == job_id, JobItem.state == ITEM_QUEUED)
        .order_by(JobItem.position).execution_options(yield_per=5000)
    )
    try:
        sent = send(celery, job_id, chunks((position for (position,) in positions), chunk_size))
    finally:
        positions.close()  # PostgreSQL: a server-side cursor, read 5,000 rows at a time
    db.execute(update(Job).where(Job.id == job_id).values(dispatched=True)
               .execution_options(synchronize_session=False))
    db.commit()
    return sent


def send_stranded(celery: Celery, chunk_size: int, now: datetime | None = None) -> int:
    """Jobs a web process committed but did not finish sending (it died, or the broker was
    away): send them now. Items already sent are sent twice, which renders nothing twice."""
    now = now or datetime.now(UTC)
    db = session()
    stranded = db.scalars(select(Job.id).where(
        Job.finished_at.is_(None), Job.status.in_((QUEUED, RUNNING)), Job.dispatched.is_(False),
        Job.created_at < now - STRANDED_AFTER)).all()
    db.rollback()
    for job_id in stranded:
        log.warning("job %s was not sent in full; sending it now", job_id)
        dispatch(celery, job_id, chunk_size)
    return len(stranded)


def render_items(app: Flask, heartbeat: Heartbeat, job_id: str,
                 positions: list[int]) -> tuple[list[int], float]:
    """Claim and render each position in turn. Answers the positions another worker still
    holds (or that were given back) and how long until their leases run out."""
    waiting: list[int] = []
    wait = 0.0
    for position in positions:
        with app.app_context():
            got = state.claim(session(), job_id, position)
        if isinstance(got, Busy):
            waiting.append(position)
            wait = max(wait, (got.until - datetime.now(UTC)).total_seconds())
            continue
        if not isinstance(got, Claim):
            continue  # finished, cancelled or given up
        heartbeat.hold(got)
        try:
            with app.app_context():
                outcome = work.process(got)
        finally:
            heartbeat.drop(got)
        metrics.record(outcome.observations)
        if outcome.outcome == work.RELEASED:
            waiting.append(position)
    return waiting, wait


def worker_app(app: Flask) -> Celery:
    """The Celery app of a worker: its one task and the hooks of its processes."""
    celery = make_celery(app.config)
    heartbeat = Heartbeat(app)
    chunk_size = int(app.config["JOB_CHUNK_SIZE"])

    @celery.task(name=TASK)
    def render_items_task(job_id: str, positions: list[int]) -> None:
        waiting, wait = render_items(app, heartbeat, job_id, positions)
        if waiting:
            send(celery, job_id, [waiting], countdown=max(wait, 1.0))

    @worker_process_init.connect(weak=False)
    def _process_started(**_: Any) -> None:
        # A forked pool process: no connection of the parent's, no heartbeat thread yet.
        app.extensions["touchpoint.engine"].dispose(close=False)
        heartbeat.after_fork()
        work.warm_up(app)

    @worker_ready.connect(weak=False)
    def _ready(**_: Any) -> None:
        # Once, in the main process (no thread here: it forks new pool processes later).
        try:
            with app.app_context():
                send_stranded(celery, chunk_size)
        except Exception:
            log.exception("could not look for stranded jobs")

    return celery


class Sender:
    """The web process's side in Celery mode: sends jobs, and every minute sends what a
    process before it committed but did not get to send (it died, or the broker was away).
    It has no wake: web processes send to the broker themselves."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.celery = make_celery(app.config)
        # A round that fails (the broker is away) is logged and tried again in a minute.
        self._loop = BackgroundLoop("touchpoint-sender", self._send_stranded, RECONCILE_SECONDS,
                                    logger=log)

    @property
    def running(self) -> bool:
        return self._loop.running

    def dispatch(self, job_id: str) -> None:
        dispatch(self.celery, job_id, int(self.app.config["JOB_CHUNK_SIZE"]))

    def start(self) -> None:
        self._loop.start()

    def _send_stranded(self) -> None:
        with self.app.app_context():
            send_stranded(self.celery, int(self.app.config["JOB_CHUNK_SIZE"]))

    def stop(self) -> None:
        self._loop.stop()
        self.celery.close()  # `send` closes its connections itself
