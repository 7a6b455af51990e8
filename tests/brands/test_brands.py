"""Brands as data (app/brands): a brand.json field that cannot be used stops the brand
loading, naming the field, for a render as for `flask lint`; an edited brand is loaded again,
at once in development and within seconds in production."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from app.brands import BrandRegistry
from app.problems import InvalidRequest
from app.store.artifacts import ArtifactStore
from tests.appointments.helpers import brands_with
from tests.conftest import PUBLIC_BASE_URL, _config, load_fixture, make_app


@pytest.fixture
def app_with_booking_url(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Flask]:
    application = make_app({**_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"),
                            "BRANDS_DIR": str(brands_with(tmp_path, booking_url=request.param))})
    yield application
    application.extensions["touchpoint.engine"].dispose()


@pytest.mark.parametrize("app_with_booking_url", [
    "http://bank.example/appointments",          # not https
    "javascript:alert(1)",                       # no web address at all
    "https://",                                  # no host
    "https://bank.example/a\nb",                 # two lines
    "https://[bank.example/appointments",        # an unclosed IPv6 host
    "https://bank.example/" + "a" * 2000,        # longer than any booking page
    42,                                          # not text
], indirect=True)
def test_a_booking_url_that_is_no_https_link_stops_the_brand_naming_the_field(
    app_with_booking_url: Flask,
) -> None:
    response = app_with_booking_url.test_client().post(
        "/v1/render", json=load_fixture("appointment/confirmation-nl"))
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert response.json["title"] == "Brand data is invalid"
    [error] = response.json["errors"]
    assert error["path"] == "booking_url" and "is not an https:// URL" in error["message"]
    assert "demo-bank/brand.json" in response.json["detail"]


@pytest.mark.parametrize("app_with_booking_url", ["http://bank.example/appointments"], indirect=True)
def test_lint_names_the_booking_url_that_stops_the_brand(app_with_booking_url: Flask) -> None:
    lint = app_with_booking_url.test_cli_runner().invoke(args=["lint"])
    assert lint.exit_code != 0
    assert "demo-bank/brand.json" in lint.output and "booking_url 'http://bank.example/appointments' " \
        "is not an https:// URL" in lint.output


def renamed(brands: Path, name: str) -> None:
    path = brands / "demo-bank" / "brand.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps({**raw, "name": name}), encoding="utf-8")
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))  # a later mtime, surely


@pytest.mark.parametrize(("recheck", "seen_at_once"), [(0.0, True), (3600.0, False)])
def test_an_edited_brand_shows_at_once_or_after_the_recheck(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recheck: float, seen_at_once: bool) -> None:
    brands = brands_with(tmp_path)
    registry = BrandRegistry(brands, ArtifactStore(tmp_path / "artifacts"), PUBLIC_BASE_URL, recheck)
    before = registry.get("demo-bank")
    renamed(brands, "Renamed Bank")
    assert (registry.get("demo-bank").name == "Renamed Bank") is seen_at_once
    # Once `recheck` seconds have passed, the edit shows either way.
    later = time.monotonic() + recheck + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert registry.get("demo-bank").name == "Renamed Bank" != before.name


@pytest.mark.parametrize(("recheck", "seen_at_once"), [(0.0, True), (3600.0, False)])
def test_a_removed_brand_is_refused_at_once_or_after_the_recheck(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recheck: float, seen_at_once: bool) -> None:
    brands = brands_with(tmp_path)
    registry = BrandRegistry(brands, ArtifactStore(tmp_path / "artifacts"), PUBLIC_BASE_URL, recheck)
    registry.get("demo-bank")
    shutil.rmtree(brands / "demo-bank")

    def refused() -> bool:
        try:
            registry.check("demo-bank")
        except InvalidRequest as problem:
            assert [error.path for error in problem.errors] == ["brand"]
            return True
        return False

    assert refused() is seen_at_once
    later = time.monotonic() + recheck + 1
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert refused()


@pytest.mark.parametrize(("reload", "recheck"), [(True, 0.0), (False, 2.0)])
def test_brands_are_looked_at_every_render_where_templates_are(tmp_path: Path, reload: bool,
                                                                recheck: float) -> None:
    # Production turns TEMPLATE_AUTO_RELOAD off (app/config.py): there, every 2 seconds.
    application = make_app({**_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"),
                            "TEMPLATE_AUTO_RELOAD": reload})
    try:
        assert application.extensions["touchpoint.brands"].recheck == recheck
    finally:
        application.extensions["touchpoint.engine"].dispose()
