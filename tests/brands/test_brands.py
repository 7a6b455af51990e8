"""Brands as data (app/brands.py): a brand.json field that cannot be used stops the brand
loading, naming the field, for a render as for `flask lint`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from tests.appointments.helpers import brands_with
from tests.conftest import _config, load_fixture, make_app


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
