"""GET /v1/customers/{id}/export: one streamed ZIP with every stored row and file of the customer,
and nothing of another customer; the archive's access rules; 404 when nothing is stored."""

from __future__ import annotations

import io
import json
import re
import zipfile
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.store import session
from app.store.models import Base
from tests.conftest import PUBLIC_BASE_URL, add_key, load_fixture

CUSTOMER = "c-5101"  # invoice/cross-sell-arpeggia-en
OTHER = "c-2001"  # bill/electricity-nl
# A replayed answer is a copy of the message's own answer (message.json): not exported twice.
NOT_EXPORTED = {"idempotency_keys"}


def render(client: FlaskClient, fixture: str, channels: list[str]) -> dict[str, Any]:
    document = load_fixture(fixture)
    document["channels"] = channels
    answer = client.post("/v1/render", json=document)
    assert answer.status_code == 201, answer.json
    return answer.json


@pytest.fixture
def stored(app: Flask, client: FlaskClient) -> dict[str, Any]:
    """Two customers with messages, a click, a preference change and a profile each."""
    client.put(f"/v1/profiles/{CUSTOMER}", json={"name": {"given": "Emma", "family": "Claes"},
                                                  "email": "emma@example.com", "locale": "nl-BE"})
    client.put(f"/v1/profiles/{OTHER}", json={"name": {"given": "Jules", "family": "Otherone"},
                                               "email": "jules@example.com"})
    mine = [render(client, "invoice/cross-sell-arpeggia-en", ["email", "web", "pdf"]),
            render(client, "invoice/cross-sell-arpeggia-en", ["email"])]
    theirs = [render(client, "bill/electricity-nl", ["email", "web"])]
    click = re.search(rf'href="{re.escape(PUBLIC_BASE_URL)}(/c/[^"]+)"', mine[0]["outputs"]["email"]["html"])
    client.get(click.group(1))
    with client.get(f"/v1/messages/{mine[0]['id']}/email.eml"):
        pass  # built and stored on first fetch: a file of the message too
    header = mine[1]["outputs"]["email"]["headers"]["List-Unsubscribe"]
    unsubscribe = re.search(r"<https?://[^>]+(/u/[^>]+)>", header)
    assert app.test_client(key=None).post(unsubscribe.group(1),
                                          data={"List-Unsubscribe": "One-Click"}).status_code == 200
    return {"mine": mine, "theirs": theirs}


def export(client: FlaskClient, customer_id: str = CUSTOMER) -> zipfile.ZipFile:
    response = client.get(f"/v1/customers/{customer_id}/export")
    assert response.status_code == 200 and response.mimetype == "application/zip"
    assert response.is_streamed
    assert response.headers["Content-Disposition"] == f'attachment; filename="{customer_id}-export.zip"'
    return zipfile.ZipFile(io.BytesIO(response.data))


def test_the_zip_holds_every_file_of_the_customer(client: FlaskClient, stored: dict[str, Any]) -> None:
    archive = export(client)
    assert archive.testzip() is None
    for answer in stored["mine"]:
        files = {name.rsplit("/", 1)[1] for name in archive.namelist()
                 if name.startswith(f"messages/{answer['id']}/")}
        expected = {"message.json", "email.html", "email.txt"}
        expected |= {"page.html"} if "web" in answer["outputs"] else set()
        expected |= {"document.pdf", "email.eml"} if "pdf" in answer["outputs"] else set()
        assert files == expected
        for name in files - {"message.json"}:
            with client.get(f"/v1/messages/{answer['id']}/{name}") as original:
                assert archive.read(f"messages/{answer['id']}/{name}") == original.data, name
        message = json.loads(archive.read(f"messages/{answer['id']}/message.json"))
        assert message["document"] == client.get(f"/v1/messages/{answer['id']}").json


def test_the_zip_holds_every_row_of_the_customer_and_nothing_of_another(
    app: Flask, client: FlaskClient, stored: dict[str, Any],
) -> None:
    archive = export(client)
    text = "\n".join(archive.read(name).decode("utf-8", "replace") for name in archive.namelist())
    mine = {answer["id"] for answer in stored["mine"]}
    theirs = {answer["id"] for answer in stored["theirs"]}
    # Every row of every table that names this customer or one of their messages is in it.
    with app.app_context():
        db = session()
        for table in Base.metadata.sorted_tables:
            if table.name in NOT_EXPORTED:
                continue
            for row in db.execute(select(table)):
                values = [str(value) for value in row]
                if not any(CUSTOMER in value or any(m in value for m in mine) for value in values):
                    continue
                keys = [str(getattr(row, column.name)) for column in table.primary_key.columns]
                assert all(key in text for key in keys), f"{table.name} {keys} is not in the export"
    profile = json.loads(archive.read("profile.json"))
    assert profile["customer_id"] == CUSTOMER and profile["data"]["email"] == "emma@example.com"
    actions = json.loads(archive.read("actions.json"))
    assert {action["kind"] for action in actions} == {"offer_clicked", "preferences_changed"}
    # Each detail the object it holds, as the archive and /activity show it.
    details = {action["kind"]: action["detail"] for action in actions}
    assert list(details["offer_clicked"]) == ["offer"]
    assert details["preferences_changed"]["source"] == "one_click"
    decisions = json.loads(archive.read("personalisation.json"))
    assert {d["message_id"] for d in decisions} == mine
    assert all(d["blocks"] and d["suppressed"] for d in decisions)
    [change] = json.loads(archive.read("preference_changes.json"))
    assert change["source"] == "one_click" and change["customer_id"] == CUSTOMER
    # Nothing of the other customer.
    for leak in (OTHER, "Otherone", "jules@example.com", *theirs):
        assert leak not in text


def test_the_readme_speaks_the_customer_language(client: FlaskClient, stored: dict[str, Any]) -> None:
    readme = export(client).read("README.txt").decode()
    assert readme.startswith("Uw gegevens\n")  # the profile's locale: nl-BE
    assert "personalisation.json: " in readme and "profile.json: " in readme


def test_the_archive_access_rules(app: Flask, client: FlaskClient, stored: dict[str, Any]) -> None:
    energy_only = app.test_client(key=add_key(app, "energy", ("messages:read",), ["demo-energy"]))
    assert energy_only.get(f"/v1/customers/{CUSTOMER}/export").status_code == 404  # none of its brand
    coffee = app.test_client(key=add_key(app, "coffee", ("messages:read",), ["demo-coffee"]))
    archive = export(coffee)
    assert "profile.json" not in archive.namelist()  # this key may not read profiles
    assert {name.split("/")[1] for name in archive.namelist() if name.startswith("messages/")} == \
        {answer["id"] for answer in stored["mine"]}
    no_scope = app.test_client(key=add_key(app, "renderer", ("render",)))
    refused = no_scope.get(f"/v1/customers/{CUSTOMER}/export")
    assert refused.status_code == 403 and refused.json["scope"] == "messages:read"
    assert app.test_client(key=None).get(f"/v1/customers/{CUSTOMER}/export").status_code == 401


def test_nothing_stored_is_a_404_and_a_bad_id_a_422(client: FlaskClient) -> None:
    missing = client.get("/v1/customers/c-nobody/export")
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"
    bad = client.get("/v1/customers/not%20an%20id/export")
    assert bad.status_code == 422 and bad.json["errors"][0]["path"] == "customer_id"


def test_an_erased_customer_has_nothing_to_export(client: FlaskClient, stored: dict[str, Any]) -> None:
    assert client.delete(f"/v1/profiles/{CUSTOMER}").status_code == 200
    assert client.get(f"/v1/customers/{CUSTOMER}/export").status_code == 404
