"""Schema migrations (app/store/schema.py, app/store/migrations): old databases come to head
with their rows, the revisions equal the models, and starts never race.

The old database is made from tests/store/data/schema-d6e551a.<dialect>.sql: the statements
create_all ran at d6e551a, before there were migrations (those models cannot be imported any
more). Each test runs on SQLite and, marked `postgres`, in a PostgreSQL schema of its own.
"""

from __future__ import annotations

import json
import multiprocessing
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any

import click
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from click.testing import CliRunner
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy import Engine, MetaData, inspect, select, text

from app import create_app
from app.appointments.models import Appointment
from app.jobs.models import Job, JobItem
from app.store import engine_for, schema
from app.store.models import IdempotencyKey, Message, Note, Profile
from app.webhooks.models import WebhookDelivery

SNAPSHOTS = Path(__file__).parent / "data"
WHEN = datetime(2025, 11, 3, 9, 30, tzinfo=UTC)


def _config(tmp_path: Path, url: str, **extra: Any) -> dict[str, Any]:
    return {"TESTING": True, "SECRET_KEY": "test-secret-key", "DATABASE_URL": url,
            "ARTIFACT_DIR": str(tmp_path / "artifacts"), "JOB_RUNNER": False,
            "WEBHOOK_RUNNER": False, **extra}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    made = engine_for(database_url)
    yield made
    made.dispose()


def make_baseline(engine: Engine) -> None:
    """The database as create_all left it at d6e551a: tables, no alembic_version."""
    statements = (SNAPSHOTS / f"schema-d6e551a.{engine.dialect.name}.sql").read_text().split(";\n")
    with engine.begin() as connection:
        for statement in statements:
            body = "\n".join(line for line in statement.splitlines() if not line.startswith("--"))
            if body.strip():
                connection.exec_driver_sql(body)


def insert_old_rows(engine: Engine) -> None:
    """Rows of every kind, written through the old tables themselves (reflected), not the models."""
    old = MetaData()
    old.reflect(engine)
    rows: dict[str, list[dict[str, Any]]] = {
        "messages": [{
            "id": "msg_old1", "type": "invoice", "brand": "demo-coffee", "locale": "nl-BE",
            "customer_id": "cust-1", "reference": "INV-1", "channels": ["email", "pdf"],
            "request": {"type": "invoice", "data": {"lines": [{"quantity": 2}]}},
            "document": {"id": "msg_old1", "outputs": {"email": {"subject": "Uw factuur"}}},
            "envelope": {"subject": "Uw factuur"}, "created_at": WHEN,
        }],
        "artifacts": [
            {"message_id": "msg_old1", "name": "email.html", "content_type": "text/html",
             "path": "ab/email.html", "size": 1200, "sha256": "a" * 64},
            {"message_id": "msg_old1", "name": "document.pdf", "content_type": "application/pdf",
             "path": "ab/document.pdf", "size": 50_000, "sha256": "b" * 64},
        ],
        "profiles": [{"customer_id": "cust-1", "data": {"name": "Ann", "consents": {"marketing": True}},
                      "updated_at": WHEN}],
        "idempotency_keys": [{
            "key": "key-1", "request_hash": "c" * 64, "state": "done", "status_code": 201,
            "response": {"id": "msg_old1"}, "message_id": "msg_old1", "created_at": WHEN,
            "expires_at": WHEN + timedelta(days=1),
        }],
        "jobs": [{"id": "job_old1", "kind": "batch", "status": "running", "total": 2, "done": 1,
                  "failed": 0, "cancelled": 0, "dispatched": False, "created_at": WHEN}],
        "job_items": [
            {"job_id": "job_old1", "position": 0, "state": "done", "priority": 0,
             "request": {"type": "bill"}, "message_id": "msg_old1", "attempts": 1},
            {"job_id": "job_old1", "position": 1, "state": "queued", "priority": 0,
             "request": {"type": "bill"}, "message_id": None, "attempts": 0},
        ],
        "webhook_deliveries": [{
            "id": "whk_old1", "message_id": "msg_old1", "event_type": "appointment.cancelled",
            "url": "https://upstream.test/hook", "payload": '{"type": "appointment.cancelled"}',
            "status": "pending", "attempts": 2, "next_attempt_at": WHEN, "created_at": WHEN,
        }],
        # An offer click as it was stored before revision 0007: the bare offer id.
        "message_events": [{"message_id": "msg_old1", "kind": "offer_clicked", "detail": "lavanti",
                            "created_at": WHEN}],
        "appointments": [{
            "brand": "demo-clinic", "appointment_id": "apt-1", "status": "confirmed",
            "start": "2025-12-01T10:00:00", "end": "2025-12-01T10:30:00",
            "timezone": "Europe/Brussels", "starts_at": WHEN, "location": {"name": "Gent"},
            "sequence": 3, "slots": [{"start": "2025-12-02T10:00:00"}], "resource": "dr-a",
            "message_id": "msg_old1", "changed_by": "upstream", "created_at": WHEN,
            "updated_at": WHEN,
        }],
    }
    with engine.begin() as connection:
        for table, values in rows.items():
            connection.execute(old.tables[table].insert(), values)


def read_old_rows(app: Flask) -> None:
    """The rows of insert_old_rows, read back through today's models."""
    with app.extensions["touchpoint.db"]() as db:
        message = db.get(Message, "msg_old1")
        assert message is not None
        assert message.request["data"]["lines"] == [{"quantity": 2}]
        assert message.channels == ["email", "pdf"]
        assert message.created_at.replace(tzinfo=UTC) == WHEN
        assert sorted((a.name, a.size) for a in message.artifacts) == [
            ("document.pdf", 50_000), ("email.html", 1200)]
        profile = db.get(Profile, "cust-1")
        assert profile is not None and profile.data["consents"] == {"marketing": True}
        key = db.get(IdempotencyKey, "key-1")
        assert key is not None and key.response == {"id": "msg_old1"} and key.status_code == 201
        job = db.get(Job, "job_old1")
        assert job is not None and (job.total, job.done, job.status) == (2, 1, "running")
        items = db.scalars(select(JobItem).where(JobItem.job_id == "job_old1")
                           .order_by(JobItem.position)).all()
        assert [(item.state, item.message_id) for item in items] == [("done", "msg_old1"), ("queued", None)]
        delivery = db.get(WebhookDelivery, "whk_old1")
        assert delivery is not None and delivery.attempts == 2
        assert delivery.payload == '{"type": "appointment.cancelled"}'
        [click] = db.scalars(select(Note).where(Note.message_id == "msg_old1")).all()
        assert (click.kind, json.loads(click.detail or "")) == ("offer_clicked", {"offer": "lavanti"})
        appointment = db.get(Appointment, ("demo-clinic", "apt-1"))
        assert appointment is not None and appointment.sequence == 3
        assert appointment.location == {"name": "Gent"} and appointment.message_id == "msg_old1"


def revision_of(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return schema.current(connection)


def differences(engine: Engine) -> list[Any]:
    """What autogenerate would write: the models against the database."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        return compare_metadata(context, schema.target_metadata())


def test_an_old_database_is_upgraded_and_its_rows_read_back(
        engine: Engine, database_url: str, tmp_path: Path) -> None:
    make_baseline(engine)
    insert_old_rows(engine)
    assert "alembic_version" not in inspect(engine).get_table_names()

    app = create_app(_config(tmp_path, database_url))       # what every start does
    try:
        assert revision_of(engine) == schema.head()
        read_old_rows(app)
        assert differences(engine) == []
        with app.extensions["touchpoint.db"]() as db:       # later revisions' columns are there
            job = db.get(Job, "job_old1")
            assert job is not None and job.brands is None
    finally:
        app.extensions["touchpoint.engine"].dispose()


def test_the_revisions_from_nothing_equal_the_models(engine: Engine) -> None:
    """Autogenerate finds nothing: every model change has its revision, and no more."""
    schema.upgrade(engine, schema.BASELINE)     # the baseline by its revision, not by create_all
    schema.upgrade(engine)
    assert revision_of(engine) == schema.head()
    assert differences(engine) == []


def test_a_fresh_database_is_created_at_head(engine: Engine) -> None:
    assert schema.upgrade(engine) == schema.head()
    assert differences(engine) == []
    assert schema.upgrade(engine) == schema.head()      # and a second start changes nothing


def test_a_create_all_database_matching_the_models_is_stamped_head(engine: Engine) -> None:
    """A tree between two revisions' commits made it with create_all: nothing to run, only stamp."""
    schema.target_metadata().create_all(engine)
    assert schema.upgrade(engine) == schema.head()
    assert differences(engine) == []


def test_without_auto_upgrade_a_database_behind_refuses_to_start(
        engine: Engine, database_url: str, tmp_path: Path) -> None:
    make_baseline(engine)
    with pytest.raises(schema.SchemaNotCurrent, match="run `flask --app app db upgrade`"):
        create_app(_config(tmp_path, database_url, SCHEMA_AUTO_UPGRADE=False))
    assert "alembic_version" not in inspect(engine).get_table_names()   # it changed nothing

    schema.upgrade(engine)
    app = create_app(_config(tmp_path, database_url, SCHEMA_AUTO_UPGRADE=False))
    app.extensions["touchpoint.engine"].dispose()


def test_schema_auto_upgrade_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    from app import config

    monkeypatch.setenv("SCHEMA_AUTO_UPGRADE", "false")
    assert config.load({"SECRET_KEY": "test-secret-key"})["SCHEMA_AUTO_UPGRADE"] is False
    monkeypatch.delenv("SCHEMA_AUTO_UPGRADE")
    assert config.load({"SECRET_KEY": "test-secret-key"})["SCHEMA_AUTO_UPGRADE"] is True


def test_flask_db_upgrade_brings_a_fresh_database_to_head(
        engine: Engine, database_url: str, tmp_path: Path) -> None:
    """As a launcher runs it, with SCHEMA_AUTO_UPGRADE off in its environment too."""
    settings = _config(tmp_path, database_url, SCHEMA_AUTO_UPGRADE=False)
    made: list[Flask] = []

    def factory() -> Flask:   # a new app for each command, as each `flask` run makes one
        made.append(create_app(settings))
        return made[-1]

    cli = FlaskGroup(create_app=factory)
    runner = CliRunner()
    try:
        before = runner.invoke(cli, ["db", "current"], catch_exceptions=False)
        assert before.output.startswith("none")
        upgraded = runner.invoke(cli, ["db", "upgrade"], catch_exceptions=False)
        assert upgraded.exit_code == 0 and upgraded.output == f"database at {schema.head()}\n"
        after = runner.invoke(cli, ["db", "current"], catch_exceptions=False)
        assert after.output == f"{schema.head()} (head)\n"
        history = runner.invoke(cli, ["db", "history"], catch_exceptions=False)
        assert f"<base> -> {schema.BASELINE}" in history.output
        assert differences(engine) == []
    finally:
        for app in made:
            app.extensions["touchpoint.engine"].dispose()


def test_an_app_loaded_for_a_command_defers_the_refusal_to_its_first_session(
        database_url: str, tmp_path: Path) -> None:
    """So `flask db upgrade` starts; any other command that touches the database meets it."""
    with click.Context(click.Command("flask")):
        app = create_app(_config(tmp_path, database_url, SCHEMA_AUTO_UPGRADE=False))
    try:
        with pytest.raises(schema.SchemaNotCurrent):
            app.extensions["touchpoint.db"]()
    finally:
        app.extensions["touchpoint.engine"].dispose()


# Two processes starting at once, as gunicorn's workers do on a fresh var/. Spawned once per
# test and reused each round; a barrier lets both call create_app at the same moment.
ROUNDS = 10


def _start_worker(barrier: Any, pipe: Pipe) -> None:
    while (settings := pipe.recv()) is not None:
        try:
            barrier.wait(timeout=60)
            app = create_app(settings)
            app.extensions["touchpoint.engine"].dispose()
            pipe.send("ok")
        except BaseException:  # the parent reports it
            pipe.send(traceback.format_exc())


def _empty(engine: Engine) -> None:
    everything = MetaData()
    everything.reflect(engine)
    everything.drop_all(engine)


def test_two_processes_starting_at_once_both_start(database_url: str, tmp_path: Path) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    pipes = [context.Pipe() for _ in range(2)]
    workers = [context.Process(target=_start_worker, args=(barrier, child)) for _, child in pipes]
    for worker in workers:
        worker.start()
    try:
        for attempt in range(ROUNDS):
            url = database_url.replace("old.db", f"fresh-{attempt}.db")
            settings = _config(tmp_path, url)
            for parent, _ in pipes:
                parent.send(settings)
            results = [parent.recv() for parent, _ in pipes]
            assert results == ["ok", "ok"], f"round {attempt}: {results}"
            engine = engine_for(url)
            assert revision_of(engine) == schema.head()
            if engine.dialect.name == "postgresql":
                _empty(engine)      # one schema for the test: empty it for the next round
            engine.dispose()
    finally:
        for parent, _ in pipes:
            parent.send(None)
        for worker in workers:
            worker.join(timeout=30)
    assert [worker.exitcode for worker in workers] == [0, 0]


def test_the_baseline_snapshot_is_what_revision_0001_makes(engine: Engine, tmp_path: Path) -> None:
    """The snapshot and the baseline revision describe the same schema."""
    make_baseline(engine)
    snapshot = _described(engine)
    _empty(engine)
    schema.upgrade(engine, schema.BASELINE)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    assert _described(engine) == snapshot


def _described(engine: Engine) -> dict[str, Any]:
    found = inspect(engine)
    return {
        table: {
            "columns": [(c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)],
            "primary": found.get_pk_constraint(table)["constrained_columns"],
            "foreign": sorted((tuple(f["constrained_columns"]), f["referred_table"],
                               f["options"].get("ondelete")) for f in found.get_foreign_keys(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in found.get_indexes(table)),
            "unique": sorted((u["name"], tuple(u["column_names"]))
                             for u in found.get_unique_constraints(table)),
        }
        for table in sorted(found.get_table_names())
    }
