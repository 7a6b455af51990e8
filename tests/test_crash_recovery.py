"""A crash leaves nothing stuck: an idempotency key whose server died is free once its short
lease runs out (the living server renews it while it renders)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from app.problems import IdempotencyKeyInFlight
from app.store import idempotency
from app.store.models import IdempotencyKey
from tests.conftest import load_fixture
from tests.jobs import wait_for

BODY = {**load_fixture("invoice/capsules-nl"), "channels": ["email", "sms"]}
RAW = json.dumps(BODY).encode()


@pytest.fixture
def db(any_app: Flask) -> Iterator[Session]:
    with any_app.app_context(), any_app.extensions["touchpoint.db"]() as session:
        yield session


def _claim(db: Session, app: Flask, key: str, **options: Any) -> IdempotencyKey | None:
    config = app.config
    return idempotency.claim(db, idempotency.scoped("tests", key), idempotency.fingerprint(RAW),
                             config["IDEMPOTENCY_TTL"], config["IDEMPOTENCY_LOCK_TIMEOUT"], **options)


def test_a_dead_servers_key_is_free_once_its_lease_runs_out(any_app: Flask, db: Session) -> None:
    client: FlaskClient = any_app.test_client()
    lease = any_app.config["IDEMPOTENCY_LEASE"]
    assert lease <= 10
    # Claimed just over a lease ago, never renewed: its server died.
    _claim(db, any_app, "crashed", now=datetime.now(UTC) - timedelta(seconds=lease + 1), lease=lease)
    retry = client.post("/v1/render", json=BODY, headers={"Idempotency-Key": "crashed"})
    assert retry.status_code == 201, retry.get_data(as_text=True)
    again = client.post("/v1/render", json=BODY, headers={"Idempotency-Key": "crashed"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == retry.json


def test_a_living_servers_lease_is_renewed_while_it_renders(any_app: Flask, db: Session) -> None:
    key = idempotency.scoped("tests", "alive")
    owner = idempotency.new_owner()
    _claim(db, any_app, "alive", owner=owner, lease=0.6)
    first = db.get(IdempotencyKey, key)
    assert first is not None and first.lease_until is not None
    granted = first.lease_until
    with idempotency.heartbeat(any_app.extensions["touchpoint.db"], key, owner, 0.6):
        def renewed() -> bool:
            row = db.get(IdempotencyKey, key, populate_existing=True)
            db.rollback()
            return row is not None and row.lease_until is not None and row.lease_until > granted
        wait_for(renewed, "the lease to be renewed", timeout=30)
        # Well past the first lease, the key is still held: a retry is a 409.
        db.expunge_all()  # as another request would: a session of its own
        with pytest.raises(IdempotencyKeyInFlight):
            _claim(db, any_app, "alive", now=_aware(granted) + timedelta(seconds=0.1), lease=0.6)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
