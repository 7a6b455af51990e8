"""How one render request becomes a message a customer can act on. Read this file first.

`render_message` runs stages 1 to 7 and returns a `Rendered` value; nothing is stored until
its caller passes it, with the records it names, to `commit` (stage 8):

    1 validate     -> the request as a model; every bad field named at once (422)
    2 load         -> what storage holds for it, read once: brand, stored profile, stored
                      appointment, offers already shown (load.py)
    3 enrich       -> locale, the customer's profile, links, images made safe; then the
                      appointment's plan (SEQUENCE, reschedule and cancel links)
    4 personalise  -> which offers this customer sees, and why not the others (pure, traced)
    5 compose      -> what the message says: subject, preheader, figures, buttons (pure)
    6 draw         -> its pictures (payment QR codes, consumption charts), each drawn once
    7 render       -> each channel: email, web page, PDF, invite, SMS (app/channels)
    8 commit       -> the artifacts, the answer, the message's own record (appointment
                      state) and the caller's (idempotency answer, deferred PDF job, job item
                      done, customer's note and webhook), in one transaction (commit.py)

Each stage takes values and returns new ones; none changes what it was given.
The answer is the document of CONTRACT.md (`POST /v1/render`), stored with the message so
`GET /v1/messages/{id}` gives the same document again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from app import logs
from app.appointments.state import CustomerAction, appointment_record
from app.appointments.state import plan as plan_appointment
from app.channels import ChannelOutput, listed, render_channels, selected
from app.links import message_links
from app.message.composed import Composed
from app.message.enriched import AppointmentPlan, Enriched
from app.personalise import personalise
from app.pipeline.actions import answer_actions
from app.pipeline.commit import IdempotencyDone, commit
from app.pipeline.compose import compose
from app.pipeline.draw import draw
from app.pipeline.enrich import enrich
from app.pipeline.load import load
from app.pipeline.rendered import Record, Rendered
from app.pipeline.validate import validate
from app.schemas import RenderRequest
from app.store import artifacts
from app.store.ids import new_id

__all__ = ["IdempotencyDone", "Record", "Rendered", "commit", "prepare_message", "render_message"]


def render_message(document: Any, now: datetime | None = None,
                   action: CustomerAction | None = None, *,
                   message_id: str | None = None, defer_pdf: bool = False) -> Rendered:
    """The message a request makes, as a value; nothing is stored until `commit(rendered)`.

    `message_id` is the job item's (app/jobs); `action` the customer's change that asks for
    this message (changes.py), which its appointment's record carries."""
    clock = logs.Stopwatch()
    message, enriched = prepare_message(document, now, message_id, clock, action)
    # With defer_pdf (Prefer: respond-async) the PDF is left to the job runner: the answer
    # says `pending`, and the caller queues the PDF's source with the message
    # (app/jobs/deferred.py).
    outputs = render_channels(message, enriched, defer=("pdf",) if defer_pdf else ())
    clock.lap("render")
    return Rendered(
        message_id=enriched.message_id, request=document,
        answer=build_answer(message, enriched, outputs),
        customer_id=enriched.request.recipient.customer_id, brand=enriched.brand.id,
        outputs=outputs,
        appointment=appointment_record(message, enriched, action),
        clock=clock,
        assets=(*enriched.assets, *message.assets),
    )


def prepare_message(document: Any, now: datetime | None = None, message_id: str | None = None,
                    clock: logs.Stopwatch | None = None,
                    action: CustomerAction | None = None) -> tuple[Composed, Enriched]:
    """Validate, load, enrich, personalise, compose and draw: everything before the channels."""
    now = now or datetime.now(UTC)
    brands = current_app.extensions["touchpoint.brands"]
    clock = clock or logs.Stopwatch()

    request = validate(document, brands, now)
    clock.lap("validate")
    loaded = load(request, brands, now)
    message_id = message_id or new_id("msg")
    enriched = enrich(
        request,
        brand=loaded.brand,
        stored_profile=loaded.profile,
        message_id=message_id,
        links=message_links(message_id),
        channels=_channels(request),
        now=now,
        assets=artifacts(),
        config=current_app.config,
    )
    # An appointment's SEQUENCE, and its reschedule and cancel links, from the stored one.
    enriched = with_appointment(enriched, plan_appointment(enriched, loaded.appointment, action))
    clock.lap("enrich")  # the log's stage: load and enrich together
    # Frequency caps count what the customer's archived messages already showed.
    enriched = replace(enriched, personalisation=personalise(enriched, shown=loaded.shown))
    clock.lap("personalise")
    message = compose(enriched)
    clock.lap("compose")
    message = draw(message, enriched, artifacts())
    clock.lap("draw")
    return message, enriched


def with_appointment(enriched: Enriched, plan: AppointmentPlan | None) -> Enriched:
    """The enriched bundle with its appointment's plan, whose warnings join the answer's."""
    if plan is None:
        return enriched
    return replace(enriched, appointment=plan, warnings=[*enriched.warnings, *plan.warnings])


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
        "outputs": {name: outputs[name].output for name in listed(outputs)},
        "actions": answer_actions(message, enriched, outputs),
        "personalisation": enriched.personalisation.trace(),
        "warnings": warnings,
    }


def _channels(request: RenderRequest) -> list[str]:
    """The channels to render: those asked for (or all of the type's), with what they need
    (the SMS the hosted page)."""
    return selected(request.type, request.channels)


