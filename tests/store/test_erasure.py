"""Erasure (DELETE /v1/profiles/{id}) leaves no copy of the customer anywhere: every row of
every table, read back as text, and every file, kept in a row or under ARTIFACT_DIR (PDFs as
their text), are searched for the customer's name and email after each kind of thing that stores them."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.jobs.embedded import drain
from app.jobs.models import JobItem
from app.store import session
from app.store.models import Artifact, Base
from tests.appointments.helpers import actions, appointment, open_form, render, share_templates, submit
from tests.conftest import load_fixture
from tests.personalise.helpers import click_links

CUSTOMER = "c-erase-7"
GIVEN, FAMILY = "Quillonia", "Brackenthorpe"
EMAIL = "quillonia.brackenthorpe@example.org"
TRACES = (GIVEN, FAMILY, EMAIL)


def _as_customer(document: dict[str, Any], channels: list[str]) -> dict[str, Any]:
    recipient = {**document["recipient"], "customer_id": CUSTOMER, "email": EMAIL,
                 "name": {"given": GIVEN, "family": FAMILY}}
    return {**document, "recipient": recipient, "channels": channels}


def _everything_stored(client: FlaskClient, app: Flask) -> None:
    """A profile, an invoice (PDF too) whose offer is clicked, a bill, an appointment the
    customer reschedules (a webhook), and a job of two items (one invalid)."""
    profile = {"name": {"given": GIVEN, "family": FAMILY}, "email": EMAIL}
    assert client.put(f"/v1/profiles/{CUSTOMER}", json=profile).status_code == 201
    invoice = render(client, _as_customer(load_fixture("invoice/cross-sell-arpeggia-en"),
                                          ["email", "web", "pdf", "sms"]))
    assert client.get(next(iter(click_links(invoice).values()))).status_code == 302
    render(client, _as_customer(load_fixture("bill/electricity-nl"), ["email", "web", "sms"]))
    booked = render(client, _as_customer(appointment(), ["email", "web", "ics", "sms"]))
    form = open_form(client, actions(booked)["reschedule"]["url"])
    assert submit(client, form, slot=form.slots[-1]).status_code == 303
    job_items = [_as_customer(load_fixture("invoice/capsules-nl"), ["email"]) for _ in range(2)]
    job_items[1]["data"] = {**job_items[1]["data"], "currency": "EURO"}
    assert client.post("/v1/jobs", json={"items": job_items}).status_code == 202
    assert drain(app) == 2
    with client.get(f"/v1/messages/{booked['id']}/email.eml") as eml:  # built and stored now
        assert eml.status_code == 200


def _as_text(data: bytes) -> str:
    """Bytes as text; a PDF's text is compressed: read it as a reader would."""
    if data.startswith(b"%PDF-"):
        return subprocess.run(["pdftotext", "-", "-"], input=data, capture_output=True,
                              check=True).stdout.decode()
    return data.decode("utf-8", "replace")


def _rows_as_text(app: Flask) -> str:
    with app.app_context():
        db = session()
        return "\n".join(
            _as_text(value) if isinstance(value, bytes) else repr(value)
            for table in Base.metadata.sorted_tables for row in db.execute(select(table)) for value in row)


def _files_as_text(root: Path) -> str:
    found = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        found.append(str(path.relative_to(root)))
        found.append(_as_text(path.read_bytes()))
    return "\n".join(found)


def test_erasure_leaves_no_copy_of_the_customer(any_app: Flask) -> None:
    app = share_templates(any_app)
    client = app.test_client()
    root = Path(app.config["ARTIFACT_DIR"])
    _everything_stored(client, app)
    # The traces are there to find: the search below can fail. The invoice's PDF, kept in its
    # row, is read as text too.
    for text in (_rows_as_text(app), _files_as_text(root)):
        assert all(trace in text for trace in TRACES)
    with app.app_context():
        pdf = session().scalar(select(Artifact.content).where(Artifact.name == "document.pdf"))
        assert pdf is not None and GIVEN in _as_text(pdf)

    response = client.delete(f"/v1/profiles/{CUSTOMER}")
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.json["erased"]["profile"] is True
    assert response.json["erased"]["messages"] >= 5

    rows, files = _rows_as_text(app), _files_as_text(root)
    for trace in TRACES:
        assert trace not in rows, f"{trace} is still in the database"
        assert trace not in files, f"{trace} is still under ARTIFACT_DIR"
    # The job keeps its items (its counts hold), without their inputs.
    with app.app_context():
        assert [item.request for item in session().scalars(select(JobItem))] == [None, None]
    assert client.get(f"/v1/customers/{CUSTOMER}/messages").json["items"] == []
