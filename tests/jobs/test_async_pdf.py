"""`Prefer: respond-async` on POST /v1/render: the answer without the PDF, which follows.

The PDF is `pending` in the answer and in GET /v1/messages/{id}, the job runner lays it out,
then it is `ready` with its pages and bytes; a GET of it (or of the .eml that carries it)
meanwhile waits a little and answers 202 with Retry-After.
"""

from __future__ import annotations

import email
import email.policy
import io
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pypdf import PdfReader

from app.jobs.embedded import EmbeddedRunner, drain
from tests.conftest import load_fixture
from tests.jobs.helpers import wait_for

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture
def quick(app: Flask) -> Flask:
    app.config["PDF_PENDING_WAIT"] = 0.2
    return app


def render(client: FlaskClient, name: str = "invoice/capsules-nl", **headers: str) -> dict[str, Any]:
    response = client.post("/v1/render", json=load_fixture(name), headers=headers)
    assert response.status_code == 201, response.json
    return response.json


def fetch(client: FlaskClient, url: str) -> tuple[int, bytes, dict[str, str]]:
    with client.get(url) as response:
        return response.status_code, response.get_data(), dict(response.headers)


def test_the_answer_comes_before_the_pdf_which_follows(quick: Flask) -> None:
    client = quick.test_client()
    response = client.post("/v1/render", json=load_fixture("invoice/capsules-nl"), headers=ASYNC)
    assert response.status_code == 201
    assert response.headers["Preference-Applied"] == "respond-async"
    answer = response.json
    pdf_url = f"/v1/messages/{answer['id']}/document.pdf"
    assert answer["outputs"]["pdf"] == {"url": answer["outputs"]["pdf"]["url"], "status": "pending"}
    assert answer["outputs"]["pdf"]["url"].endswith(pdf_url)
    # Everything else is there at once, and the email already names its attachment.
    assert {"email", "web", "sms"} <= set(answer["outputs"])
    attachments = answer["outputs"]["email"]["attachments"]
    assert [a["content_type"] for a in attachments] == ["application/pdf"]
    assert client.get(f"/v1/messages/{answer['id']}").json["outputs"]["pdf"]["status"] == "pending"

    for url in (pdf_url, f"/v1/messages/{answer['id']}/email.eml"):
        status, body, headers = fetch(client, url)
        assert status == 202 and headers["Retry-After"] == "1", url
        assert b'"pending"' in body

    assert drain(quick) == 1
    pdf = client.get(f"/v1/messages/{answer['id']}").json["outputs"]["pdf"]
    status, data, headers = fetch(client, pdf_url)
    assert status == 200 and headers["Content-Type"] == "application/pdf"
    assert pdf["status"] == "ready" and pdf["bytes"] == len(data)
    assert pdf["pages"] == len(PdfReader(io.BytesIO(data)).pages) >= 1
    assert "factur-x.xml" in PdfReader(io.BytesIO(data)).attachments  # the e-invoice, as before

    # The .eml, built on its first fetch, now carries the very PDF.
    status, raw, _ = fetch(client, f"/v1/messages/{answer['id']}/email.eml")
    assert status == 200
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    attached = [part for part in mail.iter_attachments() if part.get_content_type() == "application/pdf"]
    assert len(attached) == 1 and attached[0].get_content() == data
    assert attached[0].get_filename() == attachments[0]["filename"]


def test_without_the_preference_the_pdf_is_in_the_answer(client: FlaskClient) -> None:
    response = client.post("/v1/render", json=load_fixture("invoice/capsules-nl"))
    assert "Preference-Applied" not in response.headers
    assert response.json["outputs"]["pdf"]["status"] == "ready"
    assert drain(client.application) == 0


def test_without_a_pdf_there_is_nothing_to_defer(client: FlaskClient) -> None:
    request = {**load_fixture("bill/electricity-nl"), "channels": ["email", "sms"]}
    response = client.post("/v1/render", json=request, headers=ASYNC)
    assert response.status_code == 201 and "Preference-Applied" not in response.headers
    assert drain(client.application) == 0


def test_an_appointment_answers_with_its_invite_and_the_pdf_pending(quick: Flask) -> None:
    client = quick.test_client()
    answer = render(client, "appointment/confirmation-nl", **ASYNC)
    assert answer["outputs"]["pdf"]["status"] == "pending"
    assert answer["outputs"]["ics"]["method"] == "REQUEST"
    drain(quick)
    status, raw, _ = fetch(client, f"/v1/messages/{answer['id']}/email.eml")
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    types = sorted(part.get_content_type() for part in mail.iter_attachments())
    assert status == 200 and types == ["application/ics", "application/pdf"]


def test_a_pdf_that_cannot_be_made_says_so_and_the_email_never_goes_without_it(quick: Flask) -> None:
    """The answer promised the PDF as the email's attachment: the email fails with it."""
    client = quick.test_client()
    answer = render(client, **ASYNC)
    quick.config["MAX_PDF_PAGES"] = 0
    drain(quick)
    document = client.get(f"/v1/messages/{answer['id']}").json
    pdf = document["outputs"]["pdf"]
    assert pdf["status"] == "failed"
    assert pdf["problem"]["status"] == 422 and "limit is 0" in pdf["problem"]["detail"]
    assert document["outputs"]["email"]["status"] == "failed"
    assert document["outputs"]["email"]["problem"] == pdf["problem"]
    assert fetch(client, f"/v1/messages/{answer['id']}/document.pdf")[0] == 404
    assert fetch(client, f"/v1/messages/{answer['id']}/email.eml")[0] == 404


def test_a_get_waits_for_the_pdf_the_runner_is_laying_out(app: Flask, tmp_path: Path) -> None:
    """With the runner on, the GET that comes first waits for the PDF and gets it."""
    app.config["PDF_PENDING_WAIT"] = 120.0
    embedded = EmbeddedRunner(app, workers=1)
    embedded.start()
    try:
        wait_for(lambda: embedded.wait_ready(0.1) or not embedded.running, "the pool")
        client = app.test_client()
        answer = render(client, **ASYNC)
        assert answer["outputs"]["pdf"]["status"] == "pending"
        embedded.wake()
        status, data, _ = fetch(client, f"/v1/messages/{answer['id']}/document.pdf")
    finally:
        embedded.stop()
    assert status == 200 and data.startswith(b"%PDF-")
    assert client.get(f"/v1/messages/{answer['id']}").json["outputs"]["pdf"]["status"] == "ready"


def test_an_idempotent_retry_replays_the_first_answer(quick: Flask) -> None:
    client = quick.test_client()
    first = client.post("/v1/render", json=load_fixture("invoice/capsules-nl"),
                        headers={**ASYNC, "Idempotency-Key": "async-1"})
    again = client.post("/v1/render", json=load_fixture("invoice/capsules-nl"),
                        headers={**ASYNC, "Idempotency-Key": "async-1"})
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == first.json["id"]
    assert drain(quick) == 1  # one PDF, for the one message
