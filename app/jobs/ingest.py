"""A job's items in: from a JSON list or an NDJSON stream, line by line, into the database.

The NDJSON body is read in 64 KB pieces and split into lines here, and the items are
written 500 at a time, so a body of 100,000 lines never sits in memory whole. While it
arrives the job is `receiving`, which no runner takes; once the last line is in it becomes
`queued` with its total. A line that is not a JSON object fails alone, its problem recorded
at its position: one over the line limit (MAX_CONTENT_LENGTH), not UTF-8, with a key twice
or nested too deep (app/strict_json.py). Every other line becomes an item (validated when it
renders). The whole body is held to JOB_MAX_NDJSON_BYTES.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import IO, Any

from pydantic import TypeAdapter, ValidationError
from sqlalchemy import insert, update
from werkzeug.exceptions import RequestEntityTooLarge

from app import strict_json
from app.jobs import state
from app.jobs.models import BATCH, ITEM_FAILED, ITEM_QUEUED, QUEUED, RECEIVING, Job, JobItem
from app.problems import BodyTooLarge, BrandNotAllowed, InvalidRequest, MalformedJSON, Problem
from app.schemas.appointment import CallbackUrl
from app.store import session
from app.store.ids import new_id

BATCH_ROWS = 500
READ_SIZE = 64 * 1024

# One entry per line: the render request, or the problem that fails it.
Entry = tuple[dict[str, Any] | None, Problem | None]


def check_callback_url(value: Any) -> str | None:
    """Where the completion webhook goes: https (http only with WEBHOOK_ALLOW_HTTP)."""
    if value is None:
        return None
    try:
        return TypeAdapter(CallbackUrl).validate_python(value)
    except ValidationError as exc:
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise InvalidRequest.at("callback_url", reason) from None


def json_entries(document: Any) -> tuple[list[Entry], str | None]:
    """`{"items": [...], "callback_url": "..."}`: the entries and the callback URL."""
    if not isinstance(document, dict):
        raise InvalidRequest.at("items", "send an object with `items`, a list of render requests")
    items = document.get("items")
    if not isinstance(items, list) or not items:
        raise InvalidRequest.at("items", "must be a list of at least one render request")
    callback_url = check_callback_url(document.get("callback_url"))
    return [_entry(item, f"items[{index}]") for index, item in enumerate(items)], callback_url


def ndjson_entries(stream: IO[bytes], max_line: int) -> Iterator[Entry]:
    """One entry per non-blank line of the stream, read piece by piece."""
    for number, line in _lines(stream, max_line):
        if line is None:
            yield None, BodyTooLarge(f"line {number} is longer than {max_line} bytes")
            continue
        try:
            item = strict_json.loads(line, f"line {number}")
        except MalformedJSON as problem:
            yield None, problem
            continue
        yield _entry(item, f"line {number}")


def _entry(item: Any, where: str) -> Entry:
    if not isinstance(item, dict):
        return None, InvalidRequest(f"{where}: a render request is a JSON object")
    return item, None


def _lines(stream: IO[bytes], max_line: int) -> Iterator[tuple[int, bytes | None]]:
    """Non-blank lines with their numbers; None for a line over `max_line` bytes."""
    buffer = b""
    number = 0
    skipping = False  # inside a line too long to keep
    while True:
        try:
            piece = stream.read(READ_SIZE)
        except RequestEntityTooLarge as exc:
            raise BodyTooLarge("The job body is larger than this service accepts.") from exc
        if not piece:
            break
        buffer += piece
        start = 0
        while (end := buffer.find(b"\n", start)) >= 0:
            line, start = buffer[start:end], end + 1
            if skipping:
                skipping = False
                continue
            number += 1
            if len(line) > max_line:
                yield number, None
            elif line.strip():
                yield number, line
        buffer = buffer[start:]
        if skipping:
            buffer = b""
        elif len(buffer) > max_line:
            number += 1
            yield number, None
            skipping, buffer = True, b""
    if buffer.strip() and not skipping:
        yield number + 1, buffer


def within_brands(entries: Iterable[Entry], brands: frozenset[str]) -> Iterator[Entry]:
    """Entries for a brand outside `brands` fail alone, before anything renders them."""
    for item, problem in entries:
        brand = item.get("brand") if item is not None else None
        if problem is None and isinstance(brand, str) and brand not in brands:
            problem = BrandNotAllowed(f"This key may not render for brand '{brand}'.")
        yield item, problem


def create_job(entries: Iterable[Entry], callback_url: str | None = None,
               brands: frozenset[str] | None = None) -> Job:
    """Write the job and its items; answer the job, `queued` (or already finished when every
    line failed). On any error the partial job is removed and the error raised. `brands`: the
    poster's (None: every brand)."""
    db = session()
    if brands is not None:
        entries = within_brands(entries, brands)
    job = Job(id=new_id("job"), kind=BATCH, status=RECEIVING, callback_url=callback_url,
              brands=sorted(brands) if brands is not None else None, created_at=state.utcnow())
    db.add(job)
    db.commit()
    total = failed = 0
    rows: list[dict[str, Any]] = []
    try:
        for item, problem in entries:
            rows.append(_row(job.id, total, item, problem))
            total += 1
            failed += problem is not None
            if len(rows) >= BATCH_ROWS:
                _write(rows)
        _write(rows)
        if total == 0:
            raise InvalidRequest.at("items", "the body holds no render request")
        now = state.utcnow()
        db.execute(update(Job).where(Job.id == job.id).values(status=QUEUED, total=total, failed=failed)
                   .execution_options(synchronize_session=False))
        state.finish_if_complete(db, job.id, now)
        db.commit()
    except BaseException:
        db.rollback()
        db.delete(db.get(Job, job.id) or job)
        db.commit()
        raise
    db.refresh(job)
    return job


def _row(job_id: str, position: int, item: dict[str, Any] | None, problem: Problem | None) -> dict[str, Any]:
    reference = item.get("reference") if item else None
    return {
        "job_id": job_id, "position": position,
        "state": ITEM_FAILED if problem else ITEM_QUEUED, "priority": 0,
        "request": item, "reference": reference[:200] if isinstance(reference, str) else None,
        "token": None, "message_id": None,
        "problem": problem.as_dict() if problem else None, "attempts": 0,
        "lease_until": None, "started_at": None,
        "finished_at": state.utcnow() if problem else None,
    }


def _write(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    db = session()
    db.execute(insert(JobItem), rows)
    db.commit()
    rows.clear()
