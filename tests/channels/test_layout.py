"""The PDF's layout with our user-agent stylesheet (app/channels/layout.py): WeasyPrint's own
less the rules that give every element pseudo-elements, proved to change no byte of any
fixture's PDF, and to keep what those rules were for (a list's markers)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import weasyprint
from flask import Flask
from weasyprint.html import UA

from app.channels import layout, pdf
from app.pipeline import prepare_message
from app.store import artifacts
from app.store.artifacts import ArtifactStore
from tests.conftest import PUBLIC_BASE_URL, fixture_paths, load_fixture

FIXTURES = [f"{path.parent.name}/{path.stem}" for path in fixture_paths()]


@pytest.fixture(scope="module")
def context(module_app: Flask) -> Iterator[Flask]:
    with module_app.test_request_context():
        yield module_app


def lay_out(name: str) -> Callable[[], bytes]:
    """The fixture's PDF as the channel lays it out (the call the sandbox's child makes), from
    one prepared message: each call lays the same HTML out again."""
    message, enriched = prepare_message({**load_fixture(name), "channels": ["pdf"]})
    html, einvoice, _ = pdf.document_source(message, enriched)
    pending = {asset.drawn.digest: asset.data for asset in (*enriched.assets, *message.assets)}
    return lambda: layout.lay_out(html, artifacts().root, enriched.public_base_url, einvoice,
                                  enriched.now, pending)[0]


def test_only_the_rules_of_every_elements_pseudo_elements_are_changed() -> None:
    theirs, ours = UA.splitlines(), layout.user_agent_text().splitlines()
    assert sorted(set(theirs) - set(ours)) == sorted(
        line for line in theirs if line.startswith(("::marker {", "::footnote-", "::note-")))
    assert len(set(theirs) - set(ours)) == 6
    assert [line for line in ours if line not in theirs] == [
        "li::marker, summary::marker { font-variant-numeric: tabular-nums; white-space: pre; "
        "text-transform: none }"]


@pytest.mark.parametrize("name", FIXTURES)
def test_every_byte_of_the_pdf_is_the_same_as_with_weasyprints_own_stylesheet(
        context: Flask, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    again = lay_out(name)
    ours = again()
    monkeypatch.setattr(layout, "_Document", weasyprint.HTML)
    assert again() == ours


def test_a_list_keeps_its_markers(tmp_path: Path) -> None:
    html = ("<!doctype html><html><head><style>body { font-family: 'DejaVu Sans' }</style></head>"
            "<body><ol><li>first</li><li>second</li></ol><ul><li>bullet</li></ul></body></html>")
    fetcher = layout.OwnAssetsFetcher(ArtifactStore(tmp_path / "artifacts"), PUBLIC_BASE_URL)
    data, pages = layout.render_document(html, fetcher)
    text = subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True,
                          check=True).stdout.decode()
    assert pages == 1
    assert "1. first" in text and "2. second" in text and "• bullet" in text


def test_weasyprint_lays_out_with_our_stylesheet(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    # The hook is WeasyPrint's own (HTML._ua_stylesheets): were it renamed, this fails
    # rather than lose the saving unseen.
    asked: list[bool] = []
    original = layout._Document._ua_stylesheets

    def spy(self: layout._Document, forms: bool | None = False) -> list[weasyprint.CSS]:
        asked.append(forms)
        return original(self, forms)

    monkeypatch.setattr(layout._Document, "_ua_stylesheets", spy)
    fetcher = layout.OwnAssetsFetcher(ArtifactStore(tmp_path / "artifacts"), PUBLIC_BASE_URL)
    layout.render_document("<p>Hello</p>", fetcher)
    assert len(asked) == 1 and not asked[0]  # once, without forms
