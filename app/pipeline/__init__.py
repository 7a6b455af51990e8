"""How one render request becomes a message a customer can act on. Read this file first.

    validate     -> the request as a model; every bad field named at once (422)
    enrich       -> brand, locale, the customer's profile, links, images made safe
    personalise  -> which offers this customer sees, and why not the others (pure, traced)
    compose      -> what the message says: subject, preheader, figures, buttons (pure)
    draw         -> its pictures (payment QR codes, consumption charts), each drawn once
    render       -> each channel: email, web page, PDF, invite, SMS
    store        -> the artifacts and the answer, all or nothing

The answer is the document of CONTRACT.md (`POST /v1/render`), stored with the message so
`GET /v1/messages/{id}` gives the same document again.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from flask import current_app
from sqlalchemy.orm import Session

from app import logs
from app.appointments.state import CustomerAction, recorder
from app.appointments.state import plan as plan_appointment
from app.channels import ChannelOutput, render_channels
from app.jobs.deferred import deferred_work
from app.personalise import personalise
from app.pipeline.actions import answer_actions
from app.pipeline.compose import Composed, compose
from app.pipeline.draw import draw
from app.pipeline.enrich import Enriched, enrich
from app.pipeline.validate import validate
from app.schemas import TYPE_CHANNELS
from app.store import archive, artifacts, customers
from app.store.ids import new_id


def render_message(document: Any, now: datetime | None = None,
                   idempotency_key: str | None = None,
                   action: CustomerAction | None = None, *,
                   message_id: str | None = None, defer_pdf: bool = False,
                   also: Callable[[Session], None] | None = None) -> dict[str, Any]:
    """`message_id` is the job item's (app/jobs); `also` records, in the message's
    transaction, what else comes with it (the job item done)."""
    clock = logs.Stopwatch()
    message, enriched = prepare_message(document, now, message_id, clock)
    # With defer_pdf (Prefer: respond-async) the PDF is left to the job runner: the answer
    # says `pending`, and the PDF's source is queued with the message (app/jobs/deferred.py).
    outputs = render_channels(message, enriched, defer=("pdf",) if defer_pdf else ())
    clock.lap("render")
    answer = build_answer(message, enriched, outputs)
    deferred = deferred_work(enriched.message_id, outputs)

    archive.store_message(
        message_id=enriched.message_id, request=document, answer=answer,
        customer_id=enriched.request.recipient.customer_id, brand=enriched.brand.id,
        outputs=outputs, idempotency_key=idempotency_key,
        # An appointment's new state, and the customer's action that made it, if any (its
        # note and its webhook), are stored in the message's own transaction.
        also=_together(recorder(message, enriched, action), deferred.store if deferred else None, also),
    )
    clock.lap("store")
    if deferred:
        deferred.dispatch()
    # The operator's line: message id, type, channels and the milliseconds of each stage.
    logs.rendered(enriched.message_id, message.type, list(outputs), clock)
    return answer


def _together(*hooks: Callable[[Session], None] | None) -> Callable[[Session], None]:
    def run(db: Session) -> None:
        for hook in hooks:
            if hook is not None:
                hook(db)

    return run


def prepare_message(document: Any, now: datetime | None = None, message_id: str | None = None,
                    clock: logs.Stopwatch | None = None) -> tuple[Composed, Enriched]:
    """Validate, enrich, compose and draw: everything before the channels render."""
    now = now or datetime.now(UTC)
    brands = current_app.extensions["touchpoint.brands"]
    clock = clock or logs.Stopwatch()

    request = validate(document, brands, now)
    clock.lap("validate")
    message_id = message_id or new_id("msg")
    enriched = enrich(
        request,
        brand=brands.get(request.brand),
        stored_profile=archive.load_profile(request.recipient.customer_id),
        message_id=message_id,
        links=_links(message_id),
        channels=list(request.channels or TYPE_CHANNELS[request.type]),
        now=now,
        assets=artifacts(),
        config=current_app.config,
    )
    # An appointment's SEQUENCE, and its reschedule and cancel links, come from the database.
    enriched.appointment = plan_appointment(enriched)
    clock.lap("enrich")
    # Frequency caps count what the customer's archived messages already showed.
    enriched.personalisation = personalise(enriched, shown=customers.offers_shown(
        request.recipient.customer_id, enriched.brand.id, enriched.brand.offers.cap_days, now))
    clock.lap("personalise")
    message = compose(enriched)
    clock.lap("compose")
    draw(message, enriched, artifacts())
    clock.lap("draw")
    return message, enriched


def build_answer(message: Composed, enriched: Enriched,
                 outputs: dict[str, ChannelOutput]) -> dict[str, Any]:
    warnings = [*enriched.warnings, *message.warnings]
    for output in outputs.values():
        warnings += output.warnings
    return {
        "id": enriched.message_id,
        "type": message.type,
        "locale": enriched.locale_tag,
        "reference": enriched.request.reference,
        "created": enriched.now.isoformat(),
        "outputs": {name: outputs[name].output for name in TYPE_CHANNELS[message.type]
                    if name in outputs},
        "actions": answer_actions(message, enriched, outputs),
        "personalisation": enriched.personalisation.trace(),
        "warnings": warnings,
    }


def _links(message_id: str) -> dict[str, str]:
    from app.links import message_links

    return message_links(message_id)
