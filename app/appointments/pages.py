"""What the customer pages show: the appointment as it now stands, and the slots to pick from.

Pure view models for `templates/pages/`: texts come from the templates (gettext), dates and
times from Babel, in the message's language and the customer's time zone (their profile's,
else the appointment's own; the page says which when they differ).
"""

from __future__ import annotations

from datetime import datetime
from itertools import groupby
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import get_timezone_location
from flask import current_app

from app.appointments.current import Current, free_slots
from app.i18n import Formatter, locale_tag, parse_locale
from app.links import message_links
from app.store import archive


def customer_zone(current: Current) -> str:
    """The customer's own zone, where we know it; else the appointment's."""
    message = archive.get_message(current.opened.message_id)
    recipient = (message.request.get("recipient") or {}) if message else {}
    zone = recipient.get("timezone")
    if not zone and recipient.get("customer_id"):
        zone = (archive.load_profile(recipient["customer_id"]) or {}).get("timezone")
    return zone or current.appointment.timezone


def base_context(current: Current) -> dict[str, Any]:
    """Language, brand and the appointment card, as every customer page needs them."""
    message = archive.get_message(current.shown.message_id) or archive.get_message(current.opened.message_id)
    locale = parse_locale(message.locale if message else "en") or parse_locale("en")
    assert locale is not None
    brand = current_app.extensions["touchpoint.brands"].get(current.appointment.brand)
    card = dict(current.shown.view)
    card["change"] = None  # the page is where the customer changes it
    return {
        "lang": locale.language,
        "locale": locale_tag(locale),
        "channel": "web",
        "brand": brand.view(locale.language, locale.territory),
        "appointment": card,
        "document_title": card["title"],
        "message_url": message_links(current.shown.message_id)["web"],
        "_locale": locale,
    }


def slot_groups(current: Current, now: datetime, locale: Any, zone: str) -> list[dict[str, Any]]:
    """Free slots by day, each `{value, label}`, as the customer reads times."""
    fmt = Formatter(locale)
    tz, source = ZoneInfo(zone), ZoneInfo(current.appointment.timezone)
    shown = []
    for slot in free_slots(current, now):
        start = datetime.fromisoformat(slot["start"]).replace(tzinfo=source).astimezone(tz)
        end = datetime.fromisoformat(slot["end"]).replace(tzinfo=source).astimezone(tz)
        shown.append((start, end, slot["start"]))
    groups = []
    for day, items in groupby(shown, key=lambda item: item[0].date()):
        groups.append({"day": fmt.weekday_date(day), "slots": [
            {"value": value, "label": fmt.time_range(start, end), "id": f"slot-{value.replace(':', '')}"}
            for start, end, value in items
        ]})
    return groups


def reschedule_context(current: Current, now: datetime, form: dict[str, str],
                       notice: str | None = None, chosen: str | None = None) -> dict[str, Any]:
    context = base_context(current)
    locale = context.pop("_locale")
    zone = customer_zone(current)
    context.update({
        "page": "reschedule",
        "groups": slot_groups(current, now, locale, zone),
        "zone_note": get_timezone_location(ZoneInfo(zone), locale=locale)
        if zone != current.appointment.timezone else None,
        "form": form,
        "notice": notice,
        "chosen": chosen,
        "cancelled": current.cancelled,
    })
    return context


def cancel_context(current: Current, form: dict[str, str], notice: str | None = None) -> dict[str, Any]:
    context = base_context(current)
    context.pop("_locale")
    context.update({"page": "cancel", "form": form, "notice": notice, "cancelled": current.cancelled})
    return context


def closed_context(current: Current, reason: str) -> dict[str, Any]:
    """A page that says why nothing can be changed online, and what to do instead."""
    context = base_context(current)
    context.pop("_locale")
    context.update({"page": "closed", "reason": reason, "cancelled": current.cancelled})
    return context
