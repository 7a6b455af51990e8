"""One claimed item, rendered: the same code in an embedded pool process and a Celery task.

    batch item  -> `render_message` under the claim's token as message id, then `commit`
                   with `ItemDone`: the item is marked done in the message's transaction
    pdf item    -> the deferred PDF laid out and made the message's (app/jobs/deferred.py)

A render that fails with a problem (bad input: 422) fails its item with that problem; the
rest of the job goes on. A database that fails under a render gives the item back to be
tried again; anything else fails it with the error.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter
from typing import Any

from flask import Flask
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from app import metrics
from app.channels import render_channels
from app.jobs import deferred, state
from app.jobs.models import PDF
from app.jobs.state import Claim, LostClaim
from app.pipeline import commit, prepare_message, render_message
from app.problems import Problem
from app.store import session

log = logging.getLogger(__name__)

DONE, FAILED, LOST, RELEASED = "done", "failed", "lost", "released"
# The message a worker renders (and throws away) when it starts, under FIXTURES_DIR.
WARM_UP_FIXTURE = "invoice/capsules-nl"


@dataclass
class Outcome:
    job_id: str
    position: int
    kind: str
    outcome: str
    seconds: float
    # What was measured, for the process that records metrics (app/metrics.py).
    observations: list[Any] = field(default_factory=list)


def process(held: Claim) -> Outcome:
    """Render one claimed item, in an app context; answers how it ended."""
    started = perf_counter()
    with metrics.collecting() as observed:
        outcome = _process(held)
        seconds = perf_counter() - started
        metrics.item_ended(held.kind, outcome, seconds)
    return Outcome(held.job_id, held.position, held.kind, outcome, seconds, observed)


def _process(held: Claim) -> str:
    try:
        if held.kind == PDF:
            deferred.lay_out(held)
        else:
            # Exactly once: the item is done in the transaction that archives its message,
            # under the claim's token, or neither is stored (LostClaim).
            commit(render_message(held.request, message_id=held.token), ItemDone(held))
        return DONE
    except LostClaim:
        log.info("job %s item %d: claim lost to another worker; its result is theirs",
                 held.job_id, held.position)
        return LOST
    except Problem as problem:
        return _fail(held, problem.as_dict(), problem.slug)
    except SQLAlchemyError:
        log.exception("job %s item %d: the database failed; the item is given back",
                      held.job_id, held.position)
        try:
            state.release(session(), held)
        except SQLAlchemyError:
            log.exception("could not give back job %s item %d; its lease will run out",
                          held.job_id, held.position)
        return RELEASED
    except Exception as exc:
        log.exception("job %s item %d failed", held.job_id, held.position)
        return _fail(held, state.internal_problem(exc), "internal-error")


@dataclass(frozen=True)
class ItemDone:
    """A record of the item's message commit: the item is done, while the claim is ours."""

    held: Claim

    def write(self, db: Session) -> None:
        state.mark_done(db, self.held, self.held.token)


def _fail(held: Claim, problem: dict[str, Any], reason: str) -> str:
    db = session()
    ended = deferred.give_up(db, held, problem) if held.kind == PDF else state.mark_failed(db, held, problem)
    if not ended:
        return LOST
    metrics.render_failed("pdf" if held.kind == PDF else "job", reason)
    return FAILED


def warm_up(app: Flask) -> None:
    """Import WeasyPrint and lay out a small document, then one real message's email and
    document (fonts, the stylesheet, compiled templates), so the first item a worker renders
    costs what every other does. Nothing is stored, nothing counted in the metrics."""
    # Only a pool process warms up: the web process that imports this module lays out no PDF.
    from weasyprint import HTML

    HTML(string="<h1 style='font-family: sans-serif'>Touchpoint</h1><p>warm <b>up</b></p>").write_pdf()
    path = Path(app.config["FIXTURES_DIR"]) / f"{WARM_UP_FIXTURE}.json"
    if not path.is_file():
        return
    try:
        with app.app_context(), metrics.collecting():
            document = {**json.loads(path.read_text(encoding="utf-8")), "channels": ["email", "pdf"]}
            message, enriched = prepare_message(document)
            render_channels(message, enriched)
    except Exception:
        log.warning("warming up on %s failed; the first item will be slower", path, exc_info=True)
