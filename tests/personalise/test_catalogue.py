"""Offer catalogues: the demo brands' load; a broken one is refused at load, with file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.brands import located
from app.brands.catalogue import CatalogueError, display_path, load_catalogue
from tests.conftest import ROOT, _config, load_fixture, make_app
from tests.personalise.helpers import PRODUCTS, offer

BRANDS = ROOT / "templates" / "brands"


def write(tmp_path: Path, offers: list[Any], **top: Any) -> Path:
    path = tmp_path / "offers.json"
    document = {"topics": ["capsules", "celebrations"], **top, "offers": offers}
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def refused(path: Path) -> list[tuple[str, int, str]]:
    with pytest.raises(CatalogueError) as caught:
        load_catalogue(path, PRODUCTS)
    return caught.value.problems


def line_of(path: Path, needle: str, occurrence: int = 1) -> int:
    """The line a text first (or n-th) appears on, counted here, not by the code under test."""
    seen = 0
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if needle in line:
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not in {path}")


def test_the_demo_catalogues_load_with_the_contracts_offers(app: Flask) -> None:
    with app.app_context():
        brands = app.extensions["touchpoint.brands"]
        coffee = brands.get("demo-coffee").offers
        assert {"arpeggia", "lavanti", "restritto", "vertuo-next"} <= set(coffee.by_id)
        capsules = ("arpeggia", "lavanti", "restritto")
        for sku in capsules:
            assert coffee.by_id[sku].product == sku
            assert set(coffee.by_id[sku].complements) == set(capsules) - {sku}
            assert coffee.by_id[sku].image is not None  # the product's picture
        assert any(o.kind == "service" for o in coffee.offers)
        assert any("celebrations" in o.topics for o in coffee.offers)
        bank = brands.get("demo-bank").offers
        assert [c.life_event for c in bank.by_id["baby-savings"].audience] == ["expecting_child"]
        energy = brands.get("demo-energy").offers
        assert energy.by_id["energy-tip"].kind == "service"


def test_an_unknown_product_is_refused_with_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, [offer("lavanti", product="lavanti", complements=["arpeggia", "lavanto"])])
    [(file, line, message)] = refused(path)
    assert file == display_path(path)
    assert line == line_of(path, '"lavanto"')
    assert message.startswith("offers[0].complements[1]: unknown product 'lavanto' (products: arpeggia,")


@pytest.mark.parametrize("condition, needle, says", [
    ({"gender": "female"}, '"gender"', "unknown condition 'gender'"),
    ({"age_over": 40}, '"age_over"', "the service never infers gender, age or life stage"),
    ({"life_event": "expecting_child"}, '"life_event"', "needs \"within_days\""),
    ({"life_event": "expecting_chlid", "within_days": 300}, '"expecting_chlid"', "unknown life event"),
    ({"life_event": "expecting_child", "within_days": -3}, '"within_days"', "from 1 to 3650"),
    ({"life_event": "birthday", "within_days": "30"}, '"within_days"', "from 1 to 3650"),
    ({"within_days": 30}, "{", "names no fact"),
])
def test_a_broken_condition_is_refused_with_file_and_line(
    tmp_path: Path, condition: dict[str, Any], needle: str, says: str
) -> None:
    offers = [offer("lavanti", product="lavanti", complements=["arpeggia"]),
              offer("baby", "content", default=True, audience=[condition])]
    path = write(tmp_path, offers)
    [(_, line, message)] = refused(path)
    # The key at fault, or the condition itself when no key is: `{` opening it, after "audience".
    assert line == (line_of(path, needle) if needle != "{" else line_of(path, '"audience"') + 1)
    assert message.startswith("offers[1].audience[0]")
    assert says in message


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    offers = [
        offer("lavanti", product="lavanto", topics=["capsule"], complements=["arpeggia"]),
        offer("lavanti", "advert", default=True),
        offer("machine", product="vertuo-next", refill=True, complements=["arpeggia"]),
        offer("orphan", "content"),
        {**offer("short", "content", default=True), "title": {"en": "Only English"}},
        {**offer("typo", "content", default=True), "colour": "red"},
        offer("pricey", price={"amount": 4.5, "currency": "EUR"}, default=True),
    ]
    path = write(tmp_path, offers, max_blocks={"invoice": 2, "quote": 1})
    problems = refused(path)
    text = "\n".join(f"{file}:{line}: {message}" for file, line, message in problems)
    for expected in (
        "max_blocks.quote: is not a message type",
        "offers[0].product: unknown product 'lavanto'",
        "offers[0].topics[0]: unknown topic 'capsule'",
        "offers[1].kind:",
        "offers[2].refill: only an offer of a refill product",
        "offer 'orphan' can never be chosen",
        "offers[4].title: has no text in nl, fr, de",
        "offers[5].colour: is not a known field",
        'offers[6].price.amount: must be a decimal string such as "4.20", not a JSON number',
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert all(file == display_path(path) for file, _, _ in problems)


def test_duplicate_ids_and_keys_and_bad_json_are_refused(tmp_path: Path) -> None:
    path = write(tmp_path, [offer("tip", "content", default=True), offer("tip", "content", default=True)])
    [(_, line, message)] = refused(path)
    assert line == line_of(path, '"id": "tip"', occurrence=2)
    assert "'tip' is the id of an earlier offer too" in message

    path.write_text('{\n  "offers": [],\n  "offers": []\n}\n')
    assert refused(path) == [(display_path(path), 3, "the key 'offers' is given twice")]

    path.write_text('{\n  "offers": [\n    {"id": "x",}\n  ]\n}\n')
    [(_, line, message)] = refused(path)
    assert line == 3 and message.startswith("not valid JSON")


def test_a_missing_or_broken_picture_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, [offer("tip", "content", default=True, image="offers/missing.png"),
                            offer("escape", "content", default=True, image="../../etc/passwd"),
                            offer("text", "content", default=True, image="offers.json")])
    messages = [message for _, _, message in refused(path)]
    assert messages == [
        "offers[0].image: no file 'offers/missing.png' in the brand's folder",
        "offers[1].image: must be a file inside the brand's folder",
        messages[2],
    ]
    assert messages[2].startswith("offers[2].image: 'offers.json' is not a picture")


def test_the_demo_catalogue_names_its_real_path() -> None:
    path = BRANDS / "demo-coffee" / "offers.json"
    assert display_path(path) == "templates/brands/demo-coffee/offers.json"


def test_a_render_for_a_brand_with_a_broken_catalogue_fails_loudly_naming_file_and_line(
    tmp_path: Path,
) -> None:
    brands = tmp_path / "brands"
    shutil.copytree(BRANDS, brands)
    catalogue = brands / "demo-coffee" / "offers.json"
    catalogue.write_text(catalogue.read_text().replace('"complements": ["vertuo-next"]',
                                                       '"complements": ["vertuo-nxt"]'))
    application = make_app({**_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"),
                              "BRANDS_DIR": str(brands)})
    try:
        response = application.test_client().post("/v1/render", json=load_fixture("invoice/capsules-nl"))
    finally:
        application.extensions["touchpoint.engine"].dispose()
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    problem = response.json
    assert problem["title"] == "Brand data is invalid"
    line = line_of(catalogue, '"vertuo-nxt"')
    assert f"offers.json:{line}: offers[4].complements[0]: unknown product 'vertuo-nxt'" in problem["detail"]
    # Nothing was stored for the failed request.
    assert not any((tmp_path / "artifacts" / "messages").iterdir())


def test_located_json_knows_the_line_of_every_value() -> None:
    document = located.load('{\n  "a": [1,\n    {"b": 2,\n     "c": ["x",\n           "y"]}],\n  "d": {}\n}')
    assert document == {"a": [1, {"b": 2, "c": ["x", "y"]}], "d": {}}
    assert located.line_at(document, ["a", 1, "c", 1]) == 5
    assert located.line_at(document, ["a", 1, "missing"]) == 3
    assert located.line_at(document, ["d"]) == 6
    assert located.line_at(document, []) == 1
