"""Every fixture's web page passes axe-core with no serious or critical violation.

axe-core 4.x is the one bundled in the axe-playwright-python package (axe.min.js), run in
headless Chromium on a 320 px phone. The pages are rendered like the preview renders them
(prepare_message and the web channel, nothing stored) and opened with no network but the
service's own assets. WCAG 2.0-2.2 A and AA rules and axe's best practices are run; only
serious and critical violations fail (moderate and minor ones are listed in the failure of
a serious one, for context). The preview gallery itself is held to the same bar.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, Page, Route

from app import create_app
from app.workbench.scratch import file_of, list_fixtures, render_fixture, scratch_app
from tests.browser import axe_violations, describe_axe, failing
from tests.conftest import FIXTURES, ROOT, fixture_paths, make_app

pytestmark = pytest.mark.browser

FIXTURE_NAMES = [path.relative_to(FIXTURES).with_suffix("").as_posix() for path in fixture_paths()]
_ASSET = re.compile(r"/assets/([0-9a-f]{64})\.png$")


@pytest.fixture(scope="module")
def workbench() -> Iterator[Flask]:
    config = {"TEMPLATES_DIR": str(ROOT / "templates"), "COMPONENTS_DIR": str(ROOT / "components"),
              "BRANDS_DIR": str(ROOT / "templates" / "brands"),
              "TRANSLATIONS_DIR": str(ROOT / "translations"), "FIXTURES_DIR": str(FIXTURES)}
    with scratch_app(config, create_app) as app:
        yield app


@pytest.fixture(scope="module")
def pages(workbench: Flask) -> dict[str, str]:
    """Each fixture's web page, as the web channel renders it."""
    rendered = {}
    for fixture in list_fixtures(FIXTURES):
        scratch = render_fixture(fixture)
        if "web" in scratch.outputs:
            rendered[fixture.name] = (file_of(scratch.outputs["web"], "page.html") or b"").decode()
    return rendered


@pytest.fixture
def phone(chromium: Browser, workbench: Flask) -> Iterator[Page]:
    """A 320 px phone that loads the service's own assets and nothing else."""
    assets = workbench.extensions["touchpoint.artifacts"]
    base = workbench.config["PUBLIC_BASE_URL"]

    def serve(route: Route) -> None:
        match = _ASSET.search(route.request.url)
        path = assets.asset_path(match.group(1), "png") if match else None
        if route.request.url.startswith(base + "/") and path is not None and path.is_file():
            route.fulfill(status=200, content_type="image/png", body=path.read_bytes())
        else:
            route.abort()

    context = chromium.new_context(viewport={"width": 320, "height": 640}, device_scale_factor=2,
                                   is_mobile=True, has_touch=True)
    context.route("**/*", serve)
    page = context.new_page()
    yield page
    context.close()


@pytest.mark.parametrize("name", FIXTURE_NAMES)
def test_web_page_passes_axe(name: str, pages: dict[str, str], phone: Page) -> None:
    if name not in pages:
        pytest.skip(f"{name} has no web page")
    phone.set_content(pages[name], wait_until="load")
    violations = axe_violations(phone)
    serious = failing(violations)
    assert not serious, f"{name}:\n{describe_axe(serious)}\nalso:\n{describe_axe(violations)}"


def test_axe_finds_what_is_wrong_on_a_bad_page(phone: Page) -> None:
    phone.set_content('<!doctype html><html><head><title>x</title></head><body><main>'
                      '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
                      '<p style="color:#bbb;background:#fff">Faint</p>'
                      '<a href="https://example.com"></a></main></body></html>')
    found = {v["id"]: v["impact"] for v in axe_violations(phone)}
    assert found.get("image-alt") == "critical"
    assert found.get("color-contrast") == "serious"
    assert found.get("link-name") == "serious"
    assert "html-has-lang" in found


def test_the_preview_gallery_passes_axe(tmp_path: Path, phone: Page) -> None:

    app = make_app({"TESTING": True, "SECRET_KEY": "a11y", "PREVIEW_ENABLED": True,
                      "WEBHOOK_RUNNER": False, "DATABASE_URL": f"sqlite:///{tmp_path / 'a11y.db'}",
                      "ARTIFACT_DIR": str(tmp_path / "a")})
    html = app.test_client().get("/preview/invoice/capsules-nl").get_data(as_text=True)
    app.extensions["touchpoint.engine"].dispose()
    phone.set_viewport_size({"width": 1280, "height": 900})
    phone.set_content(html, wait_until="load")
    serious = failing(axe_violations(phone))
    assert not serious, describe_axe(serious)
