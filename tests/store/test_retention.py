"""Retention (app/retention.py): what is past its age goes, rows and files; nothing else does."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, update

from app import retention
from app.appointments.models import Appointment, AppointmentChange
from app.jobs.models import Job, JobItem
from app.store import session
from app.store.models import Artifact, IdempotencyKey, Message, Note, PreferenceChange, utcnow
from app.webhooks.delivery import enqueue
from app.webhooks.models import WebhookDelivery
from tests.conftest import load_fixture

LONG_AGO = timedelta(days=500)


def render(client: FlaskClient, key: str | None = None) -> str:
    headers = {"Idempotency-Key": key} if key else {}
    response = client.post("/v1/render", json=load_fixture("invoice/capsules-nl"), headers=headers)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json["id"]


def count(model: Any) -> int:
    return session().scalar(select(func.count()).select_from(model)) or 0


def message_folder(app: Flask, message_id: str) -> Path:
    return Path(app.config["ARTIFACT_DIR"]) / "messages" / message_id


def test_purge_removes_what_is_past_its_age_and_keeps_the_rest(any_app: Flask) -> None:
    any_app.extensions["touchpoint.artifacts"].inline_bytes = 0  # every file on disk, to see it go
    client = any_app.test_client()
    old, recent, waiting = render(client, key="k-old"), render(client), render(client)
    job = client.post("/v1/jobs", json={"items": [load_fixture("invoice/capsules-nl"), "not a request"]})
    assert job.status_code == 202
    with any_app.app_context():
        db = session()
        now = utcnow()
        db.execute(update(Message).where(Message.id.in_([old, waiting])).values(created_at=now - LONG_AGO))
        # A webhook still to be delivered keeps its message: nothing accepted is lost.
        enqueue(db, message_id=waiting, result_message_id=None, url="https://upstream.test/hook",
                event_type="appointment.cancelled", data={}, now=now)
        done = enqueue(db, message_id=recent, result_message_id=None, url="https://upstream.test/hook",
                       event_type="appointment.cancelled", data={}, now=now - timedelta(days=40))
        done.status = "delivered"
        db.execute(update(Job).values(status="done", finished_at=now - timedelta(days=31)))
        db.execute(update(IdempotencyKey).values(expires_at=now - timedelta(seconds=1)))
        db.add(Note(message_id=old, kind="offer_clicked", detail="lavanti"))
        for age in (401, 1):  # an audit entry past its age, and one within it
            db.add(PreferenceChange(customer_id="c-1", brand="demo-coffee", message_id=old,
                                    source="one_click", changes={}, created_at=now - timedelta(days=age)))
        db.commit()
        assert message_folder(any_app, old).is_dir()

        dry = retention.purge(db, dry_run=True)
        assert dry.counts == {"messages": 1, "appointments": 0, "preference changes": 1, "jobs": 1,
                              "webhook deliveries": 1, "idempotency keys": 1}
        assert count(Message) == 3 and count(Job) == 1

        purged = retention.purge(db)
        assert purged.counts == {"messages": 1, "preference changes": 1, "jobs": 1, "webhook deliveries": 1,
                                 "idempotency keys": 1}
        assert count(PreferenceChange) == 1
        assert set(db.scalars(select(Message.id))) == {recent, waiting}
        assert db.scalar(select(func.count()).where(Artifact.message_id == old)) == 0
        assert count(Note) == 0 and count(Job) == 0 and count(JobItem) == 0
        assert count(IdempotencyKey) == 0
        assert [d.status for d in db.scalars(select(WebhookDelivery))] == ["pending"]
    assert not message_folder(any_app, old).exists()
    assert message_folder(any_app, recent).is_dir() and message_folder(any_app, waiting).is_dir()
    assert client.get(f"/v1/messages/{old}").status_code == 404
    kept = client.get(f"/v1/messages/{recent}/email.html")
    assert kept.status_code == 200
    kept.close()


def test_past_appointments_go_with_their_history(app: Flask, client: FlaskClient) -> None:
    response = client.post("/v1/render", json=load_fixture("appointment/confirmation-nl"))
    assert response.status_code == 201, response.get_data(as_text=True)
    with app.app_context():
        db = session()
        assert count(Appointment) == 1
        assert "appointments" not in retention.purge(db).counts
        db.execute(update(Appointment).values(starts_at=utcnow() - LONG_AGO))
        db.commit()
        assert retention.purge(db).counts["appointments"] == 1
        assert count(Appointment) == 0 and count(AppointmentChange) == 0


def test_the_purge_command_says_what_it_removed(app: Flask, client: FlaskClient) -> None:
    app.extensions["touchpoint.artifacts"].inline_bytes = 0  # every file on disk, to see it go
    message_id = render(client)
    with app.app_context():
        session().execute(update(Message).values(created_at=utcnow() - LONG_AGO))
        session().commit()
    runner = app.test_cli_runner()
    dry = runner.invoke(args=["purge", "--dry-run"])
    assert dry.exit_code == 0 and "would purge: 1 messages" in dry.output
    assert client.get(f"/v1/messages/{message_id}").status_code == 200
    done = runner.invoke(args=["purge"])
    assert done.exit_code == 0 and "purged: 1 messages" in done.output
    assert client.get(f"/v1/messages/{message_id}").status_code == 404
    assert not message_folder(app, message_id).exists()
