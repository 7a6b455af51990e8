"""ics: the calendar invite (RFC 5545, iTIP RFC 5546), METHOD:REQUEST or, for a cancellation, CANCEL.

The UID is derived from the brand and `appointment_id`, never the library's random one,
so every update of the same appointment replaces the invite in the customer's calendar.
SEQUENCE comes from the database (app/appointments/state.py): raised with every change of
time, place or status, so calendars take the newest invite and ignore older ones.
DTSTART and DTEND carry the appointment's TZID with a matching VTIMEZONE; ORGANIZER (the
request's, else the brand) and an ATTENDEE with RSVP=TRUE make mail clients offer accept
and decline.
"""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from icalendar import Alarm, Calendar, Event, vCalAddress, vText

from app.channels.base import Channel, ChannelOutput
from app.channels.vtimezone import vtimezone
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.schemas import AppointmentRequest
from app.store.artifacts import File

NAME = "ics"
# The alarm before the start: enough to leave for a branch, or to find the meeting link.
ALARM_BEFORE = timedelta(hours=1)


def invite_uid(brand: str, appointment_id: str) -> str:
    return f"{appointment_id}@{brand}.touchpoint"


def invite_sequence(enriched: Enriched) -> int:
    plan = enriched.appointment
    assert isinstance(enriched.request, AppointmentRequest)
    return plan.sequence if plan is not None else enriched.request.data.sequence


def build_invite(message: Composed, enriched: Enriched) -> tuple[bytes, str, str, int]:
    assert isinstance(enriched.request, AppointmentRequest)
    data = enriched.request.data
    zone = ZoneInfo(data.timezone)
    method = "CANCEL" if data.stage == "cancelled" else "REQUEST"
    uid = invite_uid(enriched.brand.id, data.appointment_id)
    sequence = invite_sequence(enriched)
    view = message.context["appointment"]

    calendar = Calendar()
    calendar.add("prodid", "-//Touchpoint//Appointments//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", method)
    event = Event()
    event.add("uid", uid)
    event.add("sequence", sequence)
    event.add("dtstamp", enriched.now)
    event.add("last-modified", enriched.now)
    event.add("dtstart", data.start.replace(tzinfo=zone))
    event.add("dtend", data.end.replace(tzinfo=zone))
    event.add("summary", data.title)
    event.add("status", "CANCELLED" if method == "CANCEL" else "CONFIRMED")
    event.add("transp", "OPAQUE")
    location = view["location"]
    place = ", ".join(p for p in (location["name"], location["address"]) if p)
    # Online: the link itself, which calendars make clickable; otherwise the place and address.
    event.add("location", location["online_url"] or place)
    if location["online_url"]:
        event.add("url", location["online_url"])
    elif message.context["links"]["web"]:
        event.add("url", message.context["links"]["web"])
    event.add("description", _description(message, enriched))

    organizer = data.organizer
    address = vCalAddress(f"mailto:{organizer.email if organizer else enriched.brand.email_from}")
    address.params["cn"] = vText(organizer.name if organizer else enriched.brand.name)
    event.add("organizer", address)
    email = message.context["recipient"]["email"]
    if email:
        attendee = vCalAddress(f"mailto:{email}")
        attendee.params["cn"] = vText(message.context["recipient"]["name"] or email)
        attendee.params["cutype"] = "INDIVIDUAL"
        attendee.params["role"] = "REQ-PARTICIPANT"
        attendee.params["partstat"] = "NEEDS-ACTION"
        if method == "REQUEST":
            attendee.params["rsvp"] = "TRUE"
        event.add("attendee", attendee)
    if method == "REQUEST":
        alarm = Alarm()
        alarm.add("action", "DISPLAY")
        alarm.add("description", data.title)
        alarm.add("trigger", -ALARM_BEFORE)
        event.add_component(alarm)
    # The zone's rules as yearly RRULEs: the same VTIMEZONE in every invite of the zone,
    # valid in any year, in the form every calendar reads (app/channels/vtimezone.py).
    calendar.add_component(vtimezone(data.timezone, data.start, data.end))
    calendar.add_component(event)
    return calendar.to_ical(), uid, method, sequence


def _description(message: Composed, enriched: Enriched) -> str:
    """What a calendar shows under the title: the headline, what to bring, where to act."""
    view, fmt = message.context["appointment"], enriched.fmt
    lines = [view["headline"]]
    if view["advisor"]:
        lines.append(fmt.gettext("with %(name)s", name=view["advisor"]["name"]))
    if view["location"]["online_url"]:
        lines += ["", f"{fmt.gettext('Join the meeting')}: {view['location']['online_url']}"]
    if view["prepare"] and not view["cancelled"]:
        lines += ["", fmt.gettext("Please bring:")]
        lines += [f"- {item}" for item in view["prepare"]]
    change = view.get("change") or {}
    if change.get("reschedule_url"):
        lines += ["", f"{fmt.gettext('Choose another time')}: {change['reschedule_url']}"]
    if change.get("cancel_url"):
        lines.append(f"{fmt.gettext('Cancel the appointment')}: {change['cancel_url']}")
    if message.context["links"]["web"]:
        lines += ["", message.context["links"]["web"]]
    return "\n".join(lines)


def render(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> ChannelOutput:
    data, uid, method, sequence = build_invite(message, enriched)
    content_type = f"text/calendar; charset=utf-8; method={method}"
    return ChannelOutput(
        {"url": enriched.links["api_ics"], "uid": uid, "sequence": sequence, "method": method},
        files=[File("invite.ics", content_type, data)],
    )


# Only an appointment has a time to put in a calendar.
CHANNEL = Channel(NAME, types=("appointment",), position=4, order=40, render=render)
