"""Helpers for the appointment tests: render, open a customer page, read its form, submit it."""

from __future__ import annotations

import html
import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from tests.conftest import PUBLIC_BASE_URL, ROOT, load_fixture

_COMPILED: dict[str, Any] = {}


def share_templates(app: Flask) -> Flask:
    """Give the app the templates an earlier app compiled: each test keeps its own database,
    but MJML compiles once per run instead of once per test (it is the slow part of a render)."""
    app.extensions["touchpoint.jinja"] = _COMPILED.setdefault("jinja", app.extensions["touchpoint.jinja"])
    return app


def render(client: FlaskClient, document: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/render", json=document)
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json is not None
    return response.json


def path(url: str) -> str:
    assert url.startswith(PUBLIC_BASE_URL + "/"), url
    return url.removeprefix(PUBLIC_BASE_URL)


def actions(answer: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {action["kind"]: action for action in answer["actions"]}


# What the action tests open; the PDF (the slow channel) is tested with the fixtures.
CHANNELS = ["email", "web", "ics"]


def appointment(name: str = "appointment/reminder-en-initials", **data: Any) -> dict[str, Any]:
    """A fixture with `data` changed; by default an English reminder with two slots."""
    document = load_fixture(name) | {"channels": CHANNELS}
    document["data"].update(data)
    return document


@dataclass
class Form:
    url: str
    csrf: str
    sequence: str
    slots: list[str]
    page: str

    def fields(self, **changes: str | None) -> dict[str, str]:
        fields = {"csrf": self.csrf, "sequence": self.sequence, **changes}
        return {name: value for name, value in fields.items() if value is not None}


def get_page(client: FlaskClient, url: str) -> TestResponse:
    return client.get(path(url) if url.startswith("http") else url, buffered=True)


def open_form(client: FlaskClient, url: str) -> Form:
    """GET a reschedule or cancel page, as a browser would, and read its form."""
    response = get_page(client, url)
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    page = response.get_data(as_text=True)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    sequence = re.search(r'name="sequence" value="([^"]+)"', page)
    assert csrf and sequence, page[:2000]
    return Form(path(url) if url.startswith("http") else url, html.unescape(csrf.group(1)),
                sequence.group(1), re.findall(r'name="slot" value="([^"]+)"', page), page)


def submit(client: FlaskClient, form: Form, **fields: str | None) -> TestResponse:
    return client.post(form.url, data=form.fields(**fields))


def text_of(page: str) -> str:
    """A page's text, roughly as read: tags out, entities and spaces resolved."""
    text = re.sub(r"<style.*?</style>|<script.*?</script>", " ", page, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", " ", text))
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " ")).strip()


def brands_with(tmp_path: Path, **fields: Any) -> Path:
    """A copy of the project's brands, demo-bank's brand.json with `fields` (None: removed)."""
    brands = tmp_path / "brands"
    shutil.copytree(ROOT / "templates" / "brands", brands)
    path = brands / "demo-bank" / "brand.json"
    raw = json.loads(path.read_text(encoding="utf-8"))
    for name, value in fields.items():
        if value is None:
            raw.pop(name, None)
        else:
            raw[name] = value
    path.write_text(json.dumps(raw, indent=2), encoding="utf-8")
    return brands
