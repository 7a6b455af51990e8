"""The appointment's PDF leads with the invite (design issue, "action hierarchy in the PDF of
an appointment"): one page whose card says, large, when and where, how to put it in a calendar,
and, beside them, a QR code of the reschedule link (a printed letter cannot be clicked) with a
caption. Read back from the real PDF: its text by pdftotext, the code from the page rasterised
by pdftoppm and decoded by zbar, which must give the very link the email offers."""

from __future__ import annotations

import html
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.pipeline import prepare_message
from tests.channels.test_bill_pdf import words
from tests.conftest import FIXTURES, load_fixture
from tests.visuals.test_qr import fetch, rasterise, render, zbar

APPOINTMENTS = sorted(f"appointment/{path.stem}" for path in (FIXTURES / "appointment").glob("*.json"))
# The caption and the calendar line, by the message's language.
CAPTION = {"en": "Can't make it? Scan this code with your phone's camera to choose another time.",
           "nl": "Past het niet meer? Scan deze code met de camera van uw telefoon om een ander "
                 "tijdstip te kiezen.",
           "fr": "Vous n'êtes pas disponible ? Scannez ce code avec l'appareil photo de votre "
                 "téléphone pour choisir un autre moment.",
           "de": "Passt es Ihnen nicht? Scannen Sie diesen Code mit der Kamera Ihres Telefons, um "
                 "einen anderen Termin zu wählen."}
CALENDAR = {"en": "Add it to your calendar: open the invitation that came with our email.",
            "nl": "Zet de afspraak in uw agenda: open de uitnodiging bij onze e-mail.",
            "fr": "Ajoutez-le à votre agenda : ouvrez l'invitation jointe à notre e-mail.",
            "de": "Tragen Sie ihn in Ihren Kalender ein: Öffnen Sie die Einladung aus unserer E-Mail."}


def shown_card(app: Flask, document: dict[str, Any]) -> dict[str, Any]:
    """The appointment as the message shows it (dates in its locale)."""
    with app.app_context():
        message, _ = prepare_message(document)
    return message.context["appointment"]


def reading_text(pdf: bytes) -> str:
    """The page's words in reading order (the caption beside the card is a column of its own)."""
    result = subprocess.run(["pdftotext", "-enc", "UTF-8", "-", "-"], input=pdf, capture_output=True,
                            check=True)
    return words(result.stdout.decode())


def says(text: str, sentence: str) -> bool:
    """`sentence` is on the page, wherever a line broke (pdftotext drops a hyphen at a break:
    "e-" + "mail" reads "email")."""
    return sentence.replace("-", "") in text.replace("-", "")


@pytest.mark.parametrize("name", APPOINTMENTS)
def test_one_page_leads_with_when_where_and_the_reschedule_code(
    app: Flask, client: FlaskClient, tmp_path: Path, name: str
) -> None:
    document = load_fixture(name)
    answer = render(client, document)
    assert answer["outputs"]["pdf"]["pages"] == 1
    pdf = fetch(client, answer["outputs"]["pdf"]["url"])
    text = reading_text(pdf)
    card = shown_card(app, document)
    language = answer["locale"][:2]
    assert says(text, words(f"{card['date']}, {card['time_range']}"))
    assert says(text, words(card["location"]["name"]))
    if card["location"]["address"]:
        assert says(text, words(card["location"]["address"]))
    assert says(text, CALENDAR[language]) is not card["cancelled"]

    codes = zbar(rasterise(pdf, tmp_path)[0])
    offered = {action["kind"]: action for action in answer["actions"]}
    if "reschedule" not in offered:
        assert codes == [] and not says(text, CAPTION[language])
        return
    link = offered["reschedule"]["url"]
    # The code gives the email's own reschedule link, character for character.
    assert codes == [link.encode()]
    assert link in {html.unescape(href) for href in re.findall(r'href="([^"]+)"',
                                                               answer["outputs"]["email"]["html"])}
    assert says(text, CAPTION[language])
