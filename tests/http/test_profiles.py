"""PUT / PATCH / GET / DELETE /v1/profiles/{customer_id}: validation, merge patch, ETags, erasure."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.store.models import Artifact, Message, Note, OfferShown
from tests.conftest import load_fixture

PROFILE: dict[str, Any] = {
    "customer_id": "c-1001",
    "name": {"given": "David", "family": "Janssens"},
    "email": "david@example.com", "phone": "+32470123456",
    "locale": "nl-BE", "timezone": "Europe/Brussels",
    "consents": {"marketing": True},
    "preferences": {"channels": ["email", "sms"], "topics_off": ["celebrations"]},
    "purchases": [{"sku": "arpeggia", "date": "2026-10-02", "quantity": 5}],
    "interests": ["basketball"],
    "life_events": [{"type": "expecting_child", "date": "2022-05-01"}],
    "open_tickets": [{"id": "T-88", "opened": "2026-11-18", "topic": "delivery"}],
}
MERGE = "application/merge-patch+json"


def tomorrow_but_one() -> str:
    return (datetime.now(UTC).date() + timedelta(days=2)).isoformat()


def paths(response: Any) -> dict[str, str]:
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return {error["path"]: error["message"] for error in response.json["errors"]}


def test_put_then_get_answers_the_contracts_profile(any_client: FlaskClient) -> None:
    created = any_client.put("/v1/profiles/c-1001", json=PROFILE)
    assert created.status_code == 201
    assert created.headers["Location"] == "/v1/profiles/c-1001"
    assert created.json == PROFILE
    etag = created.headers["ETag"]
    fetched = any_client.get("/v1/profiles/c-1001")
    assert fetched.status_code == 200 and fetched.json == PROFILE
    assert fetched.headers["ETag"] == etag
    # PUT replaces: what the new document does not say is gone.
    replaced = any_client.put("/v1/profiles/c-1001", json={"email": "d@example.com"})
    assert replaced.status_code == 200
    assert replaced.json == {"customer_id": "c-1001", "email": "d@example.com"}
    assert replaced.headers["ETag"] != etag


def test_patch_merges_a_json_merge_patch(client: FlaskClient) -> None:
    client.put("/v1/profiles/c-1001", json=PROFILE)
    patch = {"consents": {"marketing": False}, "open_tickets": None,
             "preferences": {"topics_off": []}, "name": {"family": None}}
    for content_type in (MERGE, "application/json"):
        response = client.patch("/v1/profiles/c-1001", data=json.dumps(patch), content_type=content_type)
        assert response.status_code == 200, response.get_data(as_text=True)
    profile = response.json
    assert profile["consents"] == {"marketing": False}
    assert "open_tickets" not in profile
    assert profile["preferences"] == {"channels": ["email", "sms"], "topics_off": []}
    assert profile["name"] == {"given": "David"}
    assert profile["purchases"] == PROFILE["purchases"]  # untouched
    assert client.get("/v1/profiles/c-1001").json == profile


def test_patch_refuses_json_patch_and_what_it_cannot_merge(client: FlaskClient) -> None:
    client.put("/v1/profiles/c-1001", json=PROFILE)
    response = client.patch("/v1/profiles/c-1001", data='[{"op": "remove", "path": "/email"}]',
                            content_type="application/json-patch+json")
    assert response.status_code == 415
    assert client.patch("/v1/profiles/c-1001", data="[]", content_type=MERGE).status_code == 422
    # The merged result is validated like a PUT.
    errors = paths(client.patch("/v1/profiles/c-1001", data='{"consents": {"marketing": "yes"}}',
                                content_type=MERGE))
    assert set(errors) == {"consents.marketing"}
    assert client.get("/v1/profiles/c-1001").json == PROFILE
    assert client.patch("/v1/profiles/c-nobody", data="{}", content_type=MERGE).status_code == 404


def test_etags_make_writes_conditional(client: FlaskClient) -> None:
    etag = client.put("/v1/profiles/c-1001", json=PROFILE).headers["ETag"]
    assert client.get("/v1/profiles/c-1001", headers={"If-None-Match": etag}).status_code == 304
    stale = client.patch("/v1/profiles/c-1001", data='{"email": "a@example.com"}', content_type=MERGE,
                         headers={"If-Match": '"something-else"'})
    assert stale.status_code == 412
    assert stale.mimetype == "application/problem+json"
    ok = client.patch("/v1/profiles/c-1001", data='{"email": "a@example.com"}', content_type=MERGE,
                      headers={"If-Match": etag})
    assert ok.status_code == 200
    # The first writer's ETag is stale now: a second writer with it loses, nothing is overwritten.
    assert client.put("/v1/profiles/c-1001", json=PROFILE, headers={"If-Match": etag}).status_code == 412
    assert client.get("/v1/profiles/c-1001").json["email"] == "a@example.com"
    create_only = {"If-None-Match": "*"}
    assert client.put("/v1/profiles/c-1001", json=PROFILE, headers=create_only).status_code == 412
    assert client.put("/v1/profiles/c-new", json={}, headers=create_only).status_code == 201
    assert client.delete("/v1/profiles/c-1001", headers={"If-Match": etag}).status_code == 412


def test_get_and_delete_of_an_unknown_customer_is_404(client: FlaskClient) -> None:
    for response in (client.get("/v1/profiles/c-nobody"), client.delete("/v1/profiles/c-nobody")):
        assert response.status_code == 404
        assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize("bad_id", [
    "..", "../etc", "a/b", "..%2Fetc%2Fpasswd", "%2e%2e", "c 1", "c%001", "-leading-dash", "x" * 129,
])
def test_a_customer_id_with_path_characters_is_refused(client: FlaskClient, bad_id: str) -> None:
    for method in ("get", "put", "delete"):
        response = getattr(client, method)(f"/v1/profiles/{bad_id}", json={})
        assert set(paths(response)) == {"customer_id"}, (method, bad_id)
    assert set(paths(client.get(f"/v1/customers/{bad_id}/messages"))) == {"customer_id"}
    assert not any(Path(client.application.config["ARTIFACT_DIR"]).parent.glob("etc*"))


def test_the_body_must_name_the_same_customer(client: FlaskClient) -> None:
    errors = paths(client.put("/v1/profiles/c-1001", json={**PROFILE, "customer_id": "c-2002"}))
    assert errors == {"customer_id": "is 'c-2002' but the URL names 'c-1001'"}


def test_dates_in_the_future_are_refused_where_they_make_no_sense(client: FlaskClient) -> None:
    future = tomorrow_but_one()
    profile = {
        "purchases": [{"sku": "arpeggia", "date": "2026-10-02"}, {"sku": "lavanti", "date": future}],
        "life_events": [{"type": "expecting_child", "date": future}],
        "open_tickets": [{"id": "T-1", "opened": future},
                         {"id": "T-2", "opened": "2026-11-10", "closed": "2026-11-01"}],
    }
    errors = paths(client.put("/v1/profiles/c-1001", json=profile))
    assert set(errors) == {"purchases[1].date", "life_events[0].date", "open_tickets[0].opened",
                           "open_tickets[1]"}
    assert "is in the future" in errors["purchases[1].date"]
    assert errors["open_tickets[1]"] == "closed is before opened"
    # Today is fine (and tomorrow, where the customer's day may already have begun).
    today = {"purchases": [{"sku": "arpeggia", "date": (date.today() + timedelta(days=1)).isoformat()}]}
    assert client.put("/v1/profiles/c-1001", json=today).status_code == 201
    # Inline profile fields of a render request are held to the same rule.
    request = load_fixture("invoice/capsules-nl")
    request["recipient"]["life_events"] = [{"type": "birthday", "date": future}]
    assert set(paths(client.post("/v1/render", json=request))) == {"recipient.life_events[0].date"}


@pytest.mark.parametrize("consents, path", [
    ({"marketing": "yes"}, "consents.marketing"),
    ({"marketing": 1}, "consents.marketing"),
    ({"marketing": None}, "consents.marketing"),
    ({"marketing": "unknown"}, "consents.marketing"),
    ({"market ing": True}, "consents.market ing"),
    (["marketing"], "consents"),
])
def test_unknown_consent_values_are_refused(client: FlaskClient, consents: Any, path: str) -> None:
    errors = paths(client.put("/v1/profiles/c-1001", json={"consents": consents}))
    assert path in errors or any(p.startswith(path) for p in errors), errors


@pytest.mark.parametrize("channels, path, words", [
    (["email", "fax"], "preferences.channels[1]", ("'fax'", "email, web, pdf, ics, sms")),
    (["email", "email"], "preferences.channels", ("twice",)),
    (["E-mail"], "preferences.channels[0]", ("pattern",)),
])
def test_preferred_channels_are_channels(client: FlaskClient, channels: list[str], path: str,
                                         words: tuple[str, ...]) -> None:
    errors = paths(client.put("/v1/profiles/c-1001", json={"preferences": {"channels": channels}}))
    assert list(errors) == [path], errors
    assert all(word in errors[path] for word in words), errors
    assert client.get("/v1/profiles/c-1001").status_code == 404


def test_unknown_fields_and_malformed_bodies_are_refused(client: FlaskClient) -> None:
    errors = paths(client.put("/v1/profiles/c-1001", json={"gender": "female", "age": 40}))
    assert errors == {"gender": "is not a known field", "age": "is not a known field"}
    assert client.put("/v1/profiles/c-1001", data="{", content_type="application/json").status_code == 400
    assert client.put("/v1/profiles/c-1001", data="{}", content_type="text/plain").status_code == 415
    assert client.put("/v1/profiles/c-1001", json=[]).status_code == 422


def test_thousands_of_purchases_are_stored_and_used(client: FlaskClient) -> None:
    start = datetime.now(UTC).date() - timedelta(days=1999)
    purchases = [{"sku": ("arpeggia", "lavanti", "restritto", "vertuo-next")[n % 4] if n < 4000
                  else f"sku-{n}", "date": (start + timedelta(days=n % 2000)).isoformat(), "quantity": 1}
                 for n in range(5000)]
    profile = {"consents": {"marketing": True}, "purchases": purchases}
    response = client.put("/v1/profiles/c-big", json=profile)
    assert response.status_code == 201
    assert len(client.get("/v1/profiles/c-big").json["purchases"]) == 5000
    request = {**load_fixture("invoice/capsules-nl"), "channels": ["sms"]}
    request["recipient"] = {"customer_id": "c-big"}
    answer = client.post("/v1/render", json=request).json
    # Owns every capsule and the machine: only what is not owned remains.
    assert {entry["reason"] for entry in answer["personalisation"]["suppressed"]} == {"owned"}
    assert [block["offer"] for block in answer["personalisation"]["blocks"]] == ["descaling",
                                                                                "capsule-recycling"]
    too_many = client.put("/v1/profiles/c-big", json={"purchases": purchases * 3})
    assert set(paths(too_many)) == {"purchases"}


def _count(app: Flask, model: Any, **where: Any) -> int:
    with app.extensions["touchpoint.db"]() as db:
        query = select(func.count()).select_from(model)
        for name, value in where.items():
            query = query.where(getattr(model, name) == value)
        return db.scalar(query) or 0


def test_delete_erases_the_profile_the_archive_and_the_files(any_app: Flask) -> None:
    # Every file on disk, to see it go; the bytes kept in rows go with the artifact rows,
    # counted below (and tests/store/test_erasure.py reads every table after an erasure).
    any_app.extensions["touchpoint.artifacts"].inline_bytes = 0
    client = any_app.test_client()
    client.put("/v1/profiles/c-1001", json=PROFILE)
    request = load_fixture("invoice/cross-sell-arpeggia-en")
    request["recipient"]["customer_id"] = "c-1001"
    mine = [client.post("/v1/render", json=request, headers={"Idempotency-Key": f"k-{n}"}).json["id"]
            for n in range(2)]
    other = client.post("/v1/render", json=load_fixture("invoice/capsules-nl")
                        | {"recipient": {"customer_id": "c-2002"}}).json["id"]
    # A click on one of the messages is an event in the archive too.
    with any_app.test_request_context():
        from app.store import customers

        customers.record_event(mine[0], "offer_clicked", {"offer": "lavanti"})
    messages_dir = Path(any_app.config["ARTIFACT_DIR"]) / "messages"
    assert (messages_dir / mine[0]).is_dir()
    # The offers each message showed (what frequency caps count) were stored with it: one block
    # each, as the stored profile's open ticket pauses the promotions.
    assert _count(any_app, OfferShown, customer_id="c-1001") == 2

    response = client.delete("/v1/profiles/c-1001")
    assert response.status_code == 200
    assert response.json == {"customer_id": "c-1001", "erased": {"profile": True, "messages": 2}}
    assert client.get("/v1/profiles/c-1001").status_code == 404
    for message_id in mine:
        assert client.get(f"/v1/messages/{message_id}").status_code == 404
        assert not (messages_dir / message_id).exists()
        assert _count(any_app, Artifact, message_id=message_id) == 0
        assert _count(any_app, Note, message_id=message_id) == 0
    assert client.get("/v1/customers/c-1001/messages").json["items"] == []
    assert _count(any_app, OfferShown, customer_id="c-1001") == 0
    # The idempotency answers that would repeat an erased message are gone with it.
    replay = client.post("/v1/render", json=request, headers={"Idempotency-Key": "k-0"})
    assert replay.status_code == 201 and replay.json["id"] not in mine
    # Another customer's message is untouched.
    assert client.get(f"/v1/messages/{other}").status_code == 200
    assert (messages_dir / other).is_dir()
    assert _count(any_app, Message, customer_id="c-2002") == 1
    # Messages without a profile are erased too; then there is nothing left to erase.
    assert client.delete("/v1/profiles/c-1001").json["erased"] == {"profile": False, "messages": 1}
    assert client.delete("/v1/profiles/c-1001").status_code == 404
