"""Idempotency-Key on POST /v1/render, on SQLite and PostgreSQL: one key, one message."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.test import TestResponse

from app.store import idempotency
from app.store.models import Artifact, IdempotencyKey, Message
from tests.conftest import load_fixture

PROBLEM_JSON = "application/problem+json"


def request_body() -> dict[str, Any]:
    # Web and SMS only: a stored file without the cost of a PDF.
    return load_fixture("invoice/capsules-nl") | {"channels": ["web", "sms"]}


def post(client: FlaskClient, body: dict[str, Any] | bytes, key: str | None) -> TestResponse:
    headers = {"Idempotency-Key": key} if key is not None else {}
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/v1/render", data=data, content_type="application/json", headers=headers)


def message_ids(app: Flask) -> list[str]:
    with app.extensions["touchpoint.db"]() as db:
        return list(db.scalars(select(Message.id).order_by(Message.id)))


def message_files(app: Flask) -> dict[str, bytes]:
    """Every message's files by `<message id>/<name>`: those kept in their artifact rows and
    those under ARTIFACT_DIR, rows or not."""
    root = Path(app.config["ARTIFACT_DIR"]) / "messages"
    files = {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
    with app.extensions["touchpoint.db"]() as db:
        for message_id, name, content in db.execute(
                select(Artifact.message_id, Artifact.name, Artifact.content).where(Artifact.path.is_(None))):
            files[f"{message_id}/{name}"] = content
    return files


def key_rows(app: Flask) -> int:
    with app.extensions["touchpoint.db"]() as db:
        return db.scalar(select(func.count()).select_from(IdempotencyKey)) or 0


def assert_problem(response: TestResponse, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == PROBLEM_JSON
    body = response.json
    assert body is not None and body["status"] == status
    return body


@pytest.fixture
def app_(any_client: FlaskClient) -> Flask:
    return any_client.application


@pytest.fixture
def db(app_: Flask) -> Iterator[Any]:
    with app_.extensions["touchpoint.db"]() as session:
        yield session


def test_same_key_same_body_answers_the_first_answer(any_client: FlaskClient, app_: Flask) -> None:
    first = post(any_client, request_body(), "key-1")
    assert first.status_code == 201, first.get_data(as_text=True)
    files = message_files(app_)
    assert files
    second = post(any_client, request_body(), "key-1")
    assert second.status_code == 201
    assert second.json == first.json
    assert second.headers["Location"] == first.headers["Location"]
    # Nothing was rendered or stored twice.
    assert message_ids(app_) == [first.json["id"]]  # type: ignore[index]
    assert message_files(app_) == files
    assert key_rows(app_) == 1


def test_without_a_key_every_request_is_new(any_client: FlaskClient, app_: Flask) -> None:
    ids = {post(any_client, request_body(), None).json["id"] for _ in range(2)}  # type: ignore[index]
    assert len(ids) == 2
    assert sorted(ids) == message_ids(app_)


def test_keys_are_independent(any_client: FlaskClient, app_: Flask) -> None:
    first = post(any_client, request_body(), "key-a")
    other = post(any_client, request_body(), "key-b")
    assert first.status_code == other.status_code == 201
    assert first.json["id"] != other.json["id"]  # type: ignore[index]
    assert len(message_ids(app_)) == 2


def _changed(body: dict[str, Any]) -> dict[str, Any]:
    body["data"]["lines"][0]["quantity"] = "6"
    del body["data"]["totals"]
    return body


@pytest.mark.parametrize("change", [
    _changed,
    lambda body: body | {"reference": "another reference"},
    lambda body: body | {"channels": ["web"]},
], ids=["quantity", "reference", "channels"])
def test_same_key_other_body_is_422(any_client: FlaskClient, app_: Flask, change: Any) -> None:
    first = post(any_client, request_body(), "key-2")
    assert first.status_code == 201
    files = message_files(app_)
    problem = assert_problem(post(any_client, change(request_body()), "key-2"), 422)
    assert "Idempotency-Key" in problem["detail"]
    assert message_ids(app_) == [first.json["id"]]  # type: ignore[index]
    assert message_files(app_) == files
    # The key still answers its own body.
    again = post(any_client, request_body(), "key-2")
    assert again.status_code == 201
    assert again.json == first.json


def test_key_order_and_spacing_do_not_make_another_body(any_client: FlaskClient, app_: Flask) -> None:
    body = request_body()
    compact = json.dumps(body, separators=(",", ":")).encode()

    def reversed_keys(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: reversed_keys(value[k]) for k in reversed(list(value))}
        if isinstance(value, list):
            return [reversed_keys(item) for item in value]
        return value

    reordered = json.dumps(reversed_keys(body), indent=4).encode()
    assert reordered != compact
    first = post(any_client, compact, "key-3")
    second = post(any_client, reordered, "key-3")
    assert first.status_code == second.status_code == 201
    assert second.json == first.json
    assert len(message_ids(app_)) == 1


def stored(key: str) -> str:
    """The key as the archive keeps it for the test clients' caller (tests/conftest.py)."""
    return idempotency.scoped("tests", key)


def test_same_key_in_flight_is_409(any_client: FlaskClient, app_: Flask, db: Any) -> None:
    raw = json.dumps(request_body()).encode()
    config = app_.config
    # The first request with this key has claimed it and is still being served.
    assert idempotency.claim(db, stored("key-4"), idempotency.fingerprint(raw), config["IDEMPOTENCY_TTL"],
                             config["IDEMPOTENCY_LOCK_TIMEOUT"]) is None
    problem = assert_problem(post(any_client, raw, "key-4"), 409)
    assert problem["type"] and "Idempotency-Key" in problem["detail"]
    assert message_ids(app_) == []
    assert message_files(app_) == {}
    # The 409 did not take the key from the first request, which then completes.
    idempotency.complete(db, stored("key-4"), 201, {"id": "msg_first"}, "msg_first")
    db.commit()  # the archive commits the key's answer with the message
    replay = post(any_client, raw, "key-4")
    assert replay.status_code == 201
    assert replay.json == {"id": "msg_first"}


def test_in_flight_with_another_body_is_422(any_client: FlaskClient, app_: Flask, db: Any) -> None:
    config = app_.config
    other = json.dumps(_changed(request_body())).encode()
    idempotency.claim(db, stored("key-5"), idempotency.fingerprint(other), config["IDEMPOTENCY_TTL"],
                      config["IDEMPOTENCY_LOCK_TIMEOUT"])
    assert_problem(post(any_client, request_body(), "key-5"), 422)
    assert message_ids(app_) == []


def test_an_abandoned_claim_is_taken_over(any_client: FlaskClient, app_: Flask, db: Any) -> None:
    raw = json.dumps(request_body()).encode()
    config = app_.config
    # A first request that died without answering, longer ago than the lock timeout.
    long_ago = datetime.now(UTC) - timedelta(seconds=config["IDEMPOTENCY_LOCK_TIMEOUT"] + 5)
    idempotency.claim(db, stored("key-6"), idempotency.fingerprint(raw), config["IDEMPOTENCY_TTL"],
                      config["IDEMPOTENCY_LOCK_TIMEOUT"], now=long_ago)
    response = post(any_client, raw, "key-6")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert message_ids(app_) == [response.json["id"]]  # type: ignore[index]


def test_a_failed_request_releases_its_key(any_client: FlaskClient, app_: Flask) -> None:
    wrong = request_body()
    wrong["data"]["totals"]["gross"] = "25.42"
    problem = assert_problem(post(any_client, wrong, "key-7"), 422)
    assert [error["path"] for error in problem["errors"]] == ["data.totals.gross"]
    assert key_rows(app_) == 0
    assert message_ids(app_) == []
    # The corrected body, with the same key, is served.
    corrected = post(any_client, request_body(), "key-7")
    assert corrected.status_code == 201, corrected.get_data(as_text=True)
    assert message_ids(app_) == [corrected.json["id"]]  # type: ignore[index]


@pytest.mark.parametrize("same_body", [True, False], ids=["same-body", "other-body"])
def test_an_expired_key_is_new(any_client: FlaskClient, app_: Flask, db: Any, same_body: bool) -> None:
    raw = json.dumps(request_body() if same_body else _changed(request_body())).encode()
    past = datetime.now(UTC) - timedelta(days=3)
    db.add(IdempotencyKey(key=stored("key-8"), request_hash=idempotency.fingerprint(raw), state="done",
                          status_code=201, response={"id": "msg_old"}, message_id="msg_old",
                          created_at=past - timedelta(days=1), expires_at=past))
    db.commit()
    response = post(any_client, request_body(), "key-8")
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json["id"] != "msg_old"  # type: ignore[index]
    assert message_ids(app_) == [response.json["id"]]  # type: ignore[index]
    # And the key now answers the new message.
    assert post(any_client, request_body(), "key-8").json == response.json


def test_keys_are_kept_at_least_a_day(any_client: FlaskClient, app_: Flask, db: Any) -> None:
    before = datetime.now(UTC)
    assert post(any_client, request_body(), "key-9").status_code == 201
    row = db.get(IdempotencyKey, stored("key-9"))
    assert row is not None and row.state == "done"
    expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
    assert expires >= before + timedelta(hours=24)


@pytest.mark.parametrize("key", ["", "k" * 256], ids=["empty", "too-long"])
def test_a_bad_key_is_422(any_client: FlaskClient, app_: Flask, key: str) -> None:
    problem = assert_problem(post(any_client, request_body(), key), 422)
    assert [error["path"] for error in problem["errors"]] == ["Idempotency-Key"]
    assert message_ids(app_) == []


def test_key_is_done_in_the_same_transaction_as_its_message(
    any_client: FlaskClient, app_: Flask, db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The service fails right after the message is committed, before it can answer. The
    # key must already carry that message, so the client's retry gets it, not a second one.
    from sqlalchemy.orm import Session

    from app.store import archive

    real_commit, real_add_message = Session.commit, archive.add_message
    added: list[Session] = []

    def add_message(db: Session, *args: Any, **kwargs: Any) -> None:
        real_add_message(db, *args, **kwargs)
        added.append(db)

    def commit_then_fail(self: Session) -> None:
        storing_a_message = self in added
        real_commit(self)
        if storing_a_message:
            raise RuntimeError("the process died after the commit")

    monkeypatch.setattr(archive, "add_message", add_message)
    monkeypatch.setattr(Session, "commit", commit_then_fail)
    raw = json.dumps(request_body()).encode()
    assert post(any_client, raw, "key-atomic").status_code == 500
    monkeypatch.undo()

    [kept] = message_ids(app_)
    key = db.get(IdempotencyKey, stored("key-atomic"), populate_existing=True)
    assert (key.state, key.message_id) == ("done", kept)
    retry = post(any_client, raw, "key-atomic")
    assert (retry.status_code, retry.json["id"]) == (201, kept)
    assert message_ids(app_) == [kept]
