"""The words on customer documents: what a customer reads, never our internal codes."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from pypdf import PdfReader

from app.pipeline.compose.words import sentences
from tests.conftest import ROOT, fixture_paths

BRANDS = ROOT / "templates" / "brands"

WITH_SKUS = [pytest.param(path, id=f"{path.parent.name}/{path.stem}") for path in fixture_paths()
             if any(line.get("sku") for line in json.loads(path.read_text())["data"].get("lines", []))]


@pytest.mark.parametrize("path", WITH_SKUS)
def test_no_product_code_on_the_page_or_the_pdf(module_app: Flask, path: Path) -> None:
    request = json.loads(path.read_text(encoding="utf-8"))
    request["channels"] = ["web", "pdf"]
    client = module_app.test_client()
    answer = client.post("/v1/render", json=request)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    message = answer.json["id"]
    with client.get(f"/v1/messages/{message}/page.html") as page:
        html = page.get_data(as_text=True)
    with client.get(f"/v1/messages/{message}/document.pdf") as pdf:
        text = " ".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    for line in request["data"]["lines"]:
        if line.get("sku"):
            assert line["description"].split(",")[0][:20] in html  # the line itself is there
            assert f"({line['sku']})" not in html and f"({line['sku']})" not in text, line["sku"]



def test_preheader_parts_are_written_as_sentences() -> None:
    assert sentences("1 okt 2026 tot en met 31 okt 2026", None, " ",
                     "uiterlijk te betalen op 25 november 2026", "15% meer dan in oktober 2025.") == (
        "1 okt 2026 tot en met 31 okt 2026. Uiterlijk te betalen op 25 november 2026. "
        "15% meer dan in oktober 2025.")


@pytest.mark.parametrize("path", [pytest.param(path, id=f"{path.parent.name}/{path.stem}")
                                  for path in fixture_paths()])
def test_the_preheader_reads_as_sentences(module_app: Flask, path: Path) -> None:
    request = json.loads(path.read_text(encoding="utf-8")) | {"channels": ["email"]}
    answer = module_app.test_client().post("/v1/render", json=request)
    assert answer.status_code == 201, answer.get_data(as_text=True)
    preheader = answer.json["outputs"]["email"]["preheader"]
    assert preheader.endswith(".") and not preheader[0].islower(), preheader
    if request["type"] == "bill":
        # Its period and when to pay (and the usage, when known) are sentences of their own,
        # never the bare run "1 okt 2026 tot en met 31 okt 2026 Uiterlijk te betalen op …".
        assert re.search(r"[.!?] (?=[A-ZÀ-ÖØ-Þ0-9])", preheader), preheader


# English words no Dutch, French or German text has (so not "of", "last" or "box", which are
# Dutch or German words too), from the line names and items the fixtures once had in English.
ENGLISH = {"the", "your", "and", "with", "energy", "network", "costs", "taxes", "levies", "identity",
           "card", "pay", "slips", "mortgage", "review", "branch", "advisor", "savings", "sleeve",
           "brussels", "rental", "replacement"}


def _customer_texts(value: Any) -> Iterator[str]:
    """Every text of a request the customer may read: its strings, less links, addresses and
    time zones (`Europe/Brussels` is a name, not English)."""
    if isinstance(value, str):
        if "://" not in value and "@" not in value and not value.startswith("data:"):
            yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key != "timezone":
                yield from _customer_texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _customer_texts(item)


def test_the_english_word_list_catches_english() -> None:
    words = {word.lower() for text in _customer_texts(
        {"charges": [{"description": "Energy"}], "prepare": ["Your identity card"],
         "tips_url": "https://energy.example/save"}) for word in re.findall(r"[^\W\d_]+", text)}
    assert words & ENGLISH == {"energy", "your", "identity", "card"}


NOT_ENGLISH = [pytest.param(path, id=f"{path.parent.name}/{path.stem}") for path in fixture_paths()
               if not json.loads(path.read_text(encoding="utf-8"))["locale"].startswith("en")]


@pytest.mark.parametrize("path", NOT_ENGLISH)
def test_a_fixture_speaks_its_own_language(path: Path) -> None:
    request = json.loads(path.read_text(encoding="utf-8"))
    brand = json.loads((BRANDS / request["brand"] / "brand.json").read_text(encoding="utf-8"))["name"]
    # The brand's name ("Demo Energy") is a name in every language.
    texts = [text.replace(brand, "") for text in _customer_texts([request["data"], request["recipient"]])]
    english = sorted({(word, text) for text in texts
                      for word in re.findall(r"[^\W\d_]+", text) if word.lower() in ENGLISH})
    assert not english, f"{request['locale']} fixture with English words: {english}"
