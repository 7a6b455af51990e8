"""What each stage says, in every language, and Gmail's schema.org markup made from the same data."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.pipeline import prepare_message
from tests.appointments.helpers import actions, appointment, get_page, render


def compose(app: Flask, document: dict[str, Any], now: datetime) -> Any:
    with app.test_request_context():
        message, _ = prepare_message(document, now)
    return message


# The reminder fixture: 14 March 2031, 10:00-10:30 in Brussels (09:00 UTC).
DAY_BEFORE = datetime(2031, 3, 13, 15, 0, tzinfo=UTC)
SAME_MORNING = datetime(2031, 3, 14, 6, 0, tzinfo=UTC)
A_WEEK_BEFORE = datetime(2031, 3, 7, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("locale", "now", "subject", "headline"), [
    ("en", DAY_BEFORE, "Reminder: Savings plan check-up tomorrow at 10:00 AM",
     "See you tomorrow at 10:00 AM"),
    ("nl-BE", DAY_BEFORE, "Herinnering: Savings plan check-up morgen om 10:00", "Tot morgen om 10:00"),
    ("fr-BE", DAY_BEFORE, "Rappel : Savings plan check-up demain à 10:00", "Rendez-vous demain à 10:00"),
    ("de-DE", DAY_BEFORE, "Erinnerung: Savings plan check-up morgen um 10:00 Uhr", "Bis morgen um 10:00 Uhr"),
    ("en", SAME_MORNING, "Reminder: Savings plan check-up today at 10:00 AM", "See you today at 10:00 AM"),
    ("nl-BE", SAME_MORNING, "Herinnering: Savings plan check-up vandaag om 10:00", "Tot vandaag om 10:00"),
    ("fr-BE", SAME_MORNING, "Rappel : Savings plan check-up aujourd'hui à 10:00",
     "Rendez-vous aujourd'hui à 10:00"),
    ("de-DE", SAME_MORNING, "Erinnerung: Savings plan check-up heute um 10:00 Uhr", "Bis heute um 10:00 Uhr"),
])
def test_a_reminder_says_when_in_a_few_words_in_every_language(
    app: Flask, locale: str, now: datetime, subject: str, headline: str
) -> None:
    message = compose(app, appointment() | {"locale": locale}, now)
    assert message.subject == subject
    assert message.context["headline"].replace("\u202f", " ").replace("\u00a0", " ") == headline


def test_a_reminder_further_ahead_names_the_date(app: Flask) -> None:
    message = compose(app, appointment(), A_WEEK_BEFORE)
    assert "Friday, March 14, 2031" in message.subject
    assert "tomorrow" not in message.subject and "today" not in message.subject


def test_a_reminder_leads_with_the_route_to_a_place(app: Flask, client: FlaskClient) -> None:
    message = compose(app, appointment(), DAY_BEFORE)
    first = message.context["buttons"][0]
    assert first["kind"] == "route"
    assert first["url"].startswith("https://www.google.com/maps/search/?api=1&query=Meir+78")
    assert message.context["intro"] == "We expect you at Meir branch, Meir 78, 2000 Antwerpen."
    assert message.context["sms"]["summary"] == "Savings plan check-up, Meir branch"
    text = render(client, appointment())["outputs"]["email"]["text"]
    assert f"Plan your route: {first['url']}" in text


def test_a_reminder_leads_with_the_link_to_join_online(app: Flask, client: FlaskClient) -> None:
    document = appointment("appointment/rescheduled-fr-online", stage="reminder", sequence=0)
    document["locale"] = "en"
    message = compose(app, document, datetime(2030, 10, 7, 18, 0, tzinfo=UTC))
    online = document["data"]["location"]["online_url"]
    assert message.context["buttons"][0] == {"kind": "join", "label": "Join the meeting", "url": online}
    assert "join with the button below" in message.context["intro"]
    assert message.context["sms"]["summary"] == "Entretien crédit hypothécaire, Online"
    assert message.subject == "Reminder: Entretien crédit hypothécaire tomorrow at 4:00 PM"
    answer = render(client, document)
    assert f"Join the meeting: {online}" in answer["outputs"]["email"]["text"]


@pytest.mark.parametrize(("stage", "subject", "headline"), [
    ("confirmation", "Confirmed: Savings plan check-up on Friday, March 14, 2031 at 10:00 AM",
     "Your appointment is confirmed"),
    ("rescheduled", "New time: Savings plan check-up on Friday, March 14, 2031 at 10:00 AM",
     "Your appointment has moved"),
    ("cancelled", "Cancelled: Savings plan check-up on Friday, March 14, 2031",
     "Your appointment is cancelled"),
])
def test_each_stage_has_its_own_words(app: Flask, stage: str, subject: str, headline: str) -> None:
    message = compose(app, appointment(stage=stage), A_WEEK_BEFORE)
    assert (message.subject, message.context["headline"]) == (subject, headline)


# --- schema.org for Gmail ---------------------------------------------------------------------

def json_ld(html: str) -> list[dict[str, Any]]:
    blocks = re.findall(r'<script type="application/ld\+json">(.*?)</script>', html, flags=re.S)
    return [json.loads(block) for block in blocks]


def test_the_email_carries_an_event_reservation_from_the_same_data(client: FlaskClient) -> None:
    answer = render(client, appointment())
    html = answer["outputs"]["email"]["html"]
    [reservation] = json_ld(html)
    assert html.index("application/ld+json") < html.index("</head>")
    assert reservation["@context"] == "https://schema.org"
    assert reservation["@type"] == "EventReservation"
    assert reservation["reservationNumber"] == "apt-1002"
    assert reservation["reservationStatus"] == "https://schema.org/ReservationConfirmed"
    assert reservation["underName"] == {"@type": "Person", "name": "Siobhán O'Brien"}
    assert reservation["modifyReservationUrl"] == actions(answer)["reschedule"]["url"]
    assert reservation["url"] == answer["outputs"]["web"]["url"]
    event = reservation["reservationFor"]
    assert event["@type"] == "Event" and event["name"] == "Savings plan check-up"
    # Dates with the zone's offset at that moment, as schema.org wants (ISO 8601).
    assert event["startDate"] == "2031-03-14T10:00:00+01:00"
    assert event["endDate"] == "2031-03-14T10:30:00+01:00"
    assert event["location"] == {"@type": "Place", "name": "Meir branch", "address": {
        "@type": "PostalAddress", "streetAddress": "Meir 78, 2000 Antwerpen"}}
    assert event["organizer"]["name"] == "Demo Bank"
    assert event["performer"] == {"@type": "Person", "name": "Pieter-Jan Vermeulen"}
    # The web page and the PDF are not for Gmail.
    assert json_ld(get_page(client, answer["outputs"]["web"]["url"]).get_data(as_text=True)) == []


def test_a_cancellation_and_an_online_meeting_say_so(client: FlaskClient) -> None:
    [cancelled] = json_ld(render(client, appointment(stage="cancelled"))["outputs"]["email"]["html"])
    assert cancelled["reservationStatus"] == "https://schema.org/ReservationCancelled"
    assert "modifyReservationUrl" not in cancelled
    online_answer = render(client, appointment("appointment/rescheduled-fr-online"))
    [online] = json_ld(online_answer["outputs"]["email"]["html"])
    assert online["reservationFor"]["location"] == {
        "@type": "VirtualLocation", "url": "https://meet.bank.example/r/7c1f-22ab-90de"}
    assert online["reservationFor"]["eventAttendanceMode"] == "https://schema.org/OnlineEventAttendanceMode"


def test_text_that_tries_to_close_the_script_stays_data(client: FlaskClient) -> None:
    hostile = '</script><script>alert(1)</script> & "quotes" \'apostrophes\''
    answer = render(client, appointment(title=hostile))
    html = answer["outputs"]["email"]["html"]
    [reservation] = json_ld(html)
    assert reservation["reservationFor"]["name"] == hostile
    assert html.count("<script") == 1 and "alert(1)</script>" not in html
