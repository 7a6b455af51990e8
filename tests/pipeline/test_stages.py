"""Each stage of the render path on its own: validate, enrich, compose and draw, called directly
with the values the stage before hands over (app/pipeline/README.md), never through the API.

What each must show: validate names every bad field at once; enrich merges the stored profile
under the request and writes nothing; compose is a pure function of the enriched value; draw
returns a new message with its pictures, leaves the one it was given as it was, stores nothing
(commit does), and turns a picture it cannot draw into a warning.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.message.composed import Composed
from app.message.enriched import Enriched
from app.pipeline.compose import compose
from app.pipeline.draw import draw
from app.pipeline.enrich import enrich
from app.pipeline.load import load
from app.pipeline.validate import validate
from app.problems import InvalidRequest
from app.schemas import InvoiceRequest
from app.store import artifacts
from tests.conftest import load_fixture

NOW = datetime(2026, 11, 5, 9, 0, tzinfo=UTC)
LINKS = {name: f"https://touchpoint.example/{name}" for name in (
    "web", "short", "preferences", "unsubscribe", "pdf", "ics", "api_pdf", "api_ics", "api_eml")}


@pytest.fixture
def context(app: Flask) -> Iterator[Flask]:
    with app.app_context():
        yield app


def brands(app: Flask) -> Any:
    return app.extensions["touchpoint.brands"]


def files_under(folder: Path) -> list[Path]:
    return sorted(path for path in folder.rglob("*") if path.is_file())


def enriched_for(app: Flask, document: dict[str, Any], channels: list[str],
                 *, writes: list[Path] | None = None) -> Enriched:
    """Validate, load and enrich; with `writes`, the files enrich itself wrote go into it."""
    request = validate(document, brands(app), NOW)
    loaded = load(request, brands(app), NOW)  # a brand's first load stores its pictures
    before = files_under(Path(app.config["ARTIFACT_DIR"]))
    enriched = enrich(request, brand=loaded.brand, stored_profile=loaded.profile, message_id="msg_stage",
                      links=LINKS, channels=channels, now=NOW, assets=artifacts(), config=app.config)
    if writes is not None:
        writes += sorted(set(files_under(Path(app.config["ARTIFACT_DIR"]))) - set(before))
    return enriched


# Validate.

def test_validate_answers_the_typed_request(context: Flask) -> None:
    request = validate(load_fixture("invoice/capsules-nl"), brands(context), NOW)
    assert isinstance(request, InvoiceRequest)
    assert request.brand == "demo-coffee" and request.data.lines[0].quantity == Decimal("5")


def test_validate_names_every_bad_field_at_once(context: Flask) -> None:
    document = load_fixture("invoice/capsules-nl")
    document["brand"] = "no-such-brand"
    document["locale"] = "xx-invalid-"
    document["data"]["lines"][0]["quantity"] = "a few"
    with pytest.raises(InvalidRequest) as raised:
        validate(document, brands(context), NOW)
    paths = {error.path for error in raised.value.errors}
    assert {"brand", "locale", "data.lines[0].quantity"} <= paths, paths


# Enrich.

def test_enrich_puts_the_request_over_the_stored_profile_and_writes_nothing(context: Flask) -> None:
    client = context.test_client()
    stored = {"name": {"given": "Stored", "family": "Name"}, "email": "stored@example.com",
              "locale": "fr-BE"}
    assert client.put("/v1/profiles/c-1001", json=stored).status_code in (200, 201)
    written: list[Path] = []
    enriched = enriched_for(context, load_fixture("invoice/capsules-nl"), ["email"], writes=written)
    assert enriched.profile["name"] == {"given": "David", "family": "Janssens"}  # the request's
    assert enriched.profile["email"] == "david@example.com"
    assert enriched.locale_tag == "nl-BE"  # the request's locale, over the profile's
    assert enriched.channels == ["email"] and enriched.links == LINKS and not enriched.warnings
    assert written == []


def test_enrich_warns_when_the_named_customer_has_no_stored_profile(context: Flask) -> None:
    enriched = enriched_for(context, load_fixture("invoice/capsules-nl"), ["email"])
    assert enriched.warnings == ["no stored profile for customer 'c-1001'; only the inline recipient "
                                 "fields were used"]


# Compose.

def test_compose_is_a_pure_function_of_the_enriched_value(context: Flask) -> None:
    enriched = enriched_for(context, load_fixture("invoice/capsules-nl"), ["email", "web", "pdf"])
    first, second = compose(enriched), compose(enriched)
    assert isinstance(first, Composed) and first == second
    # In the message's language, with the number, the brand and the gross the lines add up to.
    assert first.subject.startswith("Factuur INV-2026-000123 van Demo Coffee: € 25,41")
    assert first.context["payment"]["amount"] == "€\xa025,41"
    with pytest.raises(dataclasses.FrozenInstanceError):
        first.subject = "changed"  # type: ignore[misc]


# Draw.

def test_draw_returns_a_new_message_with_its_pictures_and_stores_none(context: Flask) -> None:
    enriched = enriched_for(context, load_fixture("invoice/capsules-nl"), ["email", "web", "pdf"])
    composed = compose(enriched)
    drawn = draw(composed, enriched, artifacts())
    assert composed.context["payment"].get("qr") is None  # the message it was given, as it was
    assert drawn.context["payment"]["qr"]["url"].startswith(context.config["PUBLIC_BASE_URL"])
    assert [asset.drawn.digest for asset in drawn.assets]
    assert not any(artifacts().asset_path(asset.drawn.digest, "png").exists() for asset in drawn.assets)


@pytest.mark.parametrize("channels", [["email"], ["web"], ["pdf"], ["email", "web", "pdf"]])
def test_draw_makes_each_drawing_of_the_chart_for_the_channels_that_show_it(
        context: Flask, channels: list[str]) -> None:
    enriched = enriched_for(context, load_fixture("bill/electricity-nl"), channels)
    composed = compose(enriched)
    assert {composed.context["bill"]["chart"][k] for k in ("png", "svg", "svg_print")} == {None}
    chart = draw(composed, enriched, artifacts()).context["bill"]["chart"]
    assert (chart["png"] is not None) == ("email" in channels)
    for key, channel in (("svg", "web"), ("svg_print", "pdf")):
        if channel in channels:
            assert chart[key].startswith("<svg") and chart["spec"].title in chart[key]
        else:
            assert chart[key] is None


def test_draw_turns_a_picture_it_cannot_draw_into_a_warning(context: Flask,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(text: str, store: Any) -> Any:
        raise ValueError("no room for this payload")

    monkeypatch.setattr(importlib.import_module("app.pipeline.draw"), "qr_drawing", refuse)
    enriched = enriched_for(context, load_fixture("invoice/capsules-nl"), ["email"])
    drawn = draw(compose(enriched), enriched, artifacts())
    assert drawn.context["payment"]["qr"] is None
    assert "could not draw the payment QR code; the message goes out without it" in drawn.warnings
