"""The bill's email leads with the action (design issue): on a phone (375 x 667, the smallest
common screen) the pay button, which names the amount due, is on the first screen, before the
bill's details. Measured in Chromium on the real email."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext

from app.pipeline import prepare_message
from tests.conftest import FIXTURES, load_fixture

pytestmark = pytest.mark.browser

BILLS = sorted(f"bill/{path.stem}" for path in (FIXTURES / "bill").glob("*.json"))
SCREEN = {"width": 375, "height": 667}


@pytest.fixture(scope="module")
def phone(chromium: Browser, live: tuple[Flask, str]) -> Iterator[BrowserContext]:
    api = {"Authorization": f"Bearer {live[0].config['TEST_API_KEY']}"}
    context = chromium.new_context(viewport=SCREEN, device_scale_factor=2, is_mobile=True,
                                   has_touch=True, extra_http_headers=api)
    yield context
    context.close()


@pytest.mark.parametrize("name", BILLS)
def test_the_pay_button_and_its_amount_are_on_the_first_phone_screen(
    name: str, live: tuple[Flask, str], phone: BrowserContext
) -> None:
    document = load_fixture(name)
    response = live[0].test_client().post("/v1/render", json=document)
    assert response.status_code == 201, response.json
    page = phone.new_page()
    try:
        page.goto(f"{live[1]}/v1/messages/{response.json['id']}/email.html", wait_until="load")
        pay_url = document["data"]["payment"]["pay_url"]
        button = page.locator(f'a[href="{pay_url}"]').first
        box = button.bounding_box()
        assert box is not None
        assert box["y"] + box["height"] <= SCREEN["height"], (name, box)
        with live[0].app_context():
            message, _ = prepare_message(document)
        amount = " ".join(message.context["payment"]["amount"].split())
        assert amount in " ".join(button.inner_text().split()), button.inner_text()
    finally:
        page.close()
