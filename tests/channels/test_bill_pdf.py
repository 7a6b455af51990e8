"""The bill's PDF leads with the action (design issue, "the bill leads with the action"): two
pages, and page 1 alone holds the amount due, the due date and a pay QR code a banking app
reads, so the payment slip is never behind the consumption. Read back from the real PDF:
page 1's text by pdftotext, its QR code from page 1 rasterised by pdftoppm, decoded by zbar."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.pipeline import prepare_message
from tests.conftest import FIXTURES, load_fixture
from tests.visuals.test_qr import epc_fields, fetch, rasterise, render, zbar

BILLS = sorted(f"bill/{path.stem}" for path in (FIXTURES / "bill").glob("*.json"))


def words(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


def page_text(pdf: bytes, page: int) -> str:
    result = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), "-", "-"],
                            input=pdf, capture_output=True, check=True)
    return words(result.stdout.decode())


def shown_payment(app: Flask, document: dict[str, Any]) -> dict[str, Any]:
    """The amount and due date as the bill prints them (the message's locale)."""
    with app.app_context():
        message, _ = prepare_message(document)
    return message.context["payment"]


@pytest.mark.parametrize("name", BILLS)
def test_page_one_holds_the_amount_the_due_date_and_the_pay_qr(app: Flask, client: FlaskClient,
                                                               tmp_path: Path, name: str) -> None:
    document = load_fixture(name)
    answer = render(client, document)
    pdf = fetch(client, answer["outputs"]["pdf"]["url"])
    assert answer["outputs"]["pdf"]["pages"] == 2
    payment = shown_payment(app, document)
    first = page_text(pdf, 1)
    assert words(payment["amount"]) in first
    assert words(payment["due"]) in first
    page_one = rasterise(pdf, tmp_path)[0]
    [epc] = [code for code in zbar(page_one) if code.startswith(b"BCD")]
    amount = document["data"]["totals"]["gross"] if "totals" in document["data"] else None
    fields = epc_fields(epc)
    assert fields[:4] == ["BCD", "002", "1", "SCT"]
    assert fields[7].startswith(document["data"]["currency"])
    if amount is not None:
        assert float(fields[7][3:]) == float(amount)


def test_the_consumption_is_on_page_two_in_two_columns(client: FlaskClient) -> None:
    answer = render(client, load_fixture("bill/electricity-nl"))
    pdf = fetch(client, answer["outputs"]["pdf"]["url"])
    second = page_text(pdf, 2)
    assert "Uw verbruik" in second and "Uw verbruik" not in page_text(pdf, 1)
    # Last year's month beside this year's on one row: 24 months in 12 rows.
    assert "nov 2024 301,5 nov 2025 275,5" in second
    assert "okt 2025 240 okt 2026 276" in second
