"""How one render request becomes a message a customer can act on. Read this file first.

    validate  -> the request as a model; every bad field named at once (422)
    enrich    -> brand, locale, the customer's profile, links, images made safe
    compose   -> what the message says: subject, preheader, figures, buttons (pure)
    render    -> each channel: email, web page, PDF, invite, SMS
    store     -> the artifacts and the answer, all or nothing

The answer is the document of CONTRACT.md (`POST /v1/render`), stored with the message so
`GET /v1/messages/{id}` gives the same document again.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import current_app

from app.channels import ChannelOutput, render_channels
from app.pipeline.actions import answer_actions
from app.pipeline.compose import Composed, compose
from app.pipeline.enrich import Enriched, enrich
from app.pipeline.validate import validate
from app.schemas import TYPE_CHANNELS
from app.store import archive, artifacts
from app.store.ids import new_id


def render_message(document: Any, now: datetime | None = None,
                   idempotency_key: str | None = None) -> dict[str, Any]:
    message, enriched = prepare_message(document, now)
    outputs = render_channels(message, enriched)
    answer = build_answer(message, enriched, outputs)

    archive.store_message(
        message_id=enriched.message_id, request=document, answer=answer,
        customer_id=enriched.request.recipient.customer_id, brand=enriched.brand.id,
        outputs=outputs, idempotency_key=idempotency_key,
    )
    return answer


def prepare_message(document: Any, now: datetime | None = None) -> tuple[Composed, Enriched]:
    """Validate, enrich and compose: everything before the channels draw."""
    now = now or datetime.now(UTC)
    brands = current_app.extensions["touchpoint.brands"]

    request = validate(document, brands, now)
    message_id = new_id("msg")
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
    return compose(enriched), enriched


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
        "personalisation": {"blocks": [], "suppressed": []},
        "warnings": warnings,
    }


def _links(message_id: str) -> dict[str, str]:
    from app.links import message_links

    return message_links(message_id)
