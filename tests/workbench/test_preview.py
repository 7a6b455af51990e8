"""GET /preview: the designers' gallery. Off unless in debug mode or PREVIEW_ENABLED; every
fixture in every channel; locale and brand picked in the page; nothing stored; render errors
named by file and line; safe pages; and (in Chromium) it reloads itself when a file changes."""

from __future__ import annotations

import os
import re
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser
from sqlalchemy import func, select

from app.store import session
from app.store.models import Artifact, Message, OfferShown
from tests import browser as measure
from tests.conftest import FIXTURES, PUBLIC_BASE_URL, ROOT, fixture_paths, make_app

FIXTURE_NAMES = [path.relative_to(FIXTURES).with_suffix("").as_posix() for path in fixture_paths()]


def _app(tmp_path: Path, **config: object) -> Flask:
    return make_app({
        "TESTING": True, "SECRET_KEY": "preview-test", "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'preview.db'}",
        "ARTIFACT_DIR": str(tmp_path / "artifacts"), "WEBHOOK_RUNNER": False, **config,
    })


@pytest.fixture
def preview_app(tmp_path: Path) -> Iterator[Flask]:
    application = _app(tmp_path, PREVIEW_ENABLED=True)
    yield application
    application.extensions["touchpoint.engine"].dispose()


@pytest.fixture
def preview(preview_app: Flask) -> FlaskClient:
    return preview_app.test_client()


@pytest.fixture
def design_copy(tmp_path: Path) -> Path:
    """templates/, components/ and a few fixtures copied, for tests that break them."""
    root = tmp_path / "design"
    shutil.copytree(ROOT / "templates", root / "templates")
    shutil.copytree(ROOT / "components", root / "components")
    for name in ("invoice/capsules-nl", "appointment/confirmation-nl"):
        target = root / "fixtures" / f"{name}.json"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(FIXTURES / f"{name}.json", target)
    return root


def _copy_app(tmp_path: Path, root: Path) -> Flask:
    return _app(tmp_path, PREVIEW_ENABLED=True, TEMPLATES_DIR=str(root / "templates"),
                COMPONENTS_DIR=str(root / "components"), BRANDS_DIR=str(root / "templates" / "brands"),
                FIXTURES_DIR=str(root / "fixtures"))


def test_preview_is_off_unless_debug_or_enabled(client: FlaskClient, tmp_path: Path) -> None:
    assert client.get("/preview").status_code == 404
    assert client.get("/preview/invoice/capsules-nl/email.html").status_code == 404
    debug = _app(tmp_path)
    debug.debug = True
    assert debug.test_client().get("/preview/state").status_code == 200
    debug.extensions["touchpoint.engine"].dispose()


def test_gallery_shows_every_fixture_in_every_channel(preview: FlaskClient) -> None:
    response = preview.get("/preview")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    for name in FIXTURE_NAMES:
        kind, rest = name.split("/")
        assert f'id="{kind}-{rest}"' in html, name
        assert f"/preview/{kind}/{rest}/email.html?width=375&amp;scheme=dark" in html, name
        assert f"/preview/{kind}/{rest}/page.html" in html, name
        assert f"/preview/{kind}/{rest}/document.pdf" in html, name
    # The inbox line, the size against Gmail's limit, the SMS with its segments, the invite.
    assert "Factuur INV-2026-000123 van Demo Coffee" in html
    assert "KB of Gmail's 102 KB" in html
    assert re.search(r"\d+ segments?</li>", html)
    assert "BEGIN:VCALENDAR" in html
    assert "Personalisation trace" in html
    assert "class=\"failure\"" not in html, "a fixture failed to render in the gallery"


def test_frames_answer_each_channel(preview: FlaskClient) -> None:
    base = "/preview/invoice/capsules-nl"
    email = preview.get(f"{base}/email.html?width=375&scheme=light")
    assert email.status_code == 200 and "Uw factuur" in email.get_data(as_text=True)
    dark = preview.get(f"{base}/email.html?width=375&scheme=dark").get_data(as_text=True)
    assert '<meta name="color-scheme" content="dark">' in dark
    assert "prefers-color-scheme" not in dark  # its dark rules now always apply
    page = preview.get(f"{base}/page.html")
    assert page.status_code == 200 and "<html lang=\"nl-BE\"" in page.get_data(as_text=True)
    pdf = preview.get(f"{base}/document.pdf")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    assert pdf.headers["Content-Disposition"].startswith("inline")
    if shutil.which("pdftoppm"):
        pages = preview.get(f"{base}/document-pages.html").get_data(as_text=True)
        assert pages.count("<img") >= 1 and "data:image/png;base64," in pages


def test_the_headers_and_the_customer_pages_are_shown(preview: FlaskClient) -> None:
    """An email's List-Unsubscribe headers in the card, and its customer's preference centre and
    unsubscribe pages (asking, unsubscribed with the undo, undone) in the message's language."""
    card = preview.get("/preview/invoice/cross-sell-arpeggia-en").get_data(as_text=True)
    assert "List-Unsubscribe-Post: List-Unsubscribe=One-Click" in card
    assert "/preview/invoice/cross-sell-arpeggia-en/pages/preferences.html" in card
    base = "/preview/invoice/capsules-nl/pages"
    expected = {"preferences": "Wat u ontvangt van Demo Coffee",
                "unsubscribe": "Afmelden voor suggesties",
                "unsubscribed": "Ongedaan maken: toon mij weer suggesties",
                "undone": "Suggesties staan weer aan."}
    for page, text in expected.items():
        answer = preview.get(f"{base}/{page}.html")
        assert answer.status_code == 200 and text in answer.get_data(as_text=True), page
    assert preview.get(f"{base}/nothing.html").status_code == 404


def test_nothing_is_stored(preview_app: Flask, preview: FlaskClient) -> None:
    base = "/preview/appointment/confirmation-nl"
    for url in ("/preview", base, f"{base}/email.html", f"{base}/page.html", f"{base}/document.pdf",
                f"{base}/pages/preferences.html", f"{base}/pages/unsubscribed.html"):
        assert preview.get(url).status_code == 200, url
    with preview_app.app_context():
        for model in (Message, Artifact, OfferShown):
            assert session().scalar(select(func.count()).select_from(model)) == 0, model.__name__
    # Images are content-addressed assets, as in any render; no message file is written.
    assert not any((Path(preview_app.config["ARTIFACT_DIR"]) / "messages").iterdir())


def test_locale_and_brand_are_picked_in_the_page(preview: FlaskClient) -> None:
    html = preview.get("/preview/invoice/capsules-nl?locale=fr-BE&brand=demo-bank").get_data(as_text=True)
    assert "fr-BE · Demo Bank" in html
    assert "locale=fr-BE" in html and "brand=demo-bank" in html  # frames render the same
    email = preview.get("/preview/invoice/capsules-nl/email.html?locale=fr-BE&brand=demo-bank")
    text = email.get_data(as_text=True)
    assert 'lang="fr-BE"' in text and "Demo Bank" in text
    # Unknown brands and malformed locales are ignored, not passed on.
    html = preview.get("/preview/invoice/capsules-nl?locale=<x>&brand=nope").get_data(as_text=True)
    assert "nl-BE · Demo Coffee" in html


def test_pages_are_safe(preview_app: Flask, preview: FlaskClient, tmp_path: Path, design_copy: Path) -> None:
    response = preview.get("/preview/invoice/capsules-nl")
    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'nonce-" in policy
    assert "unsafe-inline" not in policy.split("style-src")[0]  # no inline script
    frame = preview.get("/preview/invoice/capsules-nl/email.html")
    frame_policy = frame.headers["Content-Security-Policy"]
    assert "default-src 'none'" in frame_policy and "script-src" not in frame_policy
    assert f"img-src 'self' {PUBLIC_BASE_URL} data:" in frame_policy  # no outside fetches
    assert "sandbox=\"allow-same-origin\"" in response.get_data(as_text=True)

    # A fixture's text is escaped wherever the gallery shows it.
    fixture = design_copy / "fixtures/invoice/capsules-nl.json"
    fixture.write_text(fixture.read_text().replace('"ordinary capsule order', '"<script>alert(1)</script>'))
    app = _copy_app(tmp_path, design_copy)
    html = app.test_client().get("/preview").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "<script>alert(1)" not in html
    app.extensions["touchpoint.engine"].dispose()


def test_render_errors_name_file_and_line(tmp_path: Path, design_copy: Path) -> None:
    footer = design_copy / "components/footer/document.html"
    footer.write_text(footer.read_text().replace("{{ legal }}", "{{ brand.legall }}"))
    button = design_copy / "components/button/email.mjml"
    button.write_text(button.read_text().replace("{{ button.label }}", "{{ button.label | nosuchfilter }}"))
    greeting = design_copy / "components/greeting/email.mjml"
    greeting.write_text(greeting.read_text().replace("{{ intro }}", "{{ introo }}"))
    app = _copy_app(tmp_path, design_copy)
    client = app.test_client()

    page = client.get("/preview/invoice/capsules-nl/page.html")
    assert page.status_code == 500
    text = page.get_data(as_text=True)
    line = next(n for n, t in enumerate(footer.read_text().splitlines(), 1) if "brand.legall" in t)
    assert f"components/footer/document.html:{line}" in text
    assert "has no attribute &#39;legall&#39;" in text
    assert 'class="hit"' in text  # the failing line, shown in its code

    # A syntax error in an email face: the MJML file and line, not the compiled HTML's.
    email = client.get("/preview/invoice/capsules-nl/email.html").get_data(as_text=True)
    line = next(n for n, t in enumerate(button.read_text().splitlines(), 1) if "nosuchfilter" in t)
    assert f"components/button/email.mjml:{line}" in email and "nosuchfilter" in email

    button.write_text(button.read_text().replace(" | nosuchfilter", ""))
    email = client.get("/preview/invoice/capsules-nl/email.html").get_data(as_text=True)
    line = next(n for n, t in enumerate(greeting.read_text().splitlines(), 1) if "introo" in t)
    assert f"components/greeting/email.mjml:{line}" in email and "introo" in email

    gallery = client.get("/preview").get_data(as_text=True)
    assert "components/footer/document.html" in gallery and 'role="alert"' in gallery
    app.extensions["touchpoint.engine"].dispose()


def test_state_changes_when_a_watched_file_changes(tmp_path: Path, design_copy: Path) -> None:
    app = _copy_app(tmp_path, design_copy)
    client = app.test_client()
    first = client.get("/preview/state").json["state"]
    assert client.get("/preview/state").json["state"] == first
    component = design_copy / "components/footer/email.mjml"
    stat = component.stat()
    os.utime(component, (stat.st_atime, stat.st_mtime + 5))
    assert client.get("/preview/state").json["state"] != first
    app.extensions["touchpoint.engine"].dispose()


@pytest.mark.browser
def test_the_page_reloads_itself_when_a_component_changes(tmp_path: Path, design_copy: Path,
                                                          chromium: Browser) -> None:
    with measure.bound_server() as server:
        app = _app(tmp_path, PREVIEW_ENABLED=True, TEMPLATES_DIR=str(design_copy / "templates"),
                   COMPONENTS_DIR=str(design_copy / "components"),
                   FIXTURES_DIR=str(design_copy / "fixtures"),
                   PUBLIC_BASE_URL=f"http://127.0.0.1:{server.server_port}")
        base = measure.serve(server, app)
        page = chromium.new_page(viewport={"width": 1280, "height": 900})
        try:
            page.goto(f"{base}/preview/invoice/capsules-nl", wait_until="load")
            frame = page.frame_locator("iframe[title^='Email'][title*='375 px, light']")
            assert frame.locator("text=Uw factuur").first.is_visible()
            assert "EDITED" not in page.content()

            greeting = design_copy / "components/greeting/document.html"
            greeting.write_text(greeting.read_text().replace("{{ intro }}", "EDITED {{ intro }}"))
            deadline = time.monotonic() + 10
            web = page.frame_locator("iframe[title*='Web page'][title*='375 px, light']")
            while time.monotonic() < deadline and web.locator("text=EDITED").count() == 0:
                page.wait_for_timeout(250)
            assert web.locator("text=EDITED").count() == 1, "the gallery did not reload"
        finally:
            page.close()
    app.extensions["touchpoint.engine"].dispose()
