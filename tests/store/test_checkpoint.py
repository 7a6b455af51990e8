"""SQLite's write-ahead log is copied into the database by the background process (app/store
`checkpoint`, every second), not by a render's commit while the other writers wait."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.store import AUTOCHECKPOINT_PAGES, checkpoint
from tests.conftest import load_fixture


def _messages_in_file_alone(database: Path, tmp_path: Path) -> int:
    """Messages a copy of the database file holds without its write-ahead log."""
    copy = tmp_path / "alone.db"
    copy.write_bytes(database.read_bytes())
    with sqlite3.connect(copy) as db:
        return db.execute("SELECT count(*) FROM messages").fetchone()[0]


def test_a_checkpoint_copies_the_log_into_the_database(app: Flask, client: FlaskClient,
                                                       tmp_path: Path) -> None:
    database = Path(app.config["DATABASE_URL"].removeprefix("sqlite:///"))
    checkpoint(app.extensions["touchpoint.engine"])
    before = _messages_in_file_alone(database, tmp_path)
    for _ in range(3):
        assert client.post("/v1/render", json=load_fixture("invoice/capsules-nl")).status_code == 201
    # The commits are in the log; the database file alone does not have them yet.
    assert _messages_in_file_alone(database, tmp_path) == before
    frames, copied = checkpoint(app.extensions["touchpoint.engine"]) or (0, 0)
    assert frames > 0 and copied == frames
    assert _messages_in_file_alone(database, tmp_path) == before + 3


def test_writers_checkpoint_themselves_only_past_a_larger_log(app: Flask) -> None:
    with app.extensions["touchpoint.engine"].connect() as connection:
        pages = connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
    assert pages == AUTOCHECKPOINT_PAGES > 1000  # SQLite's own default is 1000


@pytest.mark.postgres
def test_other_databases_have_no_log_to_checkpoint(pg_app: Flask) -> None:
    assert checkpoint(pg_app.extensions["touchpoint.engine"]) is None
