"""The calendar invite, read back by a second, independent parser (vobject, not icalendar).

vobject builds its own time zones from the invite's VTIMEZONE, so a DTSTART whose TZID and
VTIMEZONE disagree lands on the wrong instant; every instant is checked in UTC against one
computed here with the standard library's zoneinfo.
"""

from __future__ import annotations

import email
import email.policy
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import vobject
from flask.testing import FlaskClient

from tests.conftest import PUBLIC_BASE_URL, fixture_paths, load_fixture

APPOINTMENTS = [p for p in fixture_paths() if p.parent.name == "appointment"]


def render(client: FlaskClient, document: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/render", json=document)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json is not None
    return response.json


def fetch(client: FlaskClient, url: str) -> bytes:
    with client.get(url.removeprefix(PUBLIC_BASE_URL)) as response:
        assert response.status_code == 200, (url, response.status_code)
        return response.data


# vobject keeps the first VTIMEZONE it reads per TZID for the rest of the process.
_VOBJECT_ZONES = vars(vobject.icalendar)["__tzidMap"]


def parse(data: bytes) -> Any:
    """The invite as vobject reads it, with its own VTIMEZONE, not one from an earlier invite."""
    for tzid in [tzid for tzid in _VOBJECT_ZONES if tzid != "UTC"]:
        del _VOBJECT_ZONES[tzid]
    # Every line of the file, CRLF-terminated and at most 75 octets (RFC 5545 3.1).
    for line in data.split(b"\r\n")[:-1]:
        assert len(line) <= 75, line
    assert data.endswith(b"\r\n")
    return vobject.readOne(data.decode("utf-8"))


def in_utc(local: str, zone: str) -> datetime:
    return datetime.fromisoformat(local).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)


def invite_of(client: FlaskClient, document: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    answer = render(client, document)
    return answer, parse(fetch(client, answer["outputs"]["ics"]["url"]))


def param(prop: Any, name: str) -> str | None:
    # vobject keeps a TZID it turned into a tzinfo as X-VOBJ-ORIGINAL-TZID.
    values = prop.params.get(name.upper()) or prop.params.get(f"X-VOBJ-ORIGINAL-{name.upper()}")
    return values[0] if values else None


@pytest.mark.parametrize("path", APPOINTMENTS, ids=lambda p: p.stem)
def test_every_fixture_invite_reads_back_in_a_second_parser(client: FlaskClient, path: Path) -> None:
    document = load_fixture(f"appointment/{path.stem}")
    data = document["data"]
    answer, calendar = invite_of(client, document)
    ics = answer["outputs"]["ics"]
    cancelled = data["stage"] == "cancelled"
    event = calendar.vevent

    assert calendar.version.value == "2.0"
    assert calendar.method.value == ("CANCEL" if cancelled else "REQUEST") == ics["method"]
    # One UID per appointment, from the brand and upstream's id: never a random one.
    assert event.uid.value == f"{data['appointment_id']}@{document['brand']}.touchpoint" == ics["uid"]
    assert int(event.sequence.value) == ics["sequence"] == data.get("sequence", 0)
    assert event.status.value == ("CANCELLED" if cancelled else "CONFIRMED")

    # Times: local with the appointment's TZID, a matching VTIMEZONE, the right UTC instant.
    for name in ("dtstart", "dtend"):
        prop = getattr(event, name)
        assert param(prop, "TZID") == data["timezone"]
        assert prop.value.astimezone(UTC) == in_utc(data[name.removeprefix("dt")], data["timezone"])
    assert [tz.tzid.value for tz in calendar.vtimezone_list] == [data["timezone"]]
    stamp = event.dtstamp.value
    assert stamp.utcoffset() == timedelta(0)
    assert abs(stamp - datetime.now(UTC)) < timedelta(hours=1)

    # ORGANIZER and an ATTENDEE who is asked to answer: clients show accept and decline.
    organizer = data.get("organizer") or {"email": "appointments@bank.example"}
    assert event.organizer.value.lower() == f"mailto:{organizer['email']}".lower()
    assert param(event.organizer, "CN")
    recipient_email = document["recipient"].get("email")
    attendee = event.attendee
    assert attendee.value.lower() == f"mailto:{recipient_email}".lower()
    assert param(attendee, "PARTSTAT") == "NEEDS-ACTION"
    assert param(attendee, "ROLE") == "REQ-PARTICIPANT"
    assert param(attendee, "RSVP") == (None if cancelled else "TRUE")

    location = data["location"]
    if "online_url" in location:
        assert event.location.value == location["online_url"]
        assert event.url.value == location["online_url"]
    else:
        assert location["name"] in event.location.value
        assert location["address"] in event.location.value
    description = event.description.value
    if not cancelled:
        for item in data.get("prepare", []):
            assert f"- {item}" in description
        # A reminder before the start, as a negative duration.
        assert len(event.valarm_list) == 1
        assert event.valarm.action.value == "DISPLAY"
        assert event.valarm.trigger.value == -timedelta(hours=1)
    else:
        assert "valarm" not in event.contents


@pytest.mark.parametrize("path", APPOINTMENTS, ids=lambda p: p.stem)
def test_the_eml_carries_the_same_invite_as_imip(client: FlaskClient, path: Path) -> None:
    document = load_fixture(f"appointment/{path.stem}")
    answer = render(client, document)
    invite = fetch(client, answer["outputs"]["ics"]["url"])
    mail = email.message_from_bytes(fetch(client, answer["outputs"]["email"]["eml_url"]),
                                    policy=email.policy.default)
    method = answer["outputs"]["ics"]["method"]
    alternatives = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    assert len(alternatives) == 1
    part = alternatives[0]
    # iMIP (RFC 6047): text/calendar with its method and charset, inside multipart/alternative.
    assert part.get_param("method") == method
    assert (part.get_content_charset() or "").lower() == "utf-8"
    assert not part.is_attachment()
    assert part.get_content().replace("\r\n", "\n") == invite.decode().replace("\r\n", "\n")
    attached = [p for p in mail.walk() if p.is_attachment() and p.get_filename() == "invite.ics"]
    assert len(attached) == 1 and attached[0].get_content() == invite
    assert parse(attached[0].get_content()).vevent.uid.value == answer["outputs"]["ics"]["uid"]


@pytest.mark.parametrize(("zone", "start", "utc_start"), [
    ("Europe/Brussels", "2031-07-01T10:00:00", "2031-07-01T08:00:00"),   # summer time, +02:00
    ("Europe/Brussels", "2031-01-15T10:00:00", "2031-01-15T09:00:00"),   # winter time, +01:00
    ("America/New_York", "2031-11-03T09:00:00", "2031-11-03T14:00:00"),  # the day after DST ends
    ("Asia/Kolkata", "2031-05-05T18:30:00", "2031-05-05T13:00:00"),      # a half-hour offset
    ("Australia/Sydney", "2031-01-10T09:00:00", "2031-01-09T22:00:00"),  # southern summer
    # Past 2037, where a VTIMEZONE made for 1970-2038 has no rules left.
    ("Europe/Brussels", "2041-07-01T10:00:00", "2041-07-01T08:00:00"),
])
def test_times_in_utc_across_zones_and_seasons(client: FlaskClient, zone: str, start: str,
                                              utc_start: str) -> None:
    document = load_fixture("appointment/confirmation-nl")
    begins = datetime.fromisoformat(start)
    document["data"].update(start=start, end=(begins + timedelta(minutes=45)).isoformat(),
                            timezone=zone, reschedule=None)
    _, calendar = invite_of(client, document)
    event = calendar.vevent
    assert event.dtstart.value.astimezone(UTC) == datetime.fromisoformat(utc_start).replace(tzinfo=UTC)
    assert event.dtend.value - event.dtstart.value == timedelta(minutes=45)
    assert calendar.vtimezone.tzid.value == zone


def test_every_invite_of_a_zone_carries_the_same_vtimezone(client: FlaskClient) -> None:
    # Calendars that keep the first VTIMEZONE they saw per TZID read every later invite right.
    def vtimezone(start: str) -> bytes:
        document = load_fixture("appointment/confirmation-nl")
        document["data"].update(appointment_id=f"apt-{start[:10]}", start=start,
                                end=start.replace("T14", "T15"), reschedule=None)
        data = fetch(client, render(client, document)["outputs"]["ics"]["url"])
        return data[data.index(b"BEGIN:VTIMEZONE"):data.index(b"END:VTIMEZONE")]

    assert vtimezone("2030-12-03T14:30:00") == vtimezone("2033-06-01T14:30:00")


def test_sequence_rises_with_every_change_and_the_uid_stays(client: FlaskClient) -> None:
    document = load_fixture("appointment/confirmation-nl")
    data = document["data"]
    seen = []

    def send(**changes: Any) -> Any:
        data.update(changes)
        answer, calendar = invite_of(client, document)
        seen.append((calendar.method.value, int(calendar.vevent.sequence.value),
                     calendar.vevent.uid.value, answer["outputs"]["ics"]["sequence"]))
        return calendar

    send()                                                  # confirmation: 0
    send(stage="reminder")                                  # same time: still 0
    send(stage="rescheduled", start="2030-12-05T10:00:00", end="2030-12-05T10:45:00")   # 1
    send(location={"name": "Zuid branch", "address": "Zuidstationstraat 1, 9000 Gent"})  # 2
    send(stage="reminder")                                  # nothing changed: 2
    send(stage="cancelled")                                 # 3, CANCEL
    send(stage="confirmation", sequence=7)                  # upstream says 7: never below it
    assert seen == [
        ("REQUEST", 0, "apt-42@demo-bank.touchpoint", 0),
        ("REQUEST", 0, "apt-42@demo-bank.touchpoint", 0),
        ("REQUEST", 1, "apt-42@demo-bank.touchpoint", 1),
        ("REQUEST", 2, "apt-42@demo-bank.touchpoint", 2),
        ("REQUEST", 2, "apt-42@demo-bank.touchpoint", 2),
        ("CANCEL", 3, "apt-42@demo-bank.touchpoint", 3),
        ("REQUEST", 7, "apt-42@demo-bank.touchpoint", 7),
    ]


def test_the_same_appointment_id_of_another_brand_is_another_invite(client: FlaskClient) -> None:
    bank = load_fixture("appointment/confirmation-nl")
    coffee = load_fixture("appointment/confirmation-nl") | {"brand": "demo-coffee"}
    coffee["data"]["start"], coffee["data"]["end"] = "2030-12-09T10:00:00", "2030-12-09T10:30:00"
    _, first = invite_of(client, bank)
    _, second = invite_of(client, coffee)
    assert first.vevent.uid.value != second.vevent.uid.value
    assert int(first.vevent.sequence.value) == int(second.vevent.sequence.value) == 0


def test_without_an_organizer_the_brand_organizes(client: FlaskClient) -> None:
    document = load_fixture("appointment/reminder-en-initials")
    del document["data"]["organizer"]
    _, calendar = invite_of(client, document)
    assert calendar.vevent.organizer.value == "mailto:appointments@bank.example"
    assert param(calendar.vevent.organizer, "CN") == "Demo Bank"
