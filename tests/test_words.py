"""The words on customer documents: what a customer reads, never our internal codes."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
from flask import Flask
from pypdf import PdfReader

from app.pipeline.compose.words import sentences
from tests.conftest import fixture_paths

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
