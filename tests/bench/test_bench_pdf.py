"""The PDF benchmark's pieces work (bench/pdf_cpu.py): the lean reference of each type is a
real document of the same message, and the memory run lays PDFs out. Its figures are printed
for people, never asserted here."""

from __future__ import annotations

import io
import json
import subprocess

import pytest
from flask import Flask
from pypdf import PdfReader

from bench import pdf_cpu
from tests.conftest import FIXTURES


@pytest.mark.parametrize("name", ["appointment/confirmation-nl", "invoice/capsules-nl",
                                  "bill/electricity-nl"])
def test_the_lean_reference_holds_the_message(app: Flask, name: str) -> None:
    document = json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))
    with app.app_context():
        calls, _ = pdf_cpu.layouts(document)
        lean, pages = calls["lean"]()
    text = subprocess.run(["pdftotext", "-", "-"], input=lean, capture_output=True, check=True).stdout
    assert pages == len(PdfReader(io.BytesIO(lean)).pages)
    assert document["recipient"]["name"]["given"] in text.decode()
    if document["type"] == "bill":
        assert pages == 2  # the floor's bill: what to pay on page 1, the usage on page 2


def test_the_memory_run_lays_out_pdfs(app: Flask) -> None:
    with app.app_context():
        rss = pdf_cpu.rss_growth(2)
    assert rss["pdfs"] == 2 and rss["after_mb"] > 0
