"""The reschedule and cancel pages in headless Chromium on a 320 px phone: readable, nothing
sideways, thumb-sized targets; and the whole journey done by tapping, as a customer would."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page

from tests import browser as measure
from tests.appointments.helpers import actions, appointment
from tests.conftest import PHONE

pytestmark = pytest.mark.browser

TARGETS = "a.c-button, nav a, button, label.c-slot"


def rendered(live: tuple[Flask, str], appointment_id: str, locale: str = "en") -> dict[str, Any]:
    document = appointment(appointment_id=appointment_id) | {"locale": locale}
    # An advisor of its own: a slot one test takes is taken for every appointment of that advisor.
    document["data"]["advisor"]["email"] = f"{appointment_id}@bank.example"
    document["data"]["reschedule"]["slots"] += [
        {"start": "2031-03-18T16:00:00", "end": "2031-03-18T16:30:00"},
        {"start": "2031-03-19T08:30:00", "end": "2031-03-19T09:00:00"},
    ]
    response = live[0].test_client().post("/v1/render", json=document)
    assert response.status_code == 201, response.json
    return response.json


def check(page: Page, tmp_path: Path, name: str) -> None:
    screenshot = tmp_path / f"{name}.png"
    page.screenshot(path=screenshot, full_page=True, scale="css")
    problems = [f"overflow: {p}" for p in measure.horizontal_overflow(page, PHONE["width"])]
    problems += [f"image: {p}" for p in measure.broken_images(page)]
    problems += [f"text: {p}" for p in measure.small_text(page, 14)]
    problems += [f"tap target: {p}" for p in measure.short_targets(page, TARGETS, 44)]
    assert not problems, "\n".join([*problems, f"(screenshot: {screenshot})"])


@pytest.mark.parametrize("locale", ["en", "nl-BE", "fr-BE", "de-DE"])
def test_reschedule_by_tapping_on_a_320px_phone(live: tuple[Flask, str], phone: Page, tmp_path: Path,
                                                locale: str) -> None:
    answer = rendered(live, f"apt-tap-{locale}", locale)
    phone.goto(actions(answer)["reschedule"]["url"])
    assert phone.evaluate("document.documentElement.lang") == locale
    check(phone, tmp_path, "reschedule")
    assert phone.locator("label.c-slot").count() == 4
    phone.locator("label.c-slot").nth(2).tap()
    phone.locator("button[type=submit]").tap()
    phone.wait_for_url("**/m/**")
    # The confirmation is the new message's page, under its own link, with its new invite.
    check(phone, tmp_path, "confirmation")
    assert "18" in phone.locator(".c-appointment__facts dd").first.inner_text()
    invite = phone.locator("a.c-button[href$='/invite.ics']")
    assert invite.count() == 1
    # The new invite is the first thing to do: nothing updates a calendar by itself.
    assert phone.locator(".c-buttons a.c-button--primary").first.get_attribute("href").endswith("/invite.ics")

    # The old message's page shows the change and the appointment as it now stands.
    phone.goto(answer["outputs"]["web"]["url"])
    check(phone, tmp_path, "old-message")
    assert phone.locator(".c-notice").count() == 1


def test_cancel_by_tapping_on_a_320px_phone(live: tuple[Flask, str], phone: Page, tmp_path: Path) -> None:
    answer = rendered(live, "apt-tap-cancel")
    phone.goto(actions(answer)["cancel"]["url"])
    check(phone, tmp_path, "cancel")
    booking = "https://bank.example/appointments"  # demo-bank's brand.json
    assert phone.locator(f".c-confirm a[href='{booking}']").is_visible()
    phone.locator("button[type=submit]").tap()
    phone.wait_for_url("**/m/**")
    check(phone, tmp_path, "cancelled")
    assert phone.locator(".c-appointment--cancelled").count() == 1
    assert phone.locator(f".c-buttons a.c-button--primary[href='{booking}']").is_visible()
    # Back on the reschedule link: a clear page, not a form.
    phone.goto(actions(answer)["reschedule"]["url"])
    check(phone, tmp_path, "closed")
    assert phone.locator("form").count() == 0
