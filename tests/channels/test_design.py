"""Design checks in headless Chromium: images off, values that never wrap, layouts, dark mode.

One live server for the module and the run's one Chromium (as tests/channels/test_browser.py); each fixture is
rendered once. What is checked, and why:
- every email at 375 px with images blocked (as Outlook and many corporate clients do):
  no sideways scrolling, and the blocking really happened;
- a payment reference, an IBAN, an amount or a time range is one line box on the web page at
  320, 375 and 1024 px and in the email at 320 and 375 px;
- the invoice's web table headers do not overlap at 1024 px, and no word of a table header
  (email or web, every invoice and bill) breaks inside at 320 and 375 px;
- the tips QR code is hidden on a phone (it would be scanned by the phone showing it) and
  shown on a wide screen;
- in a dark colour scheme the web page and the email's content turn dark, with text that
  keeps WCAG AA contrast against what is behind it.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Page, Route

from tests import browser as measure
from tests.channels.conftest import AnswerOf, email_url
from tests.conftest import FIXTURES, fixture_paths

pytestmark = pytest.mark.browser

FIXTURE_NAMES = [path.relative_to(FIXTURES).with_suffix("").as_posix() for path in fixture_paths()]
PAYING = [name for name in FIXTURE_NAMES if name.startswith(("invoice/", "bill/"))]
APPOINTMENTS = [name for name in FIXTURE_NAMES
                if name.startswith("appointment/") and "cancelled" not in name]


def _block_images(route: Route) -> None:
    if route.request.resource_type == "image":
        route.abort()
    else:
        route.continue_()


@pytest.fixture(scope="module")
def contexts(chromium: Browser, live: tuple[Flask, str]) -> Iterator[dict[str, BrowserContext]]:
    api = {"extra_http_headers": {"Authorization": f"Bearer {live[0].config['TEST_API_KEY']}"}}
    phone = dict(device_scale_factor=2, is_mobile=True, has_touch=True)
    opened = {
        "no_images": chromium.new_context(viewport={"width": 375, "height": 667}, **phone, **api),
        "dark": chromium.new_context(viewport={"width": 375, "height": 667}, color_scheme="dark", **api),
        "plain": chromium.new_context(**api),
    }
    opened["no_images"].route("**/*", _block_images)
    yield opened
    for context in opened.values():
        context.close()


@pytest.fixture
def page_in(contexts: dict[str, BrowserContext]) -> Iterator[Any]:
    pages: list[Page] = []

    def open_page(context: str, url: str, width: int | None = None) -> Page:
        page = contexts[context].new_page()
        pages.append(page)
        if width:
            page.set_viewport_size({"width": width, "height": 800})
        response = page.goto(url, wait_until="load")
        assert response is not None and response.ok, f"{url} answered {response and response.status}"
        return page

    yield open_page
    for page in pages:
        page.close()


# --- Images off -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_email_with_images_blocked_never_scrolls_sideways_at_375px(
    name: str, live: tuple[Flask, str], answer_of: AnswerOf, page_in: Any
) -> None:
    page = page_in("no_images", email_url(live, answer_of(name)))
    loaded = page.evaluate("[...document.images].filter((i) => i.naturalWidth > 0).length")
    assert page.evaluate("document.images.length") > 0 and loaded == 0, "images were not blocked"
    problems = measure.horizontal_overflow(page, 375)
    assert not problems, "\n".join(problems)


# --- Values that never wrap --------------------------------------------------------------------

# Each element marked `nowrap` (a reference, an IBAN, an amount, a time range) is one line box.
_WRAPPED_JS = """() => [...document.querySelectorAll('.nowrap')]
  .filter((el) => el.getClientRects().length > 0)
  .map((el) => {
    const rects = el.getClientRects();
    const style = getComputedStyle(el);
    const line = parseFloat(style.lineHeight) || parseFloat(style.fontSize) * 1.6;
    const height = el.getBoundingClientRect().height;
    return {text: el.textContent.trim(), boxes: rects.length, height, line};
  })"""


def _wrapped(page: Page) -> tuple[list[str], list[str]]:
    found = page.evaluate(_WRAPPED_JS)
    problems = [f"{item['text']!r}: {item['boxes']} line boxes, {item['height']:.1f} px tall"
                for item in found if item["boxes"] != 1 or item["height"] > item["line"] * 1.5]
    return [item["text"] for item in found], problems


@pytest.mark.parametrize("width", [320, 375, 1024])
@pytest.mark.parametrize("name", ["invoice/capsules-nl", "invoice/long-names-nl", "bill/electricity-nl",
                                  "invoice/bank-safe-deposit-en", "appointment/confirmation-nl"])
def test_references_ibans_amounts_and_times_never_wrap(
    name: str, width: int, live: tuple[Flask, str], answer_of: AnswerOf, page_in: Any
) -> None:
    answer = answer_of(name)
    pages = [("web", page_in("plain", answer["outputs"]["web"]["url"], width))]
    if width < 600:
        pages.append(("email", page_in("plain", email_url(live, answer), width)))
    for face, page in pages:
        texts, problems = _wrapped(page)
        assert len(texts) >= (1 if name.startswith("appointment/") else 3), f"{face}: marked {texts}"
        assert not problems, f"{face} at {width} px:\n" + "\n".join(problems)
        assert page.evaluate("document.documentElement.scrollWidth") <= width, f"{face} scrolls at {width}"


def test_the_structured_reference_is_marked_whole(
    live: tuple[Flask, str], answer_of: AnswerOf, page_in: Any
) -> None:
    answer = answer_of("bill/electricity-nl")
    texts, _ = _wrapped(page_in("plain", answer["outputs"]["web"]["url"], 375))
    assert any(text.startswith("+++") and text.endswith("+++") for text in texts), texts


# --- Layouts -----------------------------------------------------------------------------------

def test_invoice_table_headers_do_not_overlap_at_1024px(
    live: tuple[Flask, str], answer_of: AnswerOf, page_in: Any
) -> None:
    page = page_in("plain", answer_of("invoice/capsules-nl")["outputs"]["web"]["url"], 1024)
    headers = page.evaluate("""() => [...document.querySelectorAll('.c-items thead th')]
      .filter((th) => th.getClientRects().length).map((th) => {
        const range = document.createRange(); range.selectNodeContents(th);
        const text = range.getBoundingClientRect(), cell = th.getBoundingClientRect();
        return {text: th.textContent.trim(), left: text.left, right: text.right,
                cellLeft: cell.left, cellRight: cell.right};
      })""")
    assert len(headers) == 5, headers
    for header in headers:
        inside = header["left"] >= header["cellLeft"] - 0.5 and header["right"] <= header["cellRight"] + 0.5
        assert inside, header
    for first, second in itertools.pairwise(headers):
        assert first["right"] <= second["left"], (first, second)


# Each word of a table header cell ("Amount", "Btw-tarief"), as one line box or more: a word
# broken inside ("Amou" over "nt") spans two. A compound may wrap after its hyphen.
_BROKEN_HEADER_WORDS_JS = """() => [...document.querySelectorAll('th')]
  .filter((th) => th.getClientRects().length > 0)
  .flatMap((th) => {
    const broken = [];
    const texts = document.createTreeWalker(th, NodeFilter.SHOW_TEXT);
    for (let node = texts.nextNode(); node; node = texts.nextNode()) {
      for (const word of node.data.matchAll(/[^\\s-]+-?/g)) {
        const range = document.createRange();
        range.setStart(node, word.index);
        range.setEnd(node, word.index + word[0].length);
        const lines = new Set([...range.getClientRects()].filter((r) => r.width > 0)
          .map((r) => Math.round(r.top)));
        if (lines.size > 1) broken.push(`${word[0]} (in "${th.textContent.trim()}")`);
      }
    }
    return broken;
  })"""


@pytest.mark.parametrize("width", [320, 375])
@pytest.mark.parametrize("name", PAYING)
def test_no_table_header_word_breaks_inside_on_a_phone(
    name: str, width: int, live: tuple[Flask, str], answer_of: AnswerOf, page_in: Any
) -> None:
    answer = answer_of(name)
    for face, url in (("email", email_url(live, answer)), ("web", answer["outputs"]["web"]["url"])):
        page = page_in("plain", url, width)
        assert page.locator("th").count() >= 2, f"{face}: no table header"
        broken = page.evaluate(_BROKEN_HEADER_WORDS_JS)
        assert not broken, f"{face} at {width} px breaks inside: {broken}"


@pytest.mark.parametrize(("width", "shown"), [(375, False), (1024, True)])
def test_tips_qr_only_on_wide_screens(
    width: int, shown: bool, live: tuple[Flask, str], answer_of: AnswerOf, page_in: Any
) -> None:
    page = page_in("plain", answer_of("bill/electricity-nl")["outputs"]["web"]["url"], width)
    assert page.locator(".c-usage__tips-qr").count() == 1
    assert page.locator(".c-usage__tips-qr").is_visible() is shown


def test_advisor_sits_inside_the_appointment_card_in_the_email_at_600px(
    live: tuple[Flask, str], answer_of: AnswerOf, page_in: Any
) -> None:
    page = page_in("plain", email_url(live, answer_of("appointment/confirmation-nl")), 600)
    card, photo = page.evaluate("""() => {
      const photo = [...document.images].find((i) => i.width === 72);
      const card = photo.closest('.tp-card');
      return [card && card.getBoundingClientRect().toJSON(), photo.getBoundingClientRect().toJSON()];
    }""")
    assert card is not None, "the advisor's photo is not inside the card"
    assert photo["left"] - card["left"] < 60, (card, photo)


# --- Dark mode ---------------------------------------------------------------------------------

# Every visible element with text of its own: its colour against the first opaque background
# behind it, as WCAG computes it, and how large that background is (a light button is fine on a
# dark page; a light block of content is what the dark scheme must not leave).
_CONTRAST_JS = """() => {
  const lum = (c) => { const m = c.match(/[\\d.]+/g).map(Number);
    const ch = (v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return [0.2126 * ch(m[0]) + 0.7152 * ch(m[1]) + 0.0722 * ch(m[2]), m.length > 3 ? m[3] : 1]; };
  const behind = (el) => {
    for (let n = el; n && n.nodeType === 1; n = n.parentElement) {
      const bg = getComputedStyle(n).backgroundColor; const [l, a] = lum(bg);
      if (a > 0.5) { const r = n.getBoundingClientRect(); return [l, bg, r.width * r.height]; }
    }
    return [1, 'canvas', Infinity];
  };
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || el.closest('svg')) continue;
    const [fg] = lum(getComputedStyle(el).color); const [bg, which, area] = behind(el);
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    out.push({text: el.textContent.trim().slice(0, 30), ratio, bg: which, bgLum: bg, area});
  }
  return out;
}"""


def _dark_problems(page: Page) -> list[str]:
    found = page.evaluate(_CONTRAST_JS)
    assert found, "no text found"
    problems = [f"{i['text']!r}: contrast {i['ratio']:.2f} on {i['bg']}" for i in found if i["ratio"] < 4.5]
    problems += [f"{i['text']!r}: light background {i['bg']} in the dark scheme"
                 for i in found if i["bgLum"] > 0.4 and i["area"] > 40000]
    return problems


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_dark_scheme_web_page_and_email(
    name: str, live: tuple[Flask, str], answer_of: AnswerOf, page_in: Any
) -> None:
    answer = answer_of(name)
    problems = [f"web: {p}" for p in _dark_problems(page_in("dark", answer["outputs"]["web"]["url"]))]
    problems += [f"email: {p}" for p in _dark_problems(page_in("dark", email_url(live, answer)))]
    assert not problems, "\n".join(problems[:30])


@pytest.mark.parametrize("width", [375, 1024])
def test_web_chart_value_labels_lie_over_the_bars_and_the_axis_has_its_unit(
    width: int, live: tuple[Flask, str], answer_of: AnswerOf, page_in: Any
) -> None:
    page = page_in("plain", answer_of("bill/electricity-nl")["outputs"]["web"]["url"], width)
    # SVG paints in document order: a mark after a label that overlaps it covers it.
    found = page.evaluate("""() => {
      const marks = [...document.querySelectorAll('.c-chart__svg rect, .c-chart__svg text')];
      const overlap = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
      return marks.filter((m) => m.localName === 'text').map((t) => {
        const box = t.getBoundingClientRect();
        const later = marks.slice(marks.indexOf(t) + 1).filter((m) => m.localName === 'rect');
        return {text: t.textContent, top: !later.some((r) => overlap(box, r.getBoundingClientRect()))};
      });
    }""")
    labels = {item["text"]: item["top"] for item in found}
    assert labels.get("240") is True and labels.get("276") is True, labels
    assert "kWh" in labels, labels
