"""The answer's `actions`: what the customer can do from the message, as upstream sees it."""

from __future__ import annotations

from datetime import UTC
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from app.channels import ChannelOutput
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.schemas import AppointmentRequest


def calendar_links(enriched: Enriched) -> dict[str, str]:
    """Add-to-calendar links for Google Calendar and Outlook.com / Office 365."""
    assert isinstance(enriched.request, AppointmentRequest)
    data = enriched.request.data
    zone = ZoneInfo(data.timezone)
    start = data.start.replace(tzinfo=zone).astimezone(UTC)
    end = data.end.replace(tzinfo=zone).astimezone(UTC)
    location = data.location
    where = getattr(location, "address", None) or getattr(location, "online_url", None) or ""
    google = "https://calendar.google.com/calendar/render?" + urlencode({
        "action": "TEMPLATE",
        "text": data.title,
        "dates": f"{start:%Y%m%dT%H%M%SZ}/{end:%Y%m%dT%H%M%SZ}",
        "location": where,
        "details": enriched.links["web"],
        "ctz": data.timezone,
    })
    outlook_query = urlencode({
        "path": "/calendar/action/compose",
        "rru": "addevent",
        "subject": data.title,
        "startdt": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "enddt": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "location": where,
        "body": enriched.links["web"],
    })
    return {
        "google_url": google,
        "outlook_url": "https://outlook.live.com/calendar/0/action/compose?" + outlook_query,
        "office365_url": "https://outlook.office.com/calendar/0/action/compose?" + outlook_query,
    }


def answer_actions(message: Composed, enriched: Enriched,
                   outputs: dict[str, ChannelOutput]) -> list[dict[str, Any]]:
    actions = list(message.actions)
    if "ics" in outputs and outputs["ics"].output["method"] == "REQUEST":
        actions.append({"kind": "add_to_calendar", "ics_url": enriched.links["ics"],
                        **calendar_links(enriched)})
    part = message.context.get("invoice") or message.context.get("bill")
    payment = part["payment"] if part else None
    if payment and not payment["nothing_due"] and (payment["pay_url"] or payment["epc_qr_payload"]):
        # `epc_qr_payload`: the EPC069-12 SEPA QR text, only where the standard allows one.
        pay: dict[str, Any] = {"kind": "pay", "url": payment["pay_url"]}
        if payment["epc_qr_payload"]:
            pay["epc_qr_payload"] = payment["epc_qr_payload"]
        actions.append(pay)
    for output in outputs.values():
        actions += output.actions
    return actions
