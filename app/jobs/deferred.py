"""PDFs off the request path (`Prefer: respond-async` on POST /v1/render).

    at the request  -> the PDF's source (document HTML, e-invoice) made as usual, its output
                       `{"url", "status": "pending"}` (app/channels/pdf.py `defer`), and a
                       one-item job of kind `pdf` that POST /v1/render stores in the
                       message's own transaction (`DeferredPdf.of`)
    by the runner   -> WeasyPrint lays it out (app/channels/pdf.py `render_deferred`, under
                       the same limits); in one transaction the file becomes the
                       message's `document.pdf` and its document says `ready` with pages
                       and bytes (or `failed` with the problem)

The email lists the PDF among its attachments from the start (its URL is known). Its .eml
is built on first fetch from the stored parts, so it is never built without the PDF: a GET
of the .eml waits for the PDF like a GET of the PDF does (app/http/messages.py).
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from app.channels import pdf
from app.jobs import state
from app.jobs.models import ITEM_QUEUED, PDF, QUEUED, Job, JobItem
from app.jobs.runners import dispatch
from app.jobs.state import Claim
from app.pipeline import Rendered
from app.store import archive, artifacts, session
from app.store.ids import new_id
from app.store.models import Message

PDF_NAME = "document.pdf"


@dataclass(frozen=True)
class DeferredPdf:
    """The one-item job that will lay a message's PDF out; a record of its commit, dispatched
    to the runner once committed."""

    job_id: str
    message_id: str
    source: dict[str, Any]

    @classmethod
    def of(cls, rendered: Rendered) -> DeferredPdf | None:
        """The job of the message's deferred PDF; None when its PDF was laid out (or has none)."""
        pending = rendered.outputs.get("pdf")
        if pending is None or pending.deferred is None:
            return None
        return cls(new_id("job"), rendered.message_id, pending.deferred)

    def write(self, db: Session) -> None:
        """In the message's transaction: the one-item job that will lay the PDF out."""
        db.add(Job(id=self.job_id, kind=PDF, status=QUEUED, total=1, dispatched=False))
        db.flush()
        db.add(JobItem(job_id=self.job_id, position=0, state=ITEM_QUEUED, priority=1,
                       request=self.source, message_id=self.message_id))

    def dispatch(self) -> None:
        """Once committed: only then may a runner look for it."""
        dispatch(self.job_id)


def lay_out(held: Claim) -> None:
    """Render a deferred PDF and make it the message's, or record why it could not be."""
    # The same bounded layout as a synchronous render: the pool process only waits for it,
    # so a PDF over a limit fails its item and the pool process stays as it was.
    data, pages = pdf.render_deferred(held.request or {}, artifacts().root, current_app.config)
    message_id = held.message_id or ""
    db = session()
    message = db.get(Message, message_id, with_for_update=True, populate_existing=True)
    if message is None:  # erased while its PDF waited
        state.mark_done(db, held, message_id)
        db.commit()
        return
    # Exclusive: should a second attempt ever lay the same PDF out, the first file stays.
    stored = archive.add_artifact(db, message_id, PDF_NAME, "application/pdf", data)
    document = copy.deepcopy(message.document)
    document["outputs"]["pdf"] = {**document["outputs"]["pdf"], "status": "ready",
                                  "pages": pages, "bytes": stored.size}
    message.document = document
    state.mark_done(db, held, message_id)
    db.commit()


def give_up(db: Session, held: Claim, problem: dict[str, Any]) -> bool:
    """The PDF cannot be made: the document says `failed` with the problem, and so does the
    email that promised it as an attachment: it is never handed out without it (its .eml
    cannot be built, a GET of it is a 404), all with the item's failure."""
    db.rollback()
    message = db.get(Message, held.message_id or "", with_for_update=True, populate_existing=True)
    if message is not None:
        document = copy.deepcopy(message.document)
        document["outputs"]["pdf"] = {"url": document["outputs"]["pdf"]["url"], "status": "failed",
                                      "problem": problem}
        email = document["outputs"].get("email")
        if email and any(a["url"].endswith("/" + PDF_NAME) for a in email["attachments"]):
            email.update(status="failed", problem=problem)
        message.document = document
        db.flush()
    return state.mark_failed(db, held, problem, keep=True)


def pending(document: dict[str, Any]) -> bool:
    return document.get("outputs", {}).get("pdf", {}).get("status") == "pending"


def wait_while_pending(message_id: str, seconds: float) -> bool:
    """Wait up to `seconds` for a message's deferred PDF; True while it is still pending."""
    deadline = time.monotonic() + seconds
    db = session()
    while True:
        db.rollback()  # a new snapshot: SQLite's would not show the runner's commit
        message = db.get(Message, message_id, populate_existing=True)
        if message is None or not pending(message.document):
            return False
        if time.monotonic() >= deadline:
            return True
        time.sleep(0.1)
