"""Compose an appointment: when, where, with whom, what to bring, what to do next.

The `appointment` part of the context: `id`, `stage`, `title`, `date`, `time_range`,
`when`, `relative_day`, `timezone`, `location` {`name`, `address`, `online_url`,
`map_url`}, `advisor` {`name`, `role`, `phone`, `phone_href`, `email`, `photo`,
`initials`} or None, `organizer`, `prepare` (list), `headline`, `cancelled`,
`change` {`reschedule_url`, `cancel_url`} or None (the customer may move or cancel it from
the message; draw adds `reschedule_qr` for the PDF), `calendar` (how to add it to a calendar,
said on paper, where no button can be pressed) or None, `reservation` (schema.org
EventReservation for Gmail, as JSON-LD data).
The same part is stored with the message (app/appointments), for the customer pages.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

from app.message.composed import Composed
from app.message.enriched import Enriched
from app.pipeline.compose.words import sentences
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


def _reminder_intro(enriched: Enriched, location: dict[str, Any]) -> str:
    """A reminder is short and time-sensitive: where to go, or that the link is below (the
    first button is the route or the link to join)."""
    fmt = enriched.fmt
    if location["online_url"]:
        return fmt.gettext("The meeting is online: join with the button below a few minutes "
                           "before it starts.")
    if location["address"]:
        return fmt.gettext("We expect you at %(place)s, %(address)s.",
                           place=location["name"], address=location["address"])
    return fmt.gettext("We expect you at %(place)s.", place=location["name"])


def _moved_intro(enriched: Enriched, invite: bool) -> str:
    """A move, as it really happens: the service sends nothing and no calendar changes by
    itself. A customer's own move is told to the brand (its webhook); the new invitation, with
    the same UID and a higher SEQUENCE, replaces the old one once opened."""
    fmt = enriched.fmt
    plan = enriched.appointment
    moved = (fmt.gettext("Here is the new time you chose. We are letting %(brand)s know.",
                         brand=enriched.brand.name)
             if plan is not None and plan.by_customer else fmt.gettext("Here is the new time."))
    if not invite:
        return moved
    calendar = fmt.gettext("To update your calendar, open the new invitation: it replaces the old one.")
    return f"{moved} {calendar}"


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
        phone = fmt.phone(data.advisor.phone) if data.advisor.phone else None
        advisor = {
            "name": data.advisor.name,
            "role": data.advisor.role,
            "phone": phone.text if phone else None,
            "phone_href": phone.href if phone else None,
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
            _reminder_intro(enriched, location_view),
        ),
        "rescheduled": (
            fmt.gettext("New time: %(title)s on %(date)s at %(time)s", **values),
            fmt.gettext("Your appointment has moved"),
            _moved_intro(enriched, invite=bool(context["links"]["ics"])),
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
    preheader = sentences(", ".join(p for p in (date_text, time_range, with_whom) if p))

    buttons: list[dict[str, Any]] = []
    if data.stage != "cancelled":
        if online_url:
            buttons.append({"kind": "join", "label": fmt.gettext("Join the meeting"), "url": online_url})
        route = {"kind": "route", "label": fmt.gettext("Plan your route"), "url": location_view["map_url"]}
        if data.stage == "reminder" and location_view["map_url"]:
            buttons.append(route)
        if context["links"]["ics"]:
            # A move's first step: no calendar changes until the new invitation is opened.
            moved = data.stage == "rescheduled"
            label = fmt.gettext("Download the new invitation") if moved else fmt.gettext("Add to calendar")
            buttons.insert(0 if moved else len(buttons),
                           {"kind": "add_to_calendar", "label": label, "url": context["links"]["ics"]})
        if data.stage != "reminder" and location_view["map_url"]:
            buttons.append(route)
    elif enriched.brand.booking_url:
        # A cancelled appointment: the way to a new one, when the brand has a booking page.
        buttons.append({"kind": "book", "label": fmt.gettext("Make a new appointment"),
                        "url": enriched.brand.booking_url})
    change, actions = _change(enriched)

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
        "change": change,
        "calendar": _calendar_hint(enriched, context["links"]["ics"], data.stage),
    }
    context["appointment"]["reservation"] = reservation(
        enriched, context, start, end, change["reschedule_url"] if change else None)
    context["intro"] = intro
    context["headline"] = headline
    context["document_title"] = data.title
    context["buttons"] = buttons
    if data.stage == "reminder":
        # The headline already says when: the text says where (the page has route and link).
        where = fmt.gettext("Online") if online_url else location_view["name"]
        summary = f"{data.title}, {where}"
    elif relative:
        summary = fmt.gettext("%(title)s %(day)s at %(time)s", **values)
    else:
        summary = fmt.gettext("%(title)s on %(date)s at %(time)s", **values)
    context["sms"] = {"summary": summary}
    return Composed("appointment", subject, preheader, context, actions=actions)


def _calendar_hint(enriched: Enriched, invite: str | None, stage: str) -> str | None:
    """How to put the appointment in a calendar from a printed letter: with the invitation
    that comes with the email, when this message has both."""
    if stage == "cancelled" or not invite or "email" not in enriched.channels:
        return None
    return enriched.fmt.gettext("Add it to your calendar: open the invitation that came with our email.")


def _change(enriched: Enriched) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The customer's reschedule and cancel links (from app/appointments), for the card and
    for the answer's `actions`."""
    plan = enriched.appointment
    if plan is None or not plan.links:
        return None, []
    expires = plan.expires_at.astimezone(UTC).isoformat().replace("+00:00", "Z") \
        if plan.expires_at else None
    actions = [{"kind": kind, "url": plan.links[kind], "expires_at": expires}
               for kind in ("reschedule", "cancel") if kind in plan.links]
    return {"reschedule_url": plan.links.get("reschedule"),
            "cancel_url": plan.links.get("cancel")}, actions


def reservation(enriched: Enriched, context: dict[str, Any], start: datetime, end: datetime,
                modify_url: str | None) -> dict[str, Any]:
    """schema.org EventReservation (what Gmail reads from JSON-LD), from the same data."""
    assert isinstance(enriched.request, AppointmentRequest)
    data = enriched.request.data
    view = context["appointment"]
    location = view["location"]
    if location["online_url"]:
        place: dict[str, Any] = {"@type": "VirtualLocation", "url": location["online_url"]}
    else:
        place = {"@type": "Place", "name": location["name"]}
        if location["address"]:
            place["address"] = {"@type": "PostalAddress", "streetAddress": location["address"]}
    event: dict[str, Any] = {
        "@type": "Event",
        "name": data.title,
        "startDate": start.isoformat(),
        "endDate": end.isoformat(),
        "eventAttendanceMode": "https://schema.org/OnlineEventAttendanceMode" if location["online_url"]
        else "https://schema.org/OfflineEventAttendanceMode",
        "location": place,
        "organizer": {"@type": "Organization", "name": enriched.brand.name,
                      **({"url": enriched.brand.website} if enriched.brand.website else {})},
    }
    if view["advisor"]:
        event["performer"] = {"@type": "Person", "name": view["advisor"]["name"]}
    result: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "EventReservation",
        "reservationNumber": data.appointment_id,
        "reservationStatus": "https://schema.org/ReservationCancelled" if view["cancelled"]
        else "https://schema.org/ReservationConfirmed",
        "reservationFor": event,
        "modifiedTime": enriched.now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    if context["recipient"]["name"]:
        result["underName"] = {"@type": "Person", "name": context["recipient"]["name"]}
    if modify_url:
        result["modifyReservationUrl"] = modify_url
    if context["links"]["web"]:
        result["url"] = context["links"]["web"]
    return result
