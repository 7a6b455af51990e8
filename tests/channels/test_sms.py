"""SMS segment arithmetic (3GPP TS 23.038 / 23.040) and the rendered SMS text."""

from __future__ import annotations

import re

import pytest
from flask.testing import FlaskClient

from app.channels.sms import GSM7_SUBSTITUTES, encoding_of, segments_of
from tests.conftest import PUBLIC_BASE_URL, load_fixture


@pytest.mark.parametrize(("text", "encoding", "segments"), [
    ("a" * 160, "GSM-7", 1),            # one segment holds 160 septets
    ("a" * 161, "GSM-7", 2),            # concatenated segments hold 153 each
    ("a" * 306, "GSM-7", 2),
    ("a" * 307, "GSM-7", 3),
    ("€" * 80, "GSM-7", 1),             # extension characters take two septets
    ("€" * 81, "GSM-7", 2),
    ("[]{}" * 40, "GSM-7", 3),         # 320 septets: 153 + 153 + 14
    ("ü" * 160, "GSM-7", 1),            # in the basic table
    ("ç" * 70, "UCS-2", 1),             # lower-case ç is not (only Ç is)
    ("ç" * 71, "UCS-2", 2),             # 67 UTF-16 code units per concatenated segment
    ("ç" * 134, "UCS-2", 2),
    ("ç" * 135, "UCS-2", 3),
    ("🙂" * 35, "UCS-2", 1),            # a surrogate pair counts as two code units
    ("🙂" * 36, "UCS-2", 2),
])
def test_segments(text: str, encoding: str, segments: int) -> None:
    assert segments_of(text) == (encoding, segments)


def test_babel_typography_is_said_in_gsm7() -> None:
    # Babel writes "€ 25,41" with a no-break space and times with a narrow one.
    assert encoding_of("€\u00a025,41 – 10:00\u202fAM") == "UCS-2"
    assert encoding_of("€\u00a025,41 – 10:00\u202fAM".translate(GSM7_SUBSTITUTES)) == "GSM-7"


def short_link_of(text: str) -> str:
    [link] = re.findall(rf"{re.escape(PUBLIC_BASE_URL)}/s/[A-Za-z0-9]{{12}}(?![A-Za-z0-9_-])", text)
    return link.removeprefix(PUBLIC_BASE_URL)


@pytest.mark.parametrize("fixture", ["invoice/capsules-nl", "bill/electricity-nl",
                                     "appointment/confirmation-nl"])
def test_sms_fits_one_segment_with_a_short_link_to_the_page(client: FlaskClient, fixture: str) -> None:
    answer = client.post("/v1/render", json=load_fixture(fixture)).json
    sms = answer["outputs"]["sms"]
    assert sms["text"].startswith(PUBLIC_BASE_URL) is False  # the text comes first
    assert (sms["encoding"], sms["segments"]) == segments_of(sms["text"])
    # Dutch money in a GSM-7 text: "€ 25,41" fits the alphabet once the spaces are plain, and
    # with a link of a dozen characters instead of a signed one of ninety, one segment.
    assert (sms["encoding"], sms["segments"]) == ("GSM-7", 1), sms["text"]
    opened = client.get(short_link_of(sms["text"]))
    assert opened.status_code == 302
    assert opened.headers["Location"].split("/m/")[0] == answer["outputs"]["web"]["url"].split("/m/")[0]
    page = client.get(opened.headers["Location"].removeprefix(PUBLIC_BASE_URL), buffered=True)
    assert page.status_code == 200 and answer["id"] not in page.get_data(as_text=True)
    assert page.data == client.get(answer["outputs"]["web"]["url"].removeprefix(PUBLIC_BASE_URL),
                                   buffered=True).data


def test_an_sms_without_the_web_channel_still_carries_its_page(client: FlaskClient) -> None:
    request = load_fixture("bill/electricity-nl") | {"channels": ["email", "sms"]}
    answer = client.post("/v1/render", json=request).json
    page = client.get(client.get(short_link_of(answer["outputs"]["sms"]["text"])).headers["Location"]
                      .removeprefix(PUBLIC_BASE_URL), buffered=True)
    assert page.status_code == 200 and "BILL-2026-11-0042" in page.get_data(as_text=True)


def test_a_short_link_that_is_wrong_erased_or_too_old_is_a_page_not_a_redirect(
        client: FlaskClient) -> None:
    app = client.application
    answer = client.post("/v1/render", json=load_fixture("invoice/capsules-nl")).json
    link = short_link_of(answer["outputs"]["sms"]["text"])
    tampered = client.get(link[:-1] + ("A" if link[-1] != "A" else "B"))
    assert (tampered.status_code, tampered.mimetype) == (404, "text/html")
    app.config["WEB_LINK_MAX_AGE"] = 0
    expired = client.get(link)
    assert (expired.status_code, expired.mimetype) == (410, "text/html")
    app.config["WEB_LINK_MAX_AGE"] = 3600
    customer = load_fixture("invoice/capsules-nl")["recipient"]["customer_id"]
    assert client.delete(f"/v1/profiles/{customer}").status_code == 200
    assert client.get(link).status_code == 404
