"""The preference centre and the unsubscribe pages on a 320 px phone, in headless Chromium, served
by the real app: axe-clean (no serious or critical finding), nothing wider than the screen,
every tap target at least 44 px high; a customer switches a topic off and unsubscribes by tapping."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from flask import Flask
from playwright.sync_api import Page

from tests import browser as measure
from tests.channels.test_accessibility import FAILING, RULES, _describe
from tests.conftest import PHONE, load_fixture

pytestmark = pytest.mark.browser

TARGETS = "a.c-button, button, label.c-switch"
LOCALES = ["en", "nl-BE", "fr-BE", "de-DE"]


def rendered(live: tuple[Flask, str], customer_id: str, locale: str) -> dict[str, Any]:
    document = load_fixture("invoice/cross-sell-arpeggia-en")
    document.update(locale=locale, channels=["email", "web"])
    document["recipient"]["customer_id"] = customer_id
    response = live[0].test_client().post("/v1/render", json=document)
    assert response.status_code == 201, response.json
    return response.json


def check(page: Page, tmp_path: Path, name: str) -> None:
    screenshot = tmp_path / f"{name}.png"
    page.screenshot(path=screenshot, full_page=True, scale="css")
    violations = Axe().run(page, options=RULES).response["violations"]
    failing = [v for v in violations if v["impact"] in FAILING]
    problems = [f"axe: {_describe(failing)}"] if failing else []
    problems += [f"overflow: {p}" for p in measure.horizontal_overflow(page, PHONE["width"])]
    problems += [f"image: {p}" for p in measure.broken_images(page)]
    problems += [f"tap target: {p}" for p in measure.short_targets(page, TARGETS, 44)]
    assert not problems, "\n".join([*problems, f"(screenshot: {screenshot})"])


@pytest.mark.parametrize("locale", LOCALES)
def test_the_preference_centre_at_320px(live: tuple[Flask, str], phone: Page, tmp_path: Path,
                                        locale: str) -> None:
    answer = rendered(live, f"c-a11y-{locale}", locale)
    url = answer["outputs"]["email"]["html"].split('href="')[1:]
    preferences = next(part.split('"')[0] for part in url if "/p/" in part.split('"')[0])
    phone.goto(preferences)
    assert phone.evaluate("document.documentElement.lang") == locale
    check(phone, tmp_path, "preferences")
    # Switch the capsules topic off, save: the page says so, in its language, and stays clean.
    phone.locator("input[name=topic][value=capsules]").uncheck()
    with phone.expect_navigation():
        phone.locator("button[type=submit]").tap()
    assert phone.locator(".c-notice[role=status]").count() == 1
    assert not phone.locator("input[name=topic][value=capsules]").is_checked()
    check(phone, tmp_path, "saved")


@pytest.mark.parametrize("locale", LOCALES)
def test_unsubscribe_and_undo_at_320px(live: tuple[Flask, str], phone: Page, tmp_path: Path,
                                       locale: str) -> None:
    answer = rendered(live, f"c-u-{locale}", locale)
    unsubscribe = answer["outputs"]["email"]["headers"]["List-Unsubscribe"].split(">")[0][1:]
    phone.goto(unsubscribe)
    check(phone, tmp_path, "asks")
    with phone.expect_navigation():
        phone.locator("button[type=submit]").tap()
    assert phone.locator("input[name=undo]").count() == 1
    check(phone, tmp_path, "unsubscribed")
    with phone.expect_navigation():
        phone.locator("button[type=submit]").tap()  # the undo
    assert phone.locator("input[name=undo]").count() == 0
    check(phone, tmp_path, "undone")
