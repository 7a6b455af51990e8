"""Customer links are opaque: no link in any output (email HTML and text, web page, SMS, the
answer document, actions, the reschedule form) shows the message id, in clear or as base64;
a forwarded link opens that page only; links sent before sealing still open."""

from __future__ import annotations

import base64
import binascii
import re
import zlib
from contextlib import suppress
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from app.links import _pack, _unpack, seal, sign_message
from tests.appointments.helpers import actions, appointment, get_page, open_form, render, share_templates
from tests.conftest import PUBLIC_BASE_URL, load_fixture

CUSTOMER_PATHS = re.compile(re.escape(PUBLIC_BASE_URL) + r"/(?:m|a|c|p|u)/[^\s\"'<>)\\]+")


@pytest.fixture
def app(app: Flask) -> Flask:
    return share_templates(app)


def _decodings(part: str) -> list[bytes]:
    """What a link segment may carry under base64 (itsdangerous: maybe zlib-compressed)."""
    found = []
    for candidate in {part, part.lstrip(".")}:
        try:
            raw = base64.urlsafe_b64decode(candidate + "=" * (-len(candidate) % 4))
        except (binascii.Error, ValueError):
            continue
        found.append(raw)
        with suppress(zlib.error):
            found.append(zlib.decompress(raw))
    return found


def _assert_opaque(link: str, message_id: str) -> None:
    assert message_id not in link, link
    assert message_id.removeprefix("msg_") not in link, link
    for part in re.split(r"[/.~?&=]", link.removeprefix(PUBLIC_BASE_URL)):
        for decoded in _decodings(part):
            assert message_id.encode() not in decoded, (link, decoded)
            assert message_id.removeprefix("msg_").encode() not in decoded, (link, decoded)


def _customer_links(text: str) -> list[str]:
    return CUSTOMER_PATHS.findall(text)


def _everything_shown(client: FlaskClient, answer: dict[str, Any]) -> str:
    """The answer document, and every page a customer opens from it."""
    shown = [repr(answer), answer["outputs"]["email"]["html"], answer["outputs"]["email"]["text"],
             answer["outputs"].get("sms", {}).get("text", "")]
    shown.append(get_page(client, answer["outputs"]["web"]["url"]).get_data(as_text=True))
    for action in answer["actions"]:
        if action.get("url", "").startswith(f"{PUBLIC_BASE_URL}/a/"):
            shown.append(open_form(client, action["url"]).page)
    return "\n".join(shown)


@pytest.mark.parametrize("request_body", [
    {**load_fixture("invoice/cross-sell-arpeggia-en"), "channels": ["email", "web", "sms"]},
    {**appointment(), "channels": ["email", "web", "ics", "sms"]},
], ids=["invoice-with-offers", "appointment-with-actions"])
def test_no_customer_link_shows_the_message_id(client: FlaskClient, request_body: dict[str, Any]) -> None:
    answer = render(client, request_body)
    message_id = answer["id"]
    shown = _everything_shown(client, answer)
    links = _customer_links(shown)
    assert len(links) >= 4 and any("/m/" in link for link in links)
    for link in links:
        _assert_opaque(link, message_id)
    # The reschedule page's form token is no base64 of the id either.
    for token in re.findall(r'name="csrf" value="([^"]+)"', shown):
        _assert_opaque(token, message_id)
    # Every link still opens.
    for link in set(links):
        response = get_page(client, link)
        assert response.status_code in {200, 302}, link
        response.close()


def test_a_forwarded_link_opens_that_page_only(client: FlaskClient) -> None:
    answer = render(client, {**appointment(), "channels": ["email", "web"]})
    web_token = answer["outputs"]["web"]["url"].rsplit("/m/", 1)[1]
    sealed = web_token.split(".")[0]
    action_url = actions(answer)["reschedule"]["url"]
    action_token = action_url.removeprefix(f"{PUBLIC_BASE_URL}/a/").split("/")[0]
    # A token of one purpose is no token of another, and the sealed part alone opens nothing.
    assert client.get(f"/a/{web_token}/reschedule").status_code == 404
    assert client.get(f"/m/{action_token}").status_code == 404
    assert client.get(f"/c/{web_token}").status_code == 404
    assert client.get(f"/m/{sealed}").status_code == 404
    # A changed byte of the sealed id fails the signature: 404, never another message.
    flipped = ("A" if sealed[5] != "A" else "B")
    assert client.get(f"/m/{sealed[:5]}{flipped}{web_token[6:]}").status_code == 404


def test_sealed_links_are_signed_and_expire(app: Flask, client: FlaskClient) -> None:
    answer = render(client, {**load_fixture("invoice/capsules-nl"), "channels": ["email", "web"]})
    url = answer["outputs"]["web"]["url"].removeprefix(PUBLIC_BASE_URL)
    with app.test_request_context():
        # Sealed and signed under another key: refused.
        forged = TimestampSigner("not-our-key", salt="touchpoint.web").sign(
            seal("web", answer["id"])).decode()
    assert client.get(f"/m/{forged}").status_code == 404
    with get_page(client, url) as page:
        assert page.status_code == 200
    app.config["WEB_LINK_MAX_AGE"] = -1
    expired = client.get(url)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)


def test_links_sent_before_sealing_still_open(app: Flask, client: FlaskClient) -> None:
    """Tokens already sent carry the id in clear; they live WEB_LINK_MAX_AGE (400 days)."""
    answer = render(client, {**load_fixture("invoice/cross-sell-arpeggia-en"), "channels": ["email", "web"]})
    message_id = answer["id"]
    keys = [app.config["SECRET_KEY"]]
    old_web = TimestampSigner(keys, salt="touchpoint.web").sign(message_id).decode()
    old_offer = TimestampSigner(keys, salt="touchpoint.offer").sign(f"{message_id}~lavanti").decode()
    with get_page(client, f"/m/{old_web}") as page:
        assert page.status_code == 200
    assert client.get(f"/c/{old_offer}").headers["Location"] == "https://coffee.example/capsules/lavanti"

    booked = render(client, {**appointment(), "channels": ["email", "web"]})
    starts = int(datetime(2031, 3, 14, 9, tzinfo=UTC).timestamp())
    old_action = URLSafeTimedSerializer(keys, salt="touchpoint.appointment").dumps(
        {"m": booked["id"], "e": starts})
    form = open_form(client, f"/a/{old_action}/reschedule")
    assert form.slots
    # Still refused when tampered with, or when its signature is older than WEB_LINK_MAX_AGE.
    assert client.get(f"/m/{old_web[:-2]}xx").status_code == 404
    app.config["WEB_LINK_MAX_AGE"] = -1
    assert client.get(f"/m/{old_web}").status_code == 410
    assert datetime.now(UTC) < datetime.fromtimestamp(starts, UTC) - timedelta(days=1)


def test_sign_message_is_stable_and_short(app: Flask) -> None:
    """One message, one sealed id per purpose (so a render's links agree), short enough for SMS."""
    with app.test_request_context():
        first = sign_message("web", "msg_01m8qk19pez9372prbq88dbr0f")
        assert first.split(".")[0] == sign_message("web", "msg_01m8qk19pez9372prbq88dbr0f").split(".")[0]
        assert first.split(".")[0] != sign_message("offer", "msg_01m8qk19pez9372prbq88dbr0f").split(".")[0]
    assert len(first) <= 80


def test_a_message_id_packs_into_the_same_sixteen_bytes_as_ever() -> None:
    """Links already sent hold sealed ids: the packing may never change. 26 Crockford digits,
    most significant first, in 16 bytes after a marker byte; other ids go in as they are."""
    assert _pack("msg_01m8qk19pez9372prbq88dbr0f") == bytes.fromhex("01" "01a22f30a6cefa46715b0bba10d5e00f")
    assert _unpack(_pack("msg_01m8qk19pez9372prbq88dbr0f")) == ("msg_01m8qk19pez9372prbq88dbr0f", b"")
    assert _pack("job_1") == b"\x00\x05job_1"
