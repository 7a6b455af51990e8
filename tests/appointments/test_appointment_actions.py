"""The customer moves or cancels an appointment from the message: pages, tokens, forms, the
database's guarantees, and what every later look at the message shows.

Each test drives the real pages through the test client as a browser would (GET the page,
read its form, POST it back with the cookie it set) and opens what came out: the new
message, its invite (read by vobject), the old message's page, the archive and the outbox.
"""

from __future__ import annotations

import html
import json
import re
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import icalendar
import pytest
import vobject
from babel.dates import format_date
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.appointments.models import Appointment, AppointmentChange, SlotBooking
from app.appointments.tokens import action_token
from app.links import sign_id, unsign_message
from app.store import archive
from app.store.models import Message
from app.webhooks.models import WebhookDelivery
from tests.appointments.helpers import (
    actions,
    appointment,
    brands_with,
    get_page,
    open_form,
    path,
    render,
    share_templates,
    submit,
    text_of,
)
from tests.conftest import PUBLIC_BASE_URL, _config, add_key, load_fixture, make_app

SLOT_1, SLOT_2 = "2031-03-17T09:00:00", "2031-03-18T14:00:00"  # the reminder fixture's slots


def rows(app: Flask, model: Any, **where: Any) -> list[Any]:
    with app.extensions["touchpoint.db"]() as db:
        query = select(model).filter_by(**where)
        return list(db.scalars(query).all())


def count(app: Flask, model: Any) -> int:
    with app.extensions["touchpoint.db"]() as db:
        return db.scalar(select(func.count()).select_from(model)) or 0


def state(app: Flask, appointment_id: str = "apt-1002") -> Appointment:
    [row] = rows(app, Appointment, brand="demo-bank", appointment_id=appointment_id)
    return row


def invite(client: FlaskClient, message_id: str) -> Any:
    response = client.get(f"/v1/messages/{message_id}/invite.ics", buffered=True)
    assert response.status_code == 200
    return vobject.readOne(response.get_data(as_text=True))


def new_message_id(response: Any) -> str:
    """The message a POST redirected to (its web page is the confirmation)."""
    assert response.status_code == 303, response.get_data(as_text=True)[:800]
    token = response.headers["Location"].removeprefix(f"{PUBLIC_BASE_URL}/m/")
    # The link is opaque (app/links.py): open it as the service does, with the tests' key.
    with LINKS.app_context():
        return unsign_message("web", token, 3600)[0]


LINKS = Flask("links")
LINKS.config.update(SECRET_KEY=_config(Path("."), "")["SECRET_KEY"])


def set_clock(monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
    monkeypatch.setattr("app.http.actions.now", lambda: moment)


@pytest.fixture
def answer(client: FlaskClient) -> dict[str, Any]:
    return render(client, appointment())


# --- what the message offers ------------------------------------------------------------------

def test_the_answer_and_every_channel_offer_reschedule_and_cancel(
    client: FlaskClient, answer: dict[str, Any]
) -> None:
    offered = actions(answer)
    reschedule, cancel = offered["reschedule"], offered["cancel"]
    assert reschedule["url"].startswith(f"{PUBLIC_BASE_URL}/a/") and reschedule["url"].endswith("/reschedule")
    assert cancel["url"] == reschedule["url"].removesuffix("/reschedule") + "/cancel"
    # The links work until the appointment begins (10:00 in Brussels, 09:00 UTC).
    assert reschedule["expires_at"] == "2031-03-14T09:00:00Z"
    email = answer["outputs"]["email"]
    page = get_page(client, answer["outputs"]["web"]["url"]).get_data(as_text=True)
    for where, text in {"email html": email["html"], "email text": email["text"], "web page": page}.items():
        for action in (reschedule, cancel):
            assert action["url"] in text.replace("&amp;", "&"), where
    assert "Can't make it?" in email["text"]
    assert "Choose another time" in text_of(email["html"]) and "Cancel the appointment" in text_of(page)


@pytest.mark.parametrize(("name", "change", "kinds"), [
    ("appointment/cancelled-de", {}, set()),                                   # cancelled already
    ("appointment/coffee-workshop-fr", {}, set()),                             # no callback_url
    ("appointment/reminder-en-initials", {"reschedule": {
        "callback_url": "https://upstream.example/hooks"}}, {"cancel"}),       # nothing to move to
    ("appointment/reminder-en-initials", {"reschedule": {"slots": [
        {"start": SLOT_1, "end": "2031-03-17T09:30:00"}]}}, set()),            # nobody to tell
])
def test_actions_are_offered_only_when_they_can_work(
    client: FlaskClient, name: str, change: dict[str, Any], kinds: set[str]
) -> None:
    answer = render(client, appointment(name, **change))
    assert set(actions(answer)) & {"reschedule", "cancel"} == kinds
    assert ("Can't make it?" in answer["outputs"]["email"]["text"]) == bool(kinds)


# --- the reschedule page ----------------------------------------------------------------------

def test_the_page_lists_the_slots_in_the_message_language(client: FlaskClient) -> None:
    answer = render(client, appointment("appointment/confirmation-nl"))
    form = open_form(client, actions(answer)["reschedule"]["url"])
    text = text_of(form.page)
    assert form.slots == ["2030-12-04T09:00:00"]
    assert format_date(datetime(2030, 12, 4), "full", locale="nl_BE") in text  # woensdag 4 december 2030
    assert "09:00–09:45" in text
    assert 'lang="nl-BE"' in form.page
    # The appointment as it stands, to compare with.
    assert "Bespreking herfinanciering van uw hypotheek" in text and "Sofie Peeters" in text


def test_the_page_shows_times_in_the_customers_own_zone(client: FlaskClient) -> None:
    document = appointment()
    document["recipient"]["timezone"] = "America/New_York"
    form = open_form(client, actions(render(client, document))["reschedule"]["url"])
    text = text_of(form.page)
    # 17 March 2031 09:00 in Brussels is 04:00 in New York (both on summer time by then).
    assert "4:00 – 4:30 AM" in text
    assert "your time zone" in text and "New York" in text
    # The form still names the slot as upstream offered it.
    assert form.slots == [SLOT_1, SLOT_2]


def test_the_page_is_safe_to_show(client: FlaskClient, answer: dict[str, Any]) -> None:
    response = get_page(client, actions(answer)["reschedule"]["url"])
    assert response.mimetype == "text/html"
    assert "form-action 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/a/" in cookie
    assert "<script" not in response.get_data(as_text=True)


# --- reschedule, cancel -----------------------------------------------------------------------

def test_reschedule_renders_the_new_message_and_tells_upstream(
    app: Flask, client: FlaskClient, answer: dict[str, Any]
) -> None:
    form = open_form(client, actions(answer)["reschedule"]["url"])
    response = submit(client, form, slot=SLOT_2)
    moved = new_message_id(response)

    # The confirmation: the new message's own page, with the new time and its invite.
    page = text_of(get_page(client, response.headers["Location"]).get_data(as_text=True))
    assert "Your appointment has moved" in page
    assert "Tuesday, March 18, 2031" in page and "2:00 – 2:30 PM" in page
    document = client.get(f"/v1/messages/{moved}").json
    assert document["outputs"]["email"]["subject"].startswith("New time: Savings plan check-up")
    assert document["outputs"]["ics"] | {"url": None} == {
        "url": None, "uid": "apt-1002@demo-bank.touchpoint", "sequence": 1, "method": "REQUEST"}
    # The new invite, read by a second parser: same UID, SEQUENCE + 1, the new time in UTC.
    event = invite(client, moved).vevent
    assert (event.uid.value, int(event.sequence.value)) == ("apt-1002@demo-bank.touchpoint", 1)
    assert event.dtstart.value.astimezone(UTC) == datetime(2031, 3, 18, 13, tzinfo=UTC)
    # The rescheduled message still offers what is left: the other slot, and cancel.
    assert set(actions(document)) >= {"reschedule", "cancel", "add_to_calendar"}
    assert open_form(client, actions(document)["reschedule"]["url"]).slots == [SLOT_1]

    row = state(app)
    assert (row.status, row.start, row.sequence, row.changed_by, row.message_id) == (
        "confirmed", SLOT_2, 1, "customer", moved)
    assert row.taken_slot == {"start": SLOT_2, "end": "2031-03-18T14:30:00"}
    assert [b.starts_at for b in rows(app, SlotBooking)] == ["20310318T130000Z"]
    # The archive records the action on the message the customer acted from.
    activity = client.get(f"/v1/messages/{answer['id']}/activity").json
    [action] = activity["actions"]
    assert action["kind"] == "rescheduled"
    assert action["detail"]["new_message_id"] == moved
    assert action["detail"]["previous"] == {"start": "2031-03-14T10:00:00", "end": "2031-03-14T10:30:00",
                                            "status": "confirmed"}
    [webhook] = activity["webhooks"]
    assert (webhook["type"], webhook["status"], webhook["url"]) == (
        "appointment.rescheduled", "pending", "https://upstream.example/hooks/appointments")
    assert client.get(f"/v1/messages/{moved}/activity").json["webhooks"] == [webhook]


@pytest.mark.parametrize(("locale", "told", "download"), [
    ("en-GB", "Here is the new time you chose. We are letting Demo Bank know. To update your calendar, "
              "open the new invitation: it replaces the old one.", "Download the new invitation"),
    ("nl-BE", "Hier is het nieuwe tijdstip dat u koos. We laten het Demo Bank weten. Open de nieuwe "
              "uitnodiging om uw agenda bij te werken: ze vervangt de oude.",
     "Nieuwe uitnodiging downloaden"),
])
def test_the_confirmation_says_what_happens_and_offers_the_new_invite(
    client: FlaskClient, locale: str, told: str, download: str
) -> None:
    answer = render(client, appointment() | {"locale": locale})
    response = submit(client, open_form(client, actions(answer)["reschedule"]["url"]), slot=SLOT_2)
    new_message_id(response)
    page = get_page(client, response.headers["Location"]).get_data(as_text=True)
    assert told in text_of(page)
    assert "updated too" not in page and "bijgewerkt" not in page  # nothing was sent to a calendar
    # The first button downloads the new invite: METHOD:REQUEST, same UID, a higher SEQUENCE,
    # the chosen time (parsed by icalendar).
    [(first, label)] = re.findall(r'<nav class="c-buttons"[^>]*>\s*<a class="c-button c-button--primary" '
                                  r'href="([^"]+)">([^<]+)</a>', page)
    assert label == download
    downloaded = get_page(client, html.unescape(first))
    assert downloaded.status_code == 200 and downloaded.mimetype == "text/calendar"
    assert downloaded.headers["Content-Disposition"].startswith("attachment")
    calendar = icalendar.Calendar.from_ical(downloaded.get_data())
    [event] = calendar.walk("VEVENT")
    assert str(calendar["METHOD"]) == "REQUEST"
    assert str(event["UID"]) == answer["outputs"]["ics"]["uid"] == "apt-1002@demo-bank.touchpoint"
    assert int(event["SEQUENCE"]) == answer["outputs"]["ics"]["sequence"] + 1 == 1
    assert event.decoded("DTSTART").astimezone(UTC) == datetime(2031, 3, 18, 13, tzinfo=UTC)


def test_a_move_upstream_made_does_not_say_the_customer_chose_it(client: FlaskClient,
                                                                  answer: dict[str, Any]) -> None:
    moved = render(client, appointment(stage="rescheduled", start="2031-03-18T14:00:00",
                                       end="2031-03-18T14:30:00"))
    page = text_of(get_page(client, moved["outputs"]["web"]["url"]).get_data(as_text=True))
    assert "Here is the new time. To update your calendar, open the new invitation" in page
    assert "you chose" not in page and "We are letting" not in page


def test_the_customers_archive_lists_what_they_did(client: FlaskClient, answer: dict[str, Any]) -> None:
    moved = new_message_id(submit(client, open_form(client, actions(answer)["reschedule"]["url"]),
                                  slot=SLOT_2))
    response = client.get("/v1/customers/c-1002/messages")
    assert response.status_code == 200, response.get_data(as_text=True)
    listed = {item["id"]: item for item in json.loads(response.get_data(as_text=True))["items"]}
    assert set(listed) == {answer["id"], moved}
    [action] = [a for a in listed[answer["id"]]["actions"] if a["kind"] == "rescheduled"]
    # The same object as /activity shows.
    assert action["detail"]["new_message_id"] == moved and action["detail"]["start"] == SLOT_2
    activity = client.get(f"/v1/messages/{answer['id']}/activity").json
    assert [a["detail"] for a in activity["actions"]] == [action["detail"]]


def test_activity_follows_the_appointment_across_its_messages(
    app: Flask, client: FlaskClient, answer: dict[str, Any]
) -> None:
    moved = new_message_id(submit(client, open_form(client, actions(answer)["reschedule"]["url"]),
                                  slot=SLOT_2))
    moved_document = client.get(f"/v1/messages/{moved}").json
    cancelled = new_message_id(submit(client, open_form(client, actions(moved_document)["cancel"]["url"])))

    # The first message, the rescheduled one and the cancellation each tell the whole history.
    seen = {message_id: client.get(f"/v1/messages/{message_id}/activity").json
            for message_id in (answer["id"], moved, cancelled)}
    for message_id, activity in seen.items():
        assert activity["id"] == message_id
        assert activity["messages"] == [answer["id"], moved, cancelled]
        assert [(a["kind"], a["message_id"], a["detail"]["new_message_id"]) for a in activity["actions"]] == [
            ("rescheduled", answer["id"], moved), ("cancelled", moved, cancelled)]
        assert [(w["type"], w["message_id"], w["result_message_id"]) for w in activity["webhooks"]] == [
            ("appointment.rescheduled", answer["id"], moved), ("appointment.cancelled", moved, cancelled)]

    # Another brand's key finds none of them; a key of the appointment's brand sees it all.
    others = app.test_client(key=add_key(app, "coffee", brands=["demo-coffee"]))
    bank = app.test_client(key=add_key(app, "bank", brands=["demo-bank"]))
    for message_id in seen:
        assert others.get(f"/v1/messages/{message_id}/activity").status_code == 404
        assert bank.get(f"/v1/messages/{message_id}/activity").json == seen[message_id]


def test_cancel_sends_method_cancel_with_the_next_sequence(
    app: Flask, client: FlaskClient, answer: dict[str, Any]
) -> None:
    form = open_form(client, actions(answer)["cancel"]["url"])
    assert "Cancel this appointment?" in text_of(form.page)
    cancelled = new_message_id(submit(client, form))
    calendar = invite(client, cancelled)
    assert calendar.method.value == "CANCEL"
    event = calendar.vevent
    assert (event.uid.value, int(event.sequence.value)) == ("apt-1002@demo-bank.touchpoint", 1)
    assert calendar.vevent.status.value == "CANCELLED"
    document = client.get(f"/v1/messages/{cancelled}").json
    assert document["outputs"]["email"]["subject"].startswith("Cancelled: Savings plan check-up")
    assert not {"reschedule", "cancel", "add_to_calendar"} & set(actions(document))
    assert state(app).status == "cancelled"
    activity = client.get(f"/v1/messages/{answer['id']}/activity").json
    assert [a["kind"] for a in activity["actions"]] == ["cancelled"]
    assert [w["type"] for w in activity["webhooks"]] == ["appointment.cancelled"]
    # The page now says there is nothing left to change, and links the appointment.
    page = get_page(client, actions(answer)["reschedule"]["url"])
    assert page.status_code == 200
    assert "Your appointment is cancelled" in text_of(page.get_data(as_text=True))


BOOKING_URL = "https://bank.example/appointments"  # demo-bank's brand.json


@pytest.mark.parametrize(("locale", "sentence", "link", "button"), [
    ("en-GB", "You can make a new appointment at any time: book online", "book online",
     "Make a new appointment"),
    ("nl-BE", "U kunt op elk moment een nieuwe afspraak maken: online boeken", "online boeken",
     "Nieuwe afspraak maken"),
])
def test_the_cancel_page_links_the_brands_booking_page(client: FlaskClient, locale: str, sentence: str,
                                                       link: str, button: str) -> None:
    answer = render(client, appointment() | {"locale": locale})
    form = open_form(client, actions(answer)["cancel"]["url"])
    assert sentence in text_of(form.page)
    assert f'<a href="{BOOKING_URL}">{link}</a>' in form.page
    # The confirmation (the cancelled message's page) and the email offer the way to a new one.
    response = submit(client, form)
    new_message_id(response)
    page = get_page(client, response.headers["Location"]).get_data(as_text=True)
    assert re.search(rf'<a class="c-button[^"]*" href="{re.escape(BOOKING_URL)}">{button}</a>', page)
    # Opened again, the cancel page says it is cancelled, and still where to book.
    closed = text_of(get_page(client, actions(answer)["cancel"]["url"]).get_data(as_text=True))
    assert sentence in closed


def test_without_a_booking_page_nothing_promises_a_new_appointment(tmp_path: Path) -> None:
    application = share_templates(make_app({**_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"),
                                            "BRANDS_DIR": str(brands_with(tmp_path, booking_url=None))}))
    client = application.test_client()
    try:
        answer = render(client, appointment() | {"locale": "nl-BE"})
        form = open_form(client, actions(answer)["cancel"]["url"])
        response = submit(client, form)
        confirmation = get_page(client, response.headers["Location"]).get_data(as_text=True)
        closed = text_of(get_page(client, actions(answer)["cancel"]["url"]).get_data(as_text=True))
    finally:
        application.extensions["touchpoint.engine"].dispose()
    assert "We laten het Demo Bank meteen weten." in text_of(form.page)
    for page in (form.page, confirmation, closed):
        assert "nieuwe afspraak maken" not in text_of(page).lower() and BOOKING_URL not in page
    assert "Neem contact met ons op voor een nieuwe afspraak." in closed


# --- never a second booking -------------------------------------------------------------------

def test_a_double_submit_books_once_and_answers_the_booking(
    app: Flask, client: FlaskClient, answer: dict[str, Any]
) -> None:
    form = open_form(client, actions(answer)["reschedule"]["url"])
    first = submit(client, form, slot=SLOT_2)
    again = submit(client, form, slot=SLOT_2)
    # The same message again (its link's signature carries the second it was signed in).
    assert new_message_id(again) == new_message_id(first)
    assert count(app, AppointmentChange) == 2  # created, rescheduled
    assert count(app, WebhookDelivery) == 1 and count(app, SlotBooking) == 1
    assert state(app).sequence == 1


def test_a_double_cancel_cancels_once(app: Flask, client: FlaskClient, answer: dict[str, Any]) -> None:
    form = open_form(client, actions(answer)["cancel"]["url"])
    first, again = submit(client, form), submit(client, form)
    assert new_message_id(again) == new_message_id(first)
    assert count(app, WebhookDelivery) == 1 and state(app).sequence == 1


def test_a_stale_page_gets_the_appointment_as_it_now_stands(
    app: Flask, client: FlaskClient, answer: dict[str, Any]
) -> None:
    url = actions(answer)["reschedule"]["url"]
    stale, fresh = open_form(client, url), open_form(client, url)
    new_message_id(submit(client, fresh, slot=SLOT_2))
    response = submit(client, stale, slot=SLOT_1)
    assert response.status_code == 409
    text = text_of(response.get_data(as_text=True))
    assert "Your appointment changed after you opened this page." in text
    assert "Tuesday, March 18, 2031" in text  # where it now stands
    assert state(app).start == SLOT_2 and count(app, WebhookDelivery) == 1
    # The page it answers is a fresh one: choosing again works.
    retry = open_form(client, url)
    assert retry.sequence == "1" and retry.slots == [SLOT_1]
    assert new_message_id(submit(client, retry, slot=SLOT_1))
    assert state(app).sequence == 2


def _same_advisor_twice(client: FlaskClient) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two customers of one advisor, each offered the same free slot."""
    first = render(client, appointment())
    other = appointment(appointment_id="apt-2002", start="2031-03-14T11:00:00", end="2031-03-14T11:30:00")
    other["recipient"] = {"name": {"given": "Ann"}, "email": "ann@example.com"}
    return first, render(client, other)


def test_a_slot_taken_by_another_customer_is_a_clear_answer(app: Flask, client: FlaskClient) -> None:
    first, second = _same_advisor_twice(client)
    late = open_form(client, actions(second)["reschedule"]["url"])
    assert late.slots == [SLOT_1, SLOT_2]
    new_message_id(submit(client, open_form(client, actions(first)["reschedule"]["url"]), slot=SLOT_2))
    # Now shown as gone, and refused when sent from a page opened before.
    assert open_form(client, actions(second)["reschedule"]["url"]).slots == [SLOT_1]
    response = submit(client, late, slot=SLOT_2)
    assert response.status_code == 409
    assert "Someone else took that time a moment ago." in text_of(response.get_data(as_text=True))
    assert state(app, "apt-2002").start == "2031-03-14T11:00:00"


def _overtaken(monkeypatch: pytest.MonkeyPatch, overtake: Any) -> list[Any]:
    """Make the next change lose a race: after it read the state and rendered, just before it
    stores, `overtake()` runs and commits first. Only the database's constraints can see it."""
    real_write_files = archive.write_files
    done: list[Any] = []
    started: list[bool] = []

    def write_files(*args: Any, **kwargs: Any) -> Any:
        if not started:  # once: the overtaking request itself stores as usual
            started.append(True)
            # Another thread: its own app context, session and connection, as a second
            # request to the service would have.
            rival = threading.Thread(target=lambda: done.append(overtake()))
            rival.start()
            rival.join(timeout=60)
        return real_write_files(*args, **kwargs)

    monkeypatch.setattr(archive, "write_files", write_files)
    return done


def test_a_double_submit_racing_itself_books_once(any_client: FlaskClient,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    app = any_client.application
    answer = render(any_client, appointment())
    form = open_form(any_client, actions(answer)["reschedule"]["url"])
    messages = count(app, Message)
    first = _overtaken(monkeypatch, lambda: submit(any_client, form, slot=SLOT_2))
    late = submit(any_client, form, slot=SLOT_2)   # lost on unique (appointment, SEQUENCE)
    # The loser answers with the winner's booking: one change, one message, one webhook.
    assert new_message_id(late) == new_message_id(first[0])
    assert count(app, Message) == messages + 1
    assert (count(app, AppointmentChange), count(app, WebhookDelivery), count(app, SlotBooking)) == (2, 1, 1)
    assert state(app).sequence == 1


def test_two_customers_racing_for_one_slot_book_it_once(any_client: FlaskClient,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    app = any_client.application
    first, second = _same_advisor_twice(any_client)
    mine = open_form(any_client, actions(first)["reschedule"]["url"])
    theirs = open_form(any_client, actions(second)["reschedule"]["url"])
    messages = count(app, Message)
    won = _overtaken(monkeypatch, lambda: submit(any_client, mine, slot=SLOT_2))
    lost = submit(any_client, theirs, slot=SLOT_2)  # lost on unique (brand, advisor, start)
    assert new_message_id(won[0])
    assert lost.status_code == 409
    assert "Someone else took that time a moment ago." in text_of(lost.get_data(as_text=True))
    assert count(app, Message) == messages + 1 and count(app, WebhookDelivery) == 1
    assert (state(app).start, state(app, "apt-2002").start) == (SLOT_2, "2031-03-14T11:00:00")
    # The loser's page again, as it now stands: the slot is gone, the other one is there.
    assert open_form(any_client, actions(second)["reschedule"]["url"]).slots == [SLOT_1]


def test_a_slot_that_has_passed_is_not_offered_and_not_taken(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    document = appointment(start="2031-03-20T10:00:00", end="2031-03-20T10:30:00")
    answer = render(client, document)
    form = open_form(client, actions(answer)["reschedule"]["url"])
    assert form.slots == [SLOT_1, SLOT_2]
    set_clock(monkeypatch, datetime(2031, 3, 17, 12, tzinfo=UTC))  # SLOT_1 is over
    assert open_form(client, actions(answer)["reschedule"]["url"]).slots == [SLOT_2]
    response = submit(client, form, slot=SLOT_1)
    assert response.status_code == 409
    assert "That time is no longer available." in text_of(response.get_data(as_text=True))
    assert state(app).sequence == 0


@pytest.mark.parametrize("slot", ["2031-03-19T09:00:00", "2031-03-14T10:00:00", "not-a-time", ""])
def test_a_slot_that_was_not_offered_is_refused(app: Flask, client: FlaskClient,
                                                answer: dict[str, Any], slot: str) -> None:
    form = open_form(client, actions(answer)["reschedule"]["url"])
    response = submit(client, form, slot=slot)
    assert response.status_code in {409, 422}
    assert state(app).sequence == 0 and count(app, WebhookDelivery) == 0


# --- tokens and forms -------------------------------------------------------------------------

TAMPER = {
    "payload-changed": lambda token: ("A" if token[0] != "A" else "B") + token[1:],
    "signature-cut": lambda token: token.rsplit(".", 1)[0],
    "garbage": lambda token: "not-a-token",
}


@pytest.mark.parametrize("action", ["reschedule", "cancel"])
@pytest.mark.parametrize("tamper", TAMPER.values(), ids=TAMPER.keys())
def test_a_tampered_token_is_a_404_page(client: FlaskClient, answer: dict[str, Any],
                                        action: str, tamper: Any) -> None:
    token = path(actions(answer)[action]["url"]).split("/")[2]
    for method in (client.get, client.post):
        response = method(f"/a/{tamper(token)}/{action}")
        assert response.status_code == 404
        assert response.mimetype == "text/html"
        assert "does not work" in response.get_data(as_text=True)


def test_a_web_token_is_not_an_action_token(client: FlaskClient, answer: dict[str, Any]) -> None:
    web_token = path(answer["outputs"]["web"]["url"]).split("/")[2]
    assert client.get(f"/a/{web_token}/reschedule").status_code == 404
    with client.application.test_request_context():
        other_purpose = sign_id("web", answer["id"])
    assert client.get(f"/a/{other_purpose}/cancel").status_code == 404


def test_an_expired_token_is_a_410_page_that_says_what_to_do(
    client: FlaskClient, answer: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = path(actions(answer)["reschedule"]["url"])
    set_clock(monkeypatch, datetime(2031, 3, 14, 9, 0, tzinfo=UTC))  # the appointment begins
    for response in (client.get(url), client.post(url, data={"slot": SLOT_1})):
        assert response.status_code == 410
        page = response.get_data(as_text=True)
        assert "expired" in page and "most recent message" in page and "contact us" in page


def test_a_token_past_the_link_lifetime_is_410(client: FlaskClient, answer: dict[str, Any]) -> None:
    client.application.config["WEB_LINK_MAX_AGE"] = -1
    assert client.get(path(actions(answer)["cancel"]["url"])).status_code == 410


def test_a_token_for_a_message_that_is_no_appointment_is_404(client: FlaskClient) -> None:
    invoice = render(client, load_fixture("invoice/capsules-nl"))
    with client.application.test_request_context():
        token = action_token(invoice["id"], datetime.now(UTC) + timedelta(days=1))
    assert client.get(f"/a/{token}/reschedule").status_code == 404


@pytest.mark.parametrize("case", ["no-token", "no-cookie", "forged", "other-action"])
def test_a_post_without_the_pages_csrf_token_is_refused(
    app: Flask, client: FlaskClient, answer: dict[str, Any], case: str
) -> None:
    form = open_form(client, actions(answer)["reschedule"]["url"])
    fields = form.fields(slot=SLOT_2)
    if case == "no-token":
        del fields["csrf"]
    elif case == "no-cookie":
        client.delete_cookie("tp_form", path="/a/")
    elif case == "forged":
        # The signature's first character: all six of its bits count (the last one's may not).
        signed, signature = fields["csrf"].rsplit(".", 1)
        fields["csrf"] = f"{signed}.{'A' if signature[0] != 'A' else 'B'}{signature[1:]}"
    else:
        fields["csrf"] = open_form(client, actions(answer)["cancel"]["url"]).csrf
    response = client.post(form.url, data=fields)
    assert response.status_code == 403
    text = text_of(response.get_data(as_text=True))
    assert "This form could not be sent" in text and "Nothing was changed." in text
    assert state(app).sequence == 0 and count(app, WebhookDelivery) == 0


def test_a_form_from_another_messages_page_is_refused(app: Flask, client: FlaskClient) -> None:
    first, second = _same_advisor_twice(client)
    mine = open_form(client, actions(first)["reschedule"]["url"])
    theirs = open_form(client, actions(second)["reschedule"]["url"])
    response = client.post(theirs.url, data=mine.fields(slot=SLOT_1))
    assert response.status_code == 403
    assert state(app, "apt-2002").sequence == 0 and count(app, WebhookDelivery) == 0


# --- the message always shows the current state -----------------------------------------------

def test_an_old_message_shows_the_appointment_as_it_now_stands(
    client: FlaskClient, answer: dict[str, Any]
) -> None:
    old_page = answer["outputs"]["web"]["url"]
    before = get_page(client, old_page).get_data(as_text=True)
    assert "has changed since" not in before
    new_message_id(submit(client, open_form(client, actions(answer)["reschedule"]["url"]), slot=SLOT_2))

    after = text_of(get_page(client, old_page).get_data(as_text=True))
    assert "This appointment has changed since this message was sent." in after
    assert "It now takes place on Tuesday, March 18, 2031" in after
    assert "Your appointment has moved" in after  # the newest message's page follows
    # Its invite link gives the newest invite, so a calendar updates instead of going back.
    calendar = vobject.readOne(get_page(client, f"{old_page}/invite.ics").get_data(as_text=True))
    assert int(calendar.vevent.sequence.value) == 1
    # The API keeps every message as it was made.
    stored = client.get(f"/v1/messages/{answer['id']}/page.html", buffered=True).get_data(as_text=True)
    assert "has changed since" not in stored

    new_message_id(submit(client, open_form(client, actions(answer)["cancel"]["url"])))
    cancelled = text_of(get_page(client, old_page).get_data(as_text=True))
    assert "This appointment was cancelled after this message was sent." in cancelled
    assert get_page(client, f"{old_page}/invite.ics").get_data(as_text=True).count("METHOD:CANCEL") == 1


def test_a_reminder_after_a_change_is_not_a_change(client: FlaskClient, answer: dict[str, Any]) -> None:
    # Upstream's reminder for the same time: SEQUENCE stays, the confirmation stays current.
    reminder = render(client, appointment())
    assert reminder["outputs"]["ics"]["sequence"] == 0
    assert "has changed since" not in get_page(client, answer["outputs"]["web"]["url"]).get_data(as_text=True)


def test_links_stop_changing_what_upstream_would_not_hear_of(app: Flask, client: FlaskClient,
                                                              answer: dict[str, Any]) -> None:
    form = open_form(client, actions(answer)["cancel"]["url"])
    # Upstream's newest request for the appointment gives no callback_url any more.
    render(client, appointment(reschedule={"slots": []}))
    page = get_page(client, actions(answer)["reschedule"]["url"])
    assert "can no longer be changed online" in text_of(page.get_data(as_text=True))
    assert submit(client, form).status_code == 409
    assert state(app).status == "confirmed" and count(app, WebhookDelivery) == 0


def test_upstream_hears_when_its_own_request_is_behind_the_customer(
    client: FlaskClient, answer: dict[str, Any]
) -> None:
    new_message_id(submit(client, open_form(client, actions(answer)["reschedule"]["url"]), slot=SLOT_2))
    # Upstream, not yet aware (data.sequence 0), sends the old time again.
    again = render(client, appointment())
    assert again["outputs"]["ics"]["sequence"] == 2
    [warning] = [w for w in again["warnings"] if "customer changed" in w]
    assert "SEQUENCE 1" in warning and SLOT_2 in warning


# --- bad input to POST /v1/render -------------------------------------------------------------

def _problem(client: FlaskClient, document: dict[str, Any]) -> list[dict[str, str]]:
    response = client.post("/v1/render", json=document)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.json["errors"]  # type: ignore[index]


def _slots(*pairs: tuple[str, str]) -> dict[str, Any]:
    return {"slots": [{"start": s, "end": e} for s, e in pairs],
            "callback_url": "https://upstream.example/hooks"}


BAD = {
    "callback-http": ({"reschedule": {"callback_url": "http://upstream.example/hooks"}},
                      "data.reschedule.callback_url", "https://"),
    "callback-ftp": ({"reschedule": {"callback_url": "ftp://upstream.example/hooks"}},
                     "data.reschedule.callback_url", "https://"),
    "callback-credentials": ({"reschedule": {"callback_url": "https://me:secret@upstream.example/"}},
                             "data.reschedule.callback_url", "user name"),
    "callback-no-host": ({"reschedule": {"callback_url": "https:///hooks"}},
                         "data.reschedule.callback_url", "host"),
    "callback-bad-port": ({"reschedule": {"callback_url": "https://upstream.example:99999/"}},
                          "data.reschedule.callback_url", "URL"),
    "slot-in-the-past": ({"reschedule": _slots(("2020-01-06T10:00:00", "2020-01-06T10:30:00"))},
                         "data.reschedule.slots[0].start", "past"),
    "slot-end-before-start": ({"reschedule": _slots(("2031-03-17T10:00:00", "2031-03-17T09:30:00"))},
                              "data.reschedule.slots[0].end", "after"),
    "slots-overlap": ({"reschedule": _slots(("2031-03-17T09:00:00", "2031-03-17T10:00:00"),
                                            ("2031-03-17T09:30:00", "2031-03-17T10:30:00"))},
                      "data.reschedule.slots[1]", "overlaps"),
    "end-before-start": ({"end": "2031-03-14T09:00:00"}, "data.end", "after"),
    "zone-not-iana": ({"timezone": "CET+1"}, "data.timezone", "IANA"),
}


@pytest.mark.parametrize(("change", "field", "words"), BAD.values(), ids=BAD.keys())
def test_bad_appointment_input_names_the_field(app: Flask, client: FlaskClient, change: dict[str, Any],
                                               field: str, words: str) -> None:
    errors = _problem(client, appointment(**change))
    assert [error["path"] for error in errors] == [field], errors
    assert words in errors[0]["message"]
    assert count(app, Appointment) == 0


def test_an_http_callback_is_allowed_only_by_the_development_setting(client: FlaskClient) -> None:
    document = appointment(reschedule=_slots((SLOT_1, "2031-03-17T09:30:00"))
                           | {"callback_url": "http://127.0.0.1:9/hooks"})
    assert "WEBHOOK_ALLOW_HTTP" in _problem(client, document)[0]["message"]
    client.application.config.update(WEBHOOK_ALLOW_HTTP=True, OUTBOUND_ALLOW_HOSTS=["127.0.0.1"])
    assert set(actions(render(client, document))) >= {"reschedule", "cancel"}


def test_the_action_links_read_whole_in_the_plain_text(client: FlaskClient, answer: dict[str, Any]) -> None:
    # What the action links look like in plain text: whole, one per line, nothing escaped.
    text = answer["outputs"]["email"]["text"]
    lines = [line for line in text.splitlines() if "/a/" in line]
    assert [re.sub(r"https?://\S+", "URL", line) for line in lines] == [
        "Choose another time: URL", "Cancel the appointment: URL"]
    assert all("&amp;" not in line for line in lines)
