"""Customers in control: the preference centre (/p), one-click unsubscribe (/u, RFC 8058), the
List-Unsubscribe headers, the why line, and what a change does to the next render and upstream."""

from __future__ import annotations

import email
import json
import re
import shutil
from datetime import timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from standardwebhooks.webhooks import Webhook

from app.http import preferences as preference_pages
from app.store import session
from app.store.models import PreferenceChange
from tests.conftest import PUBLIC_BASE_URL, ROOT, Receiver, _config, fixture_paths, load_fixture, make_app
from tests.webhooks.helpers import SECRET, configure, deliver, signature_holds

CROSS_SELL = "invoice/cross-sell-arpeggia-en"
FIXTURES = [f"{path.parent.name}/{path.stem}" for path in fixture_paths()]


def render(client: FlaskClient, fixture: str | dict[str, Any], channels: tuple[str, ...] = ("email", "web"),
           ) -> dict[str, Any]:
    document = load_fixture(fixture) if isinstance(fixture, str) else fixture
    document["channels"] = list(channels)
    response = client.post("/v1/render", json=document)
    assert response.status_code == 201, response.json
    return response.json


def local(url: str) -> str:
    assert url.startswith(PUBLIC_BASE_URL)
    return url.removeprefix(PUBLIC_BASE_URL)


def unsubscribe_path(answer: dict[str, Any]) -> str:
    header = answer["outputs"]["email"]["headers"]["List-Unsubscribe"]
    return local(re.search(r"<(https?://[^>]+/u/[^>]+)>", header).group(1))


def preferences_path(answer: dict[str, Any]) -> str:
    return local(re.search(r'href="([^"]+/p/[^"]+)"', answer["outputs"]["email"]["html"]).group(1))


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)


def page_of(client: FlaskClient, url: str) -> str:
    """A stored page's HTML (the response closed, its file with it)."""
    with client.get(local(url)) as response:
        return response.get_data(as_text=True)


def profile(client: FlaskClient, customer_id: str) -> dict[str, Any]:
    return client.get(f"/v1/profiles/{customer_id}").json


# --- the headers and the footer ---------------------------------------------------------------

@pytest.mark.parametrize("fixture", FIXTURES)
def test_the_headers_appear_exactly_when_blocks_do(client: FlaskClient, fixture: str) -> None:
    answer = render(client, fixture, ("email",))
    headers = answer["outputs"]["email"]["headers"]
    blocks = answer["personalisation"]["blocks"]
    with client.get(f"/v1/messages/{answer['id']}/email.eml") as fetched:
        eml = email.message_from_bytes(fetched.data, policy=policy.default)
    if blocks:
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        pattern = r"<http://touchpoint\.test/u/[^>]+>(, <mailto:[^>]+>)?"
        assert re.fullmatch(pattern, headers["List-Unsubscribe"])
        assert eml["List-Unsubscribe"] == headers["List-Unsubscribe"]
        assert eml["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    else:
        assert headers == {}
        assert eml["List-Unsubscribe"] is None and eml["List-Unsubscribe-Post"] is None
    # Every message links its preference centre, blocks or not.
    assert "/p/" in answer["outputs"]["email"]["html"] and "/p/" in answer["outputs"]["email"]["text"]


@pytest.mark.parametrize("preferences", [
    {"unsubscribed": {"demo-coffee": "2026-11-01T08:00:00Z"}},
    {"topics_off": ["capsules", "machines", "maintenance", "celebrations", "sustainability", "workshops"]},
])
def test_an_email_without_blocks_has_no_unsubscribe_headers(client: FlaskClient,
                                                            preferences: dict[str, Any]) -> None:
    document = load_fixture(CROSS_SELL)
    document["recipient"]["preferences"] = preferences
    answer = render(client, document, ("email",))
    assert answer["personalisation"]["blocks"] == [] and answer["outputs"]["email"]["headers"] == {}
    with client.get(f"/v1/messages/{answer['id']}/email.eml") as fetched:
        eml = email.message_from_bytes(fetched.data, policy=policy.default)
    assert eml["List-Unsubscribe"] is None and eml["List-Unsubscribe-Post"] is None
    assert "/p/" in answer["outputs"]["email"]["html"]  # the preference centre is still linked


def test_the_mailto_is_there_when_the_brand_names_an_address(client: FlaskClient) -> None:
    header = render(client, CROSS_SELL)["outputs"]["email"]["headers"]["List-Unsubscribe"]
    assert header.endswith(", <mailto:unsubscribe@coffee.example?subject=unsubscribe>")


def test_links_show_no_customer_or_message_id(client: FlaskClient) -> None:
    answer = render(client, CROSS_SELL)
    customer_id = load_fixture(CROSS_SELL)["recipient"]["customer_id"]
    for path in (unsubscribe_path(answer), preferences_path(answer)):
        assert customer_id not in path and answer["id"] not in path and "msg_" not in path


def test_each_block_says_why_from_its_trace(client: FlaskClient) -> None:
    answer = render(client, CROSS_SELL)
    assert [block["reason"] for block in answer["personalisation"]["blocks"]] == ["complements:arpeggia"] * 2
    html = answer["outputs"]["email"]["html"]
    assert html.count("Because you bought Arpeggia capsules in October.") == 2
    page = page_of(client, answer["outputs"]["web"]["url"])
    assert page.count('class="c-offer__why">Because you bought Arpeggia capsules in October.') == 2
    assert "Manage what you receive" in page


def test_the_why_line_speaks_the_message_language(client: FlaskClient) -> None:
    document = load_fixture(CROSS_SELL)
    document["locale"] = "de-BE"
    html = render(client, document)["outputs"]["email"]["html"]
    assert "Weil Sie im Oktober Arpeggia-Kapseln gekauft haben." in html


# --- one-click unsubscribe --------------------------------------------------------------------

def test_one_click_post_without_cookies_unsubscribes_and_the_next_render_has_no_blocks(
    app: Flask, client: FlaskClient,
) -> None:
    document = load_fixture(CROSS_SELL)
    first = render(client, document)
    path = unsubscribe_path(first)
    assert app.test_client(key=None).get(path).status_code == 200  # a GET changes nothing
    assert render(client, load_fixture(CROSS_SELL))["personalisation"]["blocks"]

    mail_client = app.test_client(key=None)  # no key, no cookie: as a mail client posts
    answered = mail_client.post(path, data="List-Unsubscribe=One-Click",
                                content_type="application/x-www-form-urlencoded")
    assert answered.status_code == 200
    assert "Cookie" not in answered.request.headers  # none was sent
    again = mail_client.post(path, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200  # idempotent

    after = render(client, load_fixture(CROSS_SELL))
    assert after["personalisation"]["blocks"] == []
    day = after["created"][:10]
    assert {entry["reason"] for entry in after["personalisation"]["suppressed"]} == {f"unsubscribed:{day}"}
    assert after["outputs"]["email"]["headers"] == {}
    assert "data-offer=" not in page_of(client, after["outputs"]["web"]["url"])
    # Transactional content keeps rendering.
    assert "Amount due" in after["outputs"]["email"]["text"]
    with app.app_context():
        changes = session().query(PreferenceChange).all()
    assert [change.source for change in changes] == ["one_click"]  # the second POST wrote nothing


def test_the_confirmation_page_offers_an_undo_that_needs_the_page_token(app: Flask,
                                                                        client: FlaskClient) -> None:
    path = unsubscribe_path(render(client, CROSS_SELL))
    browser = app.test_client(key=None)
    done = browser.post(path, data={"List-Unsubscribe": "One-Click"}).get_data(as_text=True)
    assert "You are unsubscribed" in done and 'name="undo"' in done and "/p/" in done
    page = browser.get(path).get_data(as_text=True)
    assert "You are unsubscribed" in page
    # Without the page's token (another site's form), the undo is refused.
    assert app.test_client(key=None).post(path, data={"undo": "1"}).status_code == 403
    undone = browser.post(path, data={"undo": "1", "csrf": csrf_of(page)})
    assert undone.status_code == 200 and "Suggestions are on again." in undone.get_data(as_text=True)
    assert render(client, CROSS_SELL)["personalisation"]["blocks"]


def test_a_post_that_is_not_one_click_changes_nothing(app: Flask, client: FlaskClient) -> None:
    path = unsubscribe_path(render(client, CROSS_SELL))
    assert app.test_client(key=None).post(path, data={"something": "else"}).status_code == 400
    assert render(client, CROSS_SELL)["personalisation"]["blocks"]


# --- the preference centre ----------------------------------------------------------------------

def test_the_centre_shows_what_is_received_and_why(app: Flask, client: FlaskClient) -> None:
    page = app.test_client(key=None).get(preferences_path(render(client, CROSS_SELL)))
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert "What you receive from Demo Coffee" in html
    for always in ("Invoices", "Bills", "Appointment confirmations and changes"):
        assert f"<li>{always}</li>" in html
    assert "Capsules: blends that go with what you drink" in html  # the brand's topic line
    assert html.count('role="switch"') == 2 + 6  # suggestions, marketing, six topics
    assert 'name="marketing" checked' in html


def test_a_saved_change_applies_to_the_next_render_with_its_audit(app: Flask, client: FlaskClient) -> None:
    first = render(client, CROSS_SELL)
    browser = app.test_client(key=None)
    path = preferences_path(first)
    token = csrf_of(browser.get(path).get_data(as_text=True))
    # Everything on but the capsules topic.
    topics = ["machines", "maintenance", "celebrations", "sustainability", "workshops"]
    saved = browser.post(path, data={"csrf": token, "suggestions": "on", "marketing": "on",
                                     "topic": topics, "channel": ["email", "sms"]})
    assert saved.status_code == 200 and "Your choices are saved." in saved.get_data(as_text=True)
    customer_id = load_fixture(CROSS_SELL)["recipient"]["customer_id"]
    assert profile(client, customer_id)["preferences"]["topics_off"] == ["capsules"]
    after = render(client, CROSS_SELL)
    assert {e["reason"] for e in after["personalisation"]["suppressed"]} >= {"topic_off:capsules"}
    activity = client.get(f"/v1/messages/{first['id']}/activity").json
    [note] = activity["actions"]
    assert note["kind"] == "preferences_changed" and note["detail"]["source"] == "preference_centre"
    # No profile was stored: the consent the customer saw (the message's own) is now theirs, stored.
    assert note["detail"]["changes"] == {"consents.marketing": {"from": None, "to": True},
                                         "preferences.topics_off": {"from": [], "to": ["capsules"]}}
    # The same form again: nothing changed, nothing written.
    token = csrf_of(browser.get(path).get_data(as_text=True))
    same = browser.post(path, data={"csrf": token, "suggestions": "on", "marketing": "on",
                                    "topic": topics, "channel": ["email", "sms"]})
    assert "Nothing changed." in same.get_data(as_text=True)
    assert len(client.get(f"/v1/messages/{first['id']}/activity").json["actions"]) == 1


def test_a_save_without_the_page_token_is_refused(app: Flask, client: FlaskClient) -> None:
    path = preferences_path(render(client, CROSS_SELL))
    refused = app.test_client(key=None).post(path, data={"suggestions": "on"})
    assert refused.status_code == 403 and "Your choices were not saved." in refused.get_data(as_text=True)
    customer_id = load_fixture(CROSS_SELL)["recipient"]["customer_id"]
    assert client.get(f"/v1/profiles/{customer_id}").status_code == 404


@pytest.mark.parametrize("kind", ["p", "u"])
def test_bad_links_get_the_pages_of_every_customer_link(app: Flask, client: FlaskClient, kind: str) -> None:
    answer = render(client, CROSS_SELL)
    path = preferences_path(answer) if kind == "p" else unsubscribe_path(answer)
    anonymous = app.test_client(key=None)
    tampered = anonymous.get(path[:-3] + ("aaa" if not path.endswith("aaa") else "bbb"))
    assert tampered.status_code == 404 and tampered.mimetype == "text/html"
    assert anonymous.post(path[:-3] + "zzz", data={"List-Unsubscribe": "One-Click"}).status_code == 404
    other = local(answer["outputs"]["web"]["url"]).replace("/m/", f"/{kind}/")  # a /m/ token is no /p/ one
    assert anonymous.get(other).status_code == 404
    app.config["PREFERENCE_LINK_MAX_AGE"] = -1
    expired = anonymous.get(path)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)


def test_an_erased_customer_link_is_not_found(app: Flask, client: FlaskClient) -> None:
    answer = render(client, CROSS_SELL)
    customer_id = load_fixture(CROSS_SELL)["recipient"]["customer_id"]
    client.put(f"/v1/profiles/{customer_id}", json={"name": {"given": "Emma"}})
    assert client.delete(f"/v1/profiles/{customer_id}").status_code == 200
    anonymous = app.test_client(key=None)
    assert anonymous.get(preferences_path(answer)).status_code == 404
    assert anonymous.post(unsubscribe_path(answer), data={"List-Unsubscribe": "One-Click"}).status_code == 404


# --- durable, and told upstream -----------------------------------------------------------------

def test_a_change_survives_a_restart_and_reaches_upstream_signed(tmp_path: Path, receiver: Receiver) -> None:
    config = {**_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"), "PROFILE_WEBHOOK_URL": receiver.url}
    before = configure(make_app(config))
    answer = render(before.test_client(), CROSS_SELL)
    assert before.test_client(key=None).post(unsubscribe_path(answer),
                                             data={"List-Unsubscribe": "One-Click"}).status_code == 200
    before.extensions["touchpoint.engine"].dispose()  # stopped before anything was delivered
    assert receiver.received == []

    after = configure(make_app(config))
    client = after.test_client()
    customer_id = load_fixture(CROSS_SELL)["recipient"]["customer_id"]
    assert set(profile(client, customer_id)["preferences"]["unsubscribed"]) == {"demo-coffee"}
    assert render(client, CROSS_SELL)["personalisation"]["blocks"] == []
    assert len(deliver(after).delivered) == 1
    [received] = receiver.received
    assert signature_holds(received)
    event = Webhook(SECRET).verify(received.body, received.headers)
    assert event["type"] == "profile.preferences_changed"
    data = event["data"]
    assert (data["customer_id"], data["brand"], data["source"]) == (customer_id, "demo-coffee", "one_click")
    assert data["source_message_id"] == answer["id"] and data["preferences"]["suggestions"] is False
    assert list(data["changes"]) == ["preferences.unsubscribed.demo-coffee"]
    after.extensions["touchpoint.engine"].dispose()


def test_the_clock_of_the_pages_dates_the_unsubscribe(app: Flask, client: FlaskClient,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    answer = render(client, CROSS_SELL)
    moment = preference_pages.now() - timedelta(days=3)
    monkeypatch.setattr(preference_pages, "now", lambda: moment)
    app.test_client(key=None).post(unsubscribe_path(answer), data={"List-Unsubscribe": "One-Click"})
    reasons = {e["reason"] for e in render(client, CROSS_SELL)["personalisation"]["suppressed"]}
    assert reasons == {f"unsubscribed:{moment.date().isoformat()}"}


def test_the_sms_links_the_preference_centre_where_the_brand_wants_it(tmp_path: Path) -> None:
    brands = tmp_path / "brands"
    shutil.copytree(ROOT / "templates" / "brands", brands)
    brand = brands / "demo-energy" / "brand.json"
    brand.write_text(json.dumps({**json.loads(brand.read_text()), "sms_preferences_link": True}))
    app = make_app({**_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"), "BRANDS_DIR": str(brands)})
    client = app.test_client()
    wanted = render(client, "bill/electricity-nl", ("sms",))["outputs"]["sms"]["text"]
    assert re.search(r" Voorkeuren: http://touchpoint\.test/p/\S+$", wanted)
    other = render(client, "invoice/capsules-nl", ("sms",))["outputs"]["sms"]["text"]
    assert "/p/" not in other  # demo-coffee does not ask for it
    app.extensions["touchpoint.engine"].dispose()


def test_an_unsubscribe_holds_when_a_request_sends_its_own_preferences(app: Flask,
                                                                        client: FlaskClient) -> None:
    document = load_fixture("invoice/preferences-en")  # inline preferences: channels, topics_off
    first = render(client, document)
    assert first["personalisation"]["blocks"]
    app.test_client(key=None).post(unsubscribe_path(first), data={"List-Unsubscribe": "One-Click"})
    after = render(client, load_fixture("invoice/preferences-en"))
    assert after["personalisation"]["blocks"] == []
    assert all(e["reason"].startswith("unsubscribed:") for e in after["personalisation"]["suppressed"])
