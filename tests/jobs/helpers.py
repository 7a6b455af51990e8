"""Helpers for the job tests: items to send, processes to start and kill, what to count."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from app.jobs.models import Job, JobItem
from app.store.models import Message
from tests.conftest import ROOT, load_fixture

# Long enough for a loaded machine; a test that needs it is stuck, not slow.
PATIENCE = 180.0


def items(count: int, *, pdf_every: int = 0, invalid: tuple[int, ...] = ()) -> list[dict[str, Any]]:
    """`count` invoices, each with its own reference: email and SMS (fast), every
    `pdf_every`-th also a PDF, and at the positions in `invalid` one that fails validation."""
    base = load_fixture("invoice/capsules-nl")
    made = []
    for position in range(count):
        item = {**base, "reference": f"item-{position}", "channels": ["email", "sms"]}
        if pdf_every and position % pdf_every == pdf_every - 1:
            item["channels"] = ["email", "pdf"]
        if position in invalid:
            item = {**item, "data": {**item["data"], "currency": "EURO"}}
        made.append(item)
    return made


def wait_for(condition: Callable[[], Any], what: str, timeout: float = PATIENCE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.1)


def job_row(app: Flask, job_id: str) -> Job:
    maker = app.extensions["touchpoint.db"]
    with maker() as db:
        job = db.get(Job, job_id)
        assert job is not None
        db.expunge(job)
        return job


def finished(app: Flask, job_id: str) -> Job | None:
    job = job_row(app, job_id)
    return job if job.finished_at is not None else None


def ledger(app: Flask, job_id: str) -> tuple[dict[str, str], Counter[str], dict[str, str | None]]:
    """Each item's state by reference, the number of archived messages per reference, and
    each item's message id by reference."""
    maker = app.extensions["touchpoint.db"]
    with maker() as db:
        rows = db.execute(select(JobItem.reference, JobItem.state, JobItem.message_id)
                          .where(JobItem.job_id == job_id)).all()
        messages = Counter(db.scalars(select(Message.reference)).all())
    return ({ref: item_state for ref, item_state, _ in rows}, messages,
            {ref: message_id for ref, _, message_id in rows})


def problem_of(app: Flask, job_id: str, reference: str) -> Any:
    """An item's recorded problem, for the message of a failing assertion."""
    with app.extensions["touchpoint.db"]() as db:
        return db.scalar(select(JobItem.problem).where(JobItem.job_id == job_id,
                                                      JobItem.reference == reference))


def assert_exactly_once(app: Flask, job_id: str, total: int, invalid: set[str]) -> None:
    """Every item ended: rendered and archived exactly once, or failed with its problem."""
    states, messages, message_ids = ledger(app, job_id)
    assert len(states) == total
    for reference, item_state in states.items():
        if reference in invalid:
            assert item_state == "failed", reference
            assert messages[reference] == 0, reference
        else:
            assert item_state == "done", (reference, item_state, problem_of(app, job_id, reference))
            assert messages[reference] == 1, (reference, messages[reference])
    assert set(messages) <= set(states), "a message no item accounts for"
    maker = app.extensions["touchpoint.db"]
    with maker() as db:
        for reference, message_id in message_ids.items():
            if reference not in invalid:
                message = db.get(Message, message_id)
                assert message is not None and message.reference == reference
    job = job_row(app, job_id)
    assert (job.done, job.failed, job.cancelled, job.total) == (total - len(invalid), len(invalid), 0, total)
    assert job.status == "done"


@contextmanager
def process(command: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A process in a session of its own (so SIGKILL reaches its children too), its output in
    `log`; killed and reaped on the way out."""
    with log.open("ab") as out:
        proc = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=out,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        yield proc
    finally:
        kill(proc)


def kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL the process and everything it started, and reap it."""
    if proc.poll() is None:
        with suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    # Pool processes left behind (their parent died first) go with the session too.
    with suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)


def python() -> str:
    return sys.executable
