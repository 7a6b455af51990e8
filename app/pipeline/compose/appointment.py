"""Compose an appointment: when, where, with whom, what to bring, what to do next.

The `appointment` part of the context: `id`, `stage`, `title`, `date`, `time_range`,
`when`, `relative_day`, `timezone`, `location` {`name`, `address`, `online_url`,
`map_url`}, `advisor` {`name`, `role`, `phone`, `phone_href`, `email`, `photo`,
`initials`} or None, `organizer`, `prepare` (list), `headline`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from app.pipeline.compose import Composed
from app.pipeline.enrich import Enriched
from app.schemas import AppointmentRequest


def _initials(name: str) -> str:
    parts = [p for p in name.replace("-", " ").split() if p[:1].isalpha()]
    letters = (parts[0][0] + (parts[-1][0] if len(parts) > 1 else "")) if parts else "?"
    return letters.upper()


def _relative_day(enriched: Enriched, start: datetime) -> str | None:
    today = enriched.now.astimezone(start.tzinfo).date()
    days = (start.date() - today).days
    if days == 0:
        return enriched.fmt.gettext("today")
    if days == 1:
        return enriched.fmt.gettext("tomorrow")
    return None


def compose(enriched: Enriched, context: dict[str, Any]) -> Composed:
    assert isinstance(enriched.request, AppointmentRequest)
    data = enriched.request.data
    fmt = enriched.fmt
    zone = ZoneInfo(data.timezone)
    start, end = data.start.replace(tzinfo=zone), data.end.replace(tzinfo=zone)
    date_text = fmt.weekday_date(start.date())
    time_range = fmt.time_range(start, end)
    relative = _relative_day(enriched, start)

    location = data.location
    online_url = getattr(location, "online_url", None)
    address = getattr(location, "address", None)
    location_view = {
        "name": location.name or (fmt.gettext("Online meeting") if online_url else None),
        "address": address,
        "online_url": online_url,
        # A link for the customer to open, never a URL we fetch.
        "map_url": f"https://www.google.com/maps/search/?api=1&query={quote_plus(address)}"
        if address else None,
    }
    advisor = None
    if data.advisor:
        advisor = {
            "name": data.advisor.name,
            "role": data.advisor.role,
            "phone": data.advisor.phone,
            "phone_href": "tel:" + "".join(c for c in data.advisor.phone if c in "+0123456789")
            if data.advisor.phone else None,
            "email": data.advisor.email,
            "photo": enriched.images.get("advisor_photo"),
            "initials": _initials(data.advisor.name),
        }

    values = {"title": data.title, "date": date_text, "time": fmt.time(start),
              "day": relative or date_text}
    subject, headline, intro = {
        "confirmation": (
            fmt.gettext("Confirmed: %(title)s on %(date)s at %(time)s", **values),
            fmt.gettext("Your appointment is confirmed"),
            fmt.gettext("We look forward to seeing you. Here is everything you need."),
        ),
        "reminder": (
            fmt.gettext("Reminder: %(title)s %(day)s at %(time)s", **values),
            fmt.gettext("See you %(day)s at %(time)s", **values),
            fmt.gettext("A short reminder of your appointment."),
        ),
        "rescheduled": (
            fmt.gettext("New time: %(title)s on %(date)s at %(time)s", **values),
            fmt.gettext("Your appointment has moved"),
            fmt.gettext("Here is the new time. Your calendar invitation is updated too."),
        ),
        "cancelled": (
            fmt.gettext("Cancelled: %(title)s on %(date)s", **values),
            fmt.gettext("Your appointment is cancelled"),
            fmt.gettext("This appointment will not take place."),
        ),
    }[data.stage]
    with_whom = (
        fmt.gettext("with %(name)s", name=data.advisor.name) if data.advisor else ""
    )
    preheader = " ".join(p for p in (date_text, time_range, with_whom) if p)

    actions: list[dict[str, Any]] = []
    buttons: list[dict[str, Any]] = []
    if data.stage != "cancelled":
        if online_url:
            buttons.append({"kind": "join", "label": fmt.gettext("Join the meeting"), "url": online_url})
        if context["links"]["ics"]:
            buttons.append({"kind": "add_to_calendar", "label": fmt.gettext("Add to calendar"),
                            "url": context["links"]["ics"]})
        if location_view["map_url"]:
            buttons.append({"kind": "route", "label": fmt.gettext("Plan your route"),
                            "url": location_view["map_url"]})

    context["appointment"] = {
        "id": data.appointment_id,
        "stage": data.stage,
        "title": data.title,
        "headline": headline,
        "date": date_text,
        "time_range": time_range,
        "when": f"{date_text}, {time_range}",
        "relative_day": relative,
        "timezone": data.timezone,
        "location": location_view,
        "advisor": advisor,
        "organizer": data.organizer.model_dump() if data.organizer else None,
        "prepare": list(data.prepare),
        "cancelled": data.stage == "cancelled",
    }
    context["intro"] = intro
    context["headline"] = headline
    context["document_title"] = data.title
    context["buttons"] = buttons
    context["sms"] = {
        "summary": fmt.gettext("%(title)s %(day)s at %(time)s", **values)
        if relative else fmt.gettext("%(title)s on %(date)s at %(time)s", **values),
    }
    return Composed("appointment", subject, preheader, context, actions=actions)
