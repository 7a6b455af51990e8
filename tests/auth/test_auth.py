"""API keys (app/auth): every refused call through the real app, scopes, brands, rate limits,
the `keys` commands and the development key.

Each operation of the API is taken from the app's own routes, so a route added later is
covered by these tests without editing them.
"""

from __future__ import annotations

import os
import re
import stat
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import limits.storage.memory
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from app.auth import SCOPES, ensure_dev_key, keys, required_scope
from app.auth.models import ApiKey
from app.jobs.models import Job
from app.store import session
from app.store.models import Message, Profile
from tests.conftest import PUBLIC_BASE_URL, add_key, load_fixture, make_app

BEARER = re.compile(r'^Bearer realm="touchpoint"')


def operations(app: Flask) -> Iterator[tuple[str, str, str | None]]:
    """(method, a concrete path, the scope its view declares) for every /v1 route and /metrics."""
    for method, path, scope, _ in routes(app):
        yield method, path, scope


def routes(app: Flask) -> Iterator[tuple[str, str, str | None, str]]:
    """As `operations`, with the route's shape (`/v1/messages/{}`)."""
    for rule in app.url_map.iter_rules():
        if not (rule.rule.startswith("/v1/") or rule.rule == "/metrics"):
            continue
        path = re.sub(r"<(?:[^:>]+:)?([^>]+)>", lambda m: "document.pdf" if m[1] == "name" else "x1",
                      rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            yield (method, path, required_scope(app.view_functions[rule.endpoint]),
                   re.sub(r"<[^>]+>", "{}", rule.rule))


def stored_rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        db = session()
        return {model.__tablename__: db.scalar(select(func.count()).select_from(model)) or 0
                for model in (Message, Profile, Job)}


def call(client: FlaskClient, method: str, path: str) -> Any:
    body = load_fixture("invoice/capsules-nl") if path == "/v1/render" else {"items": []}
    return client.open(path, method=method, json=body if method in {"POST", "PUT", "PATCH"} else None)


def assert_problem(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    return response.json


# Every operation is guarded

def test_every_api_route_declares_a_scope(app: Flask) -> None:
    found = list(operations(app))
    assert len(found) >= 14
    for method, path, scope in found:
        assert scope in SCOPES, f"{method} {path} declares no scope"


def test_without_a_key_every_operation_is_401_and_stores_nothing(app: Flask) -> None:
    anonymous = app.test_client(key=None)
    for method, path, _ in operations(app):
        problem = assert_problem(call(anonymous, method, path), 401)
        assert problem["status"] == 401
        response = call(anonymous, method, path)
        assert BEARER.match(response.headers["WWW-Authenticate"]), (method, path)
    # An unknown path under /v1 does not tell a stranger that it is unknown.
    assert_problem(anonymous.get("/v1/nothing-here"), 401)
    assert stored_rows(app) == {"messages": 0, "profiles": 0, "jobs": 0}


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", "Basic dXNlcjpwYXNz", "tp_test_1234abcd_x"])
def test_a_malformed_authorization_header_is_401(app: Flask, header: str) -> None:
    client = app.test_client(key=None)
    response = client.post("/v1/render", json=load_fixture("invoice/capsules-nl"),
                           headers={"Authorization": header})
    assert_problem(response, 401)
    assert stored_rows(app)["messages"] == 0


def test_unknown_revoked_and_expired_keys_are_401(app: Flask) -> None:
    good = add_key(app)
    prefix = good[: len("tp_test_") + 8]
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    revoked = add_key(app)
    expired = add_key(app, expires_at=datetime.now(UTC) - timedelta(seconds=1))
    with app.app_context():
        keys.revoke(session(), revoked[: len(prefix)])
        session().commit()
    for key in (tampered, revoked, expired, "tp_test_00000000_" + "a" * 43, "tp_live_" + good[8:]):
        client = app.test_client(key=key)
        response = client.post("/v1/render", json=load_fixture("invoice/capsules-nl"))
        assert_problem(response, 401)
        assert 'error="invalid_token"' in response.headers["WWW-Authenticate"]
    assert stored_rows(app)["messages"] == 0
    assert app.test_client(key=good).get("/v1/messages/msg_nothing").status_code == 404


def test_a_missing_scope_is_403_naming_it(app: Flask) -> None:
    for method, path, scope in operations(app):
        assert scope is not None
        others = tuple(s for s in SCOPES if s != scope)
        client = app.test_client(key=add_key(app, scopes=others))
        problem = assert_problem(call(client, method, path), 403)
        assert problem["scope"] == scope
        assert scope in problem["detail"]
        # With that one scope alone the key gets past the door (whatever the call then says).
        allowed = app.test_client(key=add_key(app, scopes=(scope,)))
        assert call(allowed, method, path).status_code not in {401, 403}, (method, path)
    # Only the allowed render stored a message.
    assert stored_rows(app)["messages"] == 1


# Brands: a bound key renders only for its brands and sees nothing of others

@pytest.fixture
def coffee_message(client: FlaskClient) -> str:
    response = client.post("/v1/render", json=load_fixture("invoice/capsules-nl"))
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["id"]


def test_a_bound_key_may_not_render_for_another_brand(app: Flask) -> None:
    bank = app.test_client(key=add_key(app, brands=["demo-bank"]))
    problem = assert_problem(bank.post("/v1/render", json=load_fixture("invoice/capsules-nl")), 403)
    assert problem["errors"] == [{"path": "brand", "message": "this key may not render for this brand"}]
    assert stored_rows(app)["messages"] == 0
    appointment = load_fixture("appointment/confirmation-nl")
    assert appointment["brand"] == "demo-bank"
    assert bank.post("/v1/render", json=appointment).status_code == 201


def test_another_brands_message_is_not_found(app: Flask, coffee_message: str) -> None:
    bank = app.test_client(key=add_key(app, brands=["demo-bank"]))
    coffee = app.test_client(key=add_key(app, brands=["demo-coffee"]))
    paths = [f"/v1/messages/{coffee_message}", f"/v1/messages/{coffee_message}/activity",
             *(f"/v1/messages/{coffee_message}/{name}" for name in ("email.html", "email.eml",
                                                                     "document.pdf", "page.html"))]
    for path in paths:
        hidden = assert_problem(bank.get(path), 404)
        missing = assert_problem(bank.get(path.replace(coffee_message, "msg_00000000000000000000000000")),
                                 404)
        # The same answer as for a message that does not exist, but for the id it names.
        assert hidden["title"] == missing["title"] and hidden["type"] == missing["type"]
        seen = coffee.get(path)
        assert seen.status_code == 200, path
        seen.close()


def test_the_archive_lists_only_the_keys_brands(app: Flask, client: FlaskClient) -> None:
    for fixture in ("invoice/capsules-nl", "appointment/confirmation-nl"):
        request = load_fixture(fixture)
        request["recipient"]["customer_id"] = "c-shared"
        assert client.post("/v1/render", json=request).status_code == 201
    everything = client.get("/v1/customers/c-shared/messages").json["items"]
    assert sorted(item["brand"] for item in everything) == ["demo-bank", "demo-coffee"]
    bank = app.test_client(key=add_key(app, brands=["demo-bank"]))
    assert [item["brand"] for item in bank.get("/v1/customers/c-shared/messages").json["items"]] == [
        "demo-bank"]


def test_jobs_keep_to_the_brands_of_their_key(app: Flask, client: FlaskClient) -> None:
    bank = app.test_client(key=add_key(app, brands=["demo-bank"]))
    unbound_job = client.post("/v1/jobs", json={"items": [load_fixture("invoice/capsules-nl")]}).json["id"]
    for path in (f"/v1/jobs/{unbound_job}", f"/v1/jobs/{unbound_job}/items"):
        assert_problem(bank.get(path), 404)
    assert_problem(bank.delete(f"/v1/jobs/{unbound_job}"), 404)

    items = [load_fixture("appointment/confirmation-nl"), load_fixture("invoice/capsules-nl")]
    created = bank.post("/v1/jobs", json={"items": items})
    assert created.status_code == 202, created.get_data(as_text=True)
    listed = bank.get(f"/v1/jobs/{created.json['id']}/items").json["items"]
    # The other brand's item failed alone, before anything rendered it.
    assert listed[1]["status"] == "failed"
    assert listed[1]["problem"]["type"].endswith("/brand-not-allowed")
    assert listed[0]["status"] == "queued"
    coffee = app.test_client(key=add_key(app, brands=["demo-coffee"]))
    assert_problem(coffee.get(f"/v1/jobs/{created.json['id']}"), 404)
    # An unbound key sees every job.
    assert client.get(f"/v1/jobs/{created.json['id']}").status_code == 200


# Rate limits

def test_over_the_keys_rate_limit_is_429_with_retry_after(app: Flask) -> None:
    limited = app.test_client(key=add_key(app, rate_limit="3/minute"))
    other = app.test_client(key=add_key(app))
    for _ in range(3):
        assert limited.get("/v1/profiles/c-1").status_code == 404
    problem = assert_problem(response := limited.get("/v1/profiles/c-1"), 429)
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert "3 per 1 minute" in problem["detail"]
    # Each key has its own window.
    assert other.get("/v1/profiles/c-1").status_code == 404
    # A refused render stores nothing.
    assert_problem(limited.post("/v1/render", json=load_fixture("invoice/capsules-nl")), 429)
    assert stored_rows(app)["messages"] == 0


def test_the_default_limit_comes_from_the_configuration(app: Flask) -> None:
    app.config["RATE_LIMIT"] = "2/minute"
    client = app.test_client(key=add_key(app))
    assert [client.get("/v1/profiles/c-1").status_code for _ in range(3)] == [404, 404, 429]


# Customer pages and operator probes need no key

def test_customer_pages_and_probes_need_no_key(app: Flask, client: FlaskClient) -> None:
    answer = client.post("/v1/render", json=load_fixture("invoice/capsules-nl")).json
    anonymous = app.test_client(key=None)
    web = answer["outputs"]["web"]["url"].removeprefix(app.config["PUBLIC_BASE_URL"])
    for path in (web, "/healthz", "/openapi.json"):
        response = anonymous.get(path)
        assert response.status_code == 200, path
        response.close()


# The commands

def test_keys_create_prints_the_key_alone_on_its_last_line(app: Flask) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["keys", "create", "--name", "crm", "--scope", "render", "--scope",
                                 "messages:read", "--brand", "demo-coffee", "--expires", "90d"])
    assert result.exit_code == 0, result.output
    key = result.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"tp_test_[0-9a-f]{8}_[A-Za-z0-9_-]{43}", key)
    client = app.test_client(key=key)
    assert client.post("/v1/render", json=load_fixture("invoice/capsules-nl")).status_code == 201
    assert client.post("/v1/jobs", json={"items": []}).status_code == 403
    with app.app_context():
        row = session().get(ApiKey, key[:16])
        assert row is not None and row.brands == ["demo-coffee"] and row.last_used_at is not None
        expires = row.expires_at if row.expires_at.tzinfo else row.expires_at.replace(tzinfo=UTC)
        assert timedelta(days=89) < expires - datetime.now(UTC) <= timedelta(days=90)

    listed = runner.invoke(args=["keys", "list"])
    assert listed.exit_code == 0
    line = next(line for line in listed.output.splitlines() if line.startswith(key[:16]))
    assert line.split("\t")[1:4] == ["crm", "messages:read,render", "demo-coffee"]
    assert key[16:] not in listed.output

    revoked = runner.invoke(args=["keys", "revoke", key[:16]])
    assert revoked.exit_code == 0, revoked.output
    assert_problem(client.get("/v1/messages/msg_x"), 401)
    assert runner.invoke(args=["keys", "revoke", "tp_test_ffffffff"]).exit_code != 0


@pytest.mark.parametrize("args", [["--scope", "everything"], ["--scope", "render", "--brand", "no-such"],
                                  ["--scope", "render", "--expires", "soon"],
                                  ["--scope", "render", "--rate-limit", "lots"]])
def test_keys_create_refuses_what_it_cannot_honour(app: Flask, args: list[str]) -> None:
    result = app.test_cli_runner().invoke(args=["keys", "create", "--name", "x", *args])
    assert result.exit_code != 0
    with app.app_context():
        assert session().scalar(select(func.count()).select_from(ApiKey)) == 1  # the tests' own


def test_two_keys_of_one_caller_live_side_by_side(app: Flask) -> None:
    old, new = add_key(app, name="crm"), add_key(app, name="crm")
    request = load_fixture("invoice/capsules-nl")
    first = app.test_client(key=old).post("/v1/render", json=request, headers={"Idempotency-Key": "o-1"})
    # A retry after the rotation replays the first answer: idempotency keys are the caller's.
    retry = app.test_client(key=new).post("/v1/render", json=request, headers={"Idempotency-Key": "o-1"})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json["id"] == first.json["id"] and retry.headers["Idempotent-Replayed"] == "true"
    # Another caller's same key is another key.
    other = app.test_client(key=add_key(app, name="billing"))
    again = other.post("/v1/render", json=request, headers={"Idempotency-Key": "o-1"})
    assert again.status_code == 201 and again.json["id"] != first.json["id"]


def test_only_a_hash_of_each_key_is_stored(app: Flask) -> None:
    key = add_key(app)
    secret = key[17:]
    with app.app_context():
        rows = session().execute(text("SELECT * FROM api_keys")).all()
    assert rows and all(secret not in str(value) for row in rows for value in row)


def test_the_development_key_is_made_once_with_every_scope(app: Flask, tmp_path: Any) -> None:
    app.config["DEV_API_KEY_FILE"] = str(tmp_path / "var" / "dev-api-key")
    path, created = ensure_dev_key(app)
    assert created and stat.S_IMODE(os.stat(path).st_mode) == 0o600
    key = path.read_text().strip()
    with app.app_context():
        assert set(keys.authenticate(session(), key, datetime.now(UTC)).scopes) == set(SCOPES)
    assert ensure_dev_key(app) == (path, False)
    assert path.read_text().strip() == key
    # A key the database does not know (a fresh database) is replaced.
    path.write_text("tp_test_00000000_" + "a" * 43)
    assert ensure_dev_key(app)[1] is True


def test_openapi_declares_the_bearer_scheme_and_each_scope(app: Flask, client: FlaskClient) -> None:
    document = app.test_client(key=None).get("/openapi.json").json
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    shapes = {re.sub(r"\{[^}]+\}", "{}", path): operations_
              for path, operations_ in document["paths"].items()}
    for method, path, scope, shape in routes(app):
        operation = shapes[shape][method.lower()]
        assert operation["security"] == [{"bearer": [scope]}], (method, path)
        assert {"401", "403", "429"} <= set(operation["responses"])


@pytest.mark.broker
def test_on_redis_every_process_shares_a_keys_window(tmp_path: Any) -> None:
    """Two apps (two workers, or two machines) on one Redis count one window per key."""
    database = f"sqlite:///{tmp_path / 'shared.db'}"
    config = {"TESTING": True, "SECRET_KEY": "test-secret-key", "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
              "DATABASE_URL": database, "ARTIFACT_DIR": str(tmp_path / "artifacts"),
              "RATE_LIMIT_STORAGE_URI": "redis://127.0.0.1:6379/15"}
    first = make_app(config)
    second = make_app(config)
    key = add_key(first, rate_limit="4/minute")
    one, two = first.test_client(key=key), second.test_client(key=key)
    assert [client.get("/v1/profiles/c-1").status_code for client in (one, two, one, two)] == [404] * 4
    assert_problem(two.get("/v1/profiles/c-1"), 429)
    assert_problem(one.get("/v1/profiles/c-1"), 429)
    for application in (first, second):
        application.extensions["touchpoint.engine"].dispose()


def test_counting_in_memory_starts_no_thread_per_request(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    """The library's memory storage starts a Timer thread per hit; ours prunes inline."""
    started: list[object] = []

    class CountedTimer(threading.Timer):
        def start(self) -> None:
            started.append(self)
            super().start()

    monkeypatch.setattr(limits.storage.memory.threading, "Timer", CountedTimer)
    client = app.test_client(key=add_key(app, rate_limit="5/minute"))
    assert [client.get("/v1/profiles/c-1").status_code for _ in range(6)] == [404] * 5 + [429]
    assert started == []


def test_a_key_revoked_by_another_process_stops_within_the_cache_time(
        app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    key = add_key(app)
    client = app.test_client(key=key)
    assert client.get("/v1/profiles/c-1").status_code == 404
    # Revoked in the database, as `keys revoke` on another machine does.
    with app.app_context():
        keys.revoke(session(), key[:16])
        session().commit()
    assert client.get("/v1/profiles/c-1").status_code == 404  # still trusted, for a moment
    later = time.monotonic() + app.config["AUTH_CACHE_SECONDS"] + 0.1
    monkeypatch.setattr(keys.time, "monotonic", lambda: later)
    assert_problem(client.get("/v1/profiles/c-1"), 401)


def test_a_remembered_key_still_expires_on_time() -> None:
    recent = keys.Recent(seconds=60)
    now = datetime.now(UTC)
    caller = keys.Caller(prefix="tp_test_00000000", name="x", scopes=frozenset(SCOPES), brands=None,
                         rate_limit=None, expires_at=now + timedelta(seconds=1))
    recent.put("the-key", caller)
    assert recent.get("the-key", now) == caller
    assert recent.get("the-key", now + timedelta(seconds=1)) is None
    assert recent.get("another-key", now) is None
