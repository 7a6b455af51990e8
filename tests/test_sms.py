"""SMS segment arithmetic (3GPP TS 23.038 / 23.040) and the rendered SMS text."""

from __future__ import annotations

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


@pytest.mark.parametrize("fixture", ["invoice/capsules-nl", "bill/electricity-nl",
                                     "appointment/confirmation-nl"])
def test_sms_carries_the_web_link_and_counts_itself(client: FlaskClient, fixture: str) -> None:
    answer = client.post("/v1/render", json=load_fixture(fixture)).json
    sms = answer["outputs"]["sms"]
    assert answer["outputs"]["web"]["url"] in sms["text"]
    assert sms["text"].startswith(PUBLIC_BASE_URL) is False  # the text comes first
    assert (sms["encoding"], sms["segments"]) == segments_of(sms["text"])
    # Dutch money in a GSM-7 text: "€ 25,41" fits the alphabet once the spaces are plain.
    assert sms["encoding"] == "GSM-7"
    assert sms["segments"] <= 2
