"""ics: the calendar invite (RFC 5545), METHOD:REQUEST or, for a cancellation, CANCEL.

The UID is derived from the brand and `appointment_id`, never the library's random one,
so every update of the same appointment replaces the invite in the customer's calendar.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from app.channels import ChannelOutput, File
from app.schemas import AppointmentRequest

if TYPE_CHECKING:
    from app.pipeline.compose import Composed
    from app.pipeline.enrich import Enriched

NAME = "ics"


def invite_uid(brand: str, appointment_id: str) -> str:
    return f"{appointment_id}@{brand}.touchpoint"


def build_invite(message: Composed, enriched: Enriched) -> tuple[bytes, str, str, int]:
    assert isinstance(enriched.request, AppointmentRequest)
    data = enriched.request.data
    zone = ZoneInfo(data.timezone)
    method = "CANCEL" if data.stage == "cancelled" else "REQUEST"
    uid = invite_uid(enriched.brand.id, data.appointment_id)

    calendar = Calendar()
    calendar.add("prodid", "-//Touchpoint//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", data.sequence)
    event.add("dtstamp", enriched.now)
    event.add("dtstart", data.start.replace(tzinfo=zone))
    event.add("dtend", data.end.replace(tzinfo=zone))
    event.add("summary", data.title)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    location = data.location
    online_url = getattr(location, "online_url", None)
    place = ", ".join(p for p in (location.name, getattr(location, "address", None)) if p)
    event.add("location", place or online_url)
    if online_url:
        event.add("url", online_url)
    description = [message.context["appointment"]["headline"]]
    if data.prepare:
        description.append(enriched.fmt.gettext("Please bring:"))
        description += [f"- {item}" for item in data.prepare]
    if message.context["links"]["web"]:
        description.append(message.context["links"]["web"])
    event.add("description", "\n".join(description))
    organizer = data.organizer
    if organizer:
        address = vCalAddress(f"mailto:{organizer.email}")
        address.params["cn"] = vText(organizer.name)
        event.add("organizer", address)
    email = message.context["recipient"]["email"]
    if email:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params.update({"cn": vText(message.context["recipient"]["name"] or email),
                                "role": "REQ-PARTICIPANT", "partstat": "NEEDS-ACTION",
                                "rsvp": "TRUE"})
        event.add("attendee", attendee)
    if method == "REQUEST":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", data.title)
        alarm.add("trigger", timedelta(hours=-1))
        event.add_component(alarm)
    calendar.add_component(event)
    calendar.add_missing_timezones()
    return calendar.to_ical(), uid, method, data.sequence


def render(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> ChannelOutput:
    data, uid, method, sequence = build_invite(message, enriched)
    content_type = f"text/calendar; charset=utf-8; method={method}"
    return ChannelOutput(
        {"url": enriched.links["api_ics"], "uid": uid, "sequence": sequence, "method": method},
        files=[File("invite.ics", content_type, data)],
    )
