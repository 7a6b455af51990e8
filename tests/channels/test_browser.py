"""Every fixture, opened in headless Chromium the way a customer sees it.

One live server per module and the run's one Chromium (conftest `chromium`); each fixture is
rendered once and its web page and email are opened in a fresh page per test:
- the web page (`/m/<token>`) on a 320 px phone: no sideways scrolling, every image loads,
  `<html lang>` is the message's locale, text is at least 14 px, tap targets at least 44 px;
- the email (`email.html`) on a 375 px phone: no sideways scrolling, every image loads from
  its absolute URL, buttons at least 44 px tall; and on a 600 px desktop pane: no sideways
  scrolling.
Screenshots of the phone views land in the test's tmp_path, for a human to look at.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page

from tests import browser as measure
from tests.channels.conftest import AnswerOf, email_url
from tests.conftest import FIXTURES, fixture_paths

pytestmark = pytest.mark.browser

FIXTURE_NAMES = [path.relative_to(FIXTURES).with_suffix("").as_posix() for path in fixture_paths()]

# What a thumb needs (Apple HIG 44 pt) and what a phone reader can read without zooming.
MIN_TAP_HEIGHT = 44
MIN_TEXT_PX = 14
WEB_TAP_TARGETS = "a.c-button, nav a, button"
# mj-button compiles to a table whose cell (role=presentation, valign) holds the link.
EMAIL_BUTTONS = 'td[role="presentation"][valign] > a'

PHONE = {"width": 320, "height": 640}
EMAIL_PHONE = {"width": 375, "height": 667}
EMAIL_DESKTOP = {"width": 600, "height": 800}


@pytest.fixture
def answer(request: pytest.FixtureRequest, answer_of: AnswerOf) -> dict[str, Any]:
    return answer_of(request.param)


@pytest.fixture(scope="module")
def contexts(chromium: Browser, live: tuple[Flask, str]) -> Iterator[dict[str, BrowserContext]]:
    """One browser context per device, shared by the module; each test opens its own page.

    The web page opens as a customer opens it, with no key. The email's HTML is fetched from
    the API (`email.html`), which takes the app's key; its images load from `/assets/`, open
    to anyone, as in a mail client.
    """
    phone = dict(device_scale_factor=2, is_mobile=True, has_touch=True)
    api = {"extra_http_headers": {"Authorization": f"Bearer {live[0].config['TEST_API_KEY']}"}}
    opened = {
        "phone": chromium.new_context(viewport=PHONE, **phone),
        "email_phone": chromium.new_context(viewport=EMAIL_PHONE, **phone, **api),
        "email_desktop": chromium.new_context(viewport=EMAIL_DESKTOP, **api),
    }
    yield opened
    for context in opened.values():
        context.close()


def _new_page(context: BrowserContext) -> Iterator[Page]:
    page = context.new_page()
    try:
        yield page
    finally:
        page.close()


@pytest.fixture
def phone(contexts: dict[str, BrowserContext]) -> Iterator[Page]:
    yield from _new_page(contexts["phone"])


@pytest.fixture
def email_phone(contexts: dict[str, BrowserContext]) -> Iterator[Page]:
    yield from _new_page(contexts["email_phone"])


@pytest.fixture
def email_desktop(contexts: dict[str, BrowserContext]) -> Iterator[Page]:
    yield from _new_page(contexts["email_desktop"])


def _goto(page: Page, url: str) -> None:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url} answered {response and response.status}"


def _report(problems: list[str], screenshot: Path) -> str:
    return "\n".join([*problems, f"(screenshot: {screenshot})"])


parametrize_fixtures = pytest.mark.parametrize(
    "answer", FIXTURE_NAMES, ids=FIXTURE_NAMES, indirect=True
)


@parametrize_fixtures
def test_web_page_on_a_320px_phone(answer: dict[str, Any], phone: Page, tmp_path: Path) -> None:
    _goto(phone, answer["outputs"]["web"]["url"])
    screenshot = tmp_path / "web-320.png"
    phone.screenshot(path=screenshot, full_page=True, scale="css")

    problems = [f"overflow: {p}" for p in measure.horizontal_overflow(phone, PHONE["width"])]
    problems += [f"image: {p}" for p in measure.broken_images(phone)]
    lang = phone.evaluate("document.documentElement.lang")
    if lang != answer["locale"]:
        problems.append(f"lang: <html lang={lang!r}>, the message's locale is {answer['locale']!r}")
    problems += [f"text: {p}" for p in measure.small_text(phone, MIN_TEXT_PX)]
    problems += [f"tap target: {p}" for p in measure.short_targets(phone, WEB_TAP_TARGETS, MIN_TAP_HEIGHT)]
    assert not problems, _report(problems, screenshot)


@parametrize_fixtures
def test_email_on_a_375px_phone(
    answer: dict[str, Any], live: tuple[Flask, str], email_phone: Page, tmp_path: Path
) -> None:
    _goto(email_phone, email_url(live, answer))
    screenshot = tmp_path / "email-375.png"
    email_phone.screenshot(path=screenshot, full_page=True, scale="css")

    problems = [f"overflow: {p}" for p in measure.horizontal_overflow(email_phone, EMAIL_PHONE["width"])]
    problems += [f"image: {p}" for p in measure.broken_images(email_phone)]
    if measure.count(email_phone, "img") == 0:
        problems.append("image: the email has no image at all (a logo is expected)")
    problems += [f"button: {p}" for p in measure.short_targets(email_phone, EMAIL_BUTTONS, MIN_TAP_HEIGHT)]
    assert not problems, _report(problems, screenshot)


@parametrize_fixtures
def test_email_in_a_600px_pane(
    answer: dict[str, Any], live: tuple[Flask, str], email_desktop: Page, tmp_path: Path
) -> None:
    _goto(email_desktop, email_url(live, answer))
    problems = measure.horizontal_overflow(email_desktop, EMAIL_DESKTOP["width"])
    if problems:
        screenshot = tmp_path / "email-600.png"
        email_desktop.screenshot(path=screenshot, full_page=True, scale="css")
        pytest.fail(_report([f"overflow: {p}" for p in problems], screenshot))


BAD_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="margin:0;font-size:16px">
<p>Readable text.</p>
<p class="fine-print" style="font-size:11px">Fine print.</p>
<p class="hidden-on-screen" style="display:none;font-size:8px">PDF only.</p>
<div class="too-wide" style="width:400px"><span>Wide.</span></div>
<img class="broken" alt="missing" src="{base}/assets/{digest}.png">
<nav><a class="c-button" href="#" style="display:block;height:30px">Pay</a></nav>
</body></html>"""


def test_measurements_catch_a_bad_page(live: tuple[Flask, str], phone: Page) -> None:
    """The checks above are not vacuous: each one names what is wrong on a page built to fail."""
    phone.set_content(BAD_PAGE.format(base=live[1], digest="0" * 64), wait_until="load")

    overflow = measure.horizontal_overflow(phone, PHONE["width"])
    assert overflow[0].startswith("document scrollWidth 400 > 320")
    assert [p.split(":")[0] for p in overflow[1:]] == ['body > div.too-wide "Wide."']
    assert measure.broken_images(phone) == [
        f'body > img.broken "missing" src={live[1]}/assets/{"0" * 64}.png'
    ]
    assert measure.small_text(phone, MIN_TEXT_PX) == [
        'body > p.fine-print:nth-of-type(2) "Fine print.": font-size 11 px < 14'
    ]
    assert measure.short_targets(phone, WEB_TAP_TARGETS, MIN_TAP_HEIGHT) == [
        'body > nav > a.c-button "Pay": 30.0 px tall (320.0 wide) < 44'
    ]
