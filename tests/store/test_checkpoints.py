"""SQLite's checkpoints happen in the process's checkpoint thread (app/store/checkpoints.py),
not inside a writer's commit, and they keep the log from growing: the file's real engine,
pragmas and write turn, rows of 20 KB (about five pages each, a render writes some sixteen)."""

from __future__ import annotations

import multiprocessing
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import Engine, text

from app.store import SqliteWriters, engine_for
from app.store.checkpoints import AUTOCHECKPOINT_PAGES, checkpoint, checkpointer, settle

ROW = 20_000


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, SqliteWriters]]:
    path = tmp_path / "touchpoint.db"
    engine = engine_for(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB)"))
    yield engine, SqliteWriters(path)
    checkpointer.drain(30)
    engine.dispose()


def _write(engine: Engine, writers: SqliteWriters, rows: int) -> None:
    """`rows` commits, each in a turn of its own, as renders commit."""
    for _ in range(rows):
        with writers.turn(), engine.begin() as connection:
            connection.execute(text("INSERT INTO t (b) VALUES (:b)"), {"b": os.urandom(ROW)})


def _log_pages(path: Path) -> int:
    """The pages in the log now (a passive checkpoint answers it, and copies them)."""
    done = checkpoint(path)
    assert done is not None and done[0] == 0
    return done[1]


def test_every_connection_leaves_checkpoints_to_the_thread(database: tuple[Engine, SqliteWriters]) -> None:
    engine, _ = database
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == AUTOCHECKPOINT_PAGES
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_commits_past_sqlites_own_threshold_do_not_checkpoint(
        database: tuple[Engine, SqliteWriters], monkeypatch: pytest.MonkeyPatch) -> None:
    # With the thread held back, 300 commits of 5 pages stay in the log: SQLite's default
    # would have copied the log inside the commit that passed 1,000 pages.
    engine, writers = database
    monkeypatch.setattr(checkpointer, "delay", 3600.0)
    _write(engine, writers, 300)
    assert _log_pages(writers.database) > 1_200


def test_the_thread_copies_the_log_and_the_next_writer_starts_it_afresh(
        database: tuple[Engine, SqliteWriters], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, writers = database
    monkeypatch.setattr(checkpointer, "delay", 0.0)
    taken = checkpointer.taken
    _write(engine, writers, 300)
    assert checkpointer.drain(30)
    assert checkpointer.taken > taken
    _write(engine, writers, 1)
    assert checkpointer.drain(30)  # that commit's own checkpoint, which a second would meet busy
    # The log began again at its start: only the last commit's pages are in it.
    assert _log_pages(writers.database) < 20
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar() == 301


class _Spied(SqliteWriters):
    """Writers whose turn, taken by the checkpoint, is noted."""

    held_by_checkpoint = 0

    @contextmanager
    def held(self) -> Iterator[None]:
        with super().held():
            if threading.current_thread().name == "settler":
                self.held_by_checkpoint += 1
            yield


def test_settling_while_writers_write_copies_all_of_the_log_in_their_turn(
        database: tuple[Engine, SqliteWriters], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, plain = database
    monkeypatch.setattr(checkpointer, "delay", 3600.0)
    writers = _Spied(plain.database)
    _write(engine, writers, 200)
    stop = threading.Event()

    def keep_writing() -> None:
        while not stop.is_set():
            _write(engine, writers, 1)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    answers: list[tuple[int, int, int] | None] = []
    settler = threading.Thread(target=lambda: answers.append(settle(writers)), name="settler")
    try:
        settler.start()
        settler.join(60)
    finally:
        stop.set()
        writer.join(60)
    # The last pass ran in the writers' turn, so the log's end it saw is the log's end: all
    # of it copied, whatever the writer added during the passes before.
    [(busy, pages, copied)] = answers
    assert busy == 0 and pages == copied > 0
    assert writers.held_by_checkpoint == 1


def _child_writes(path: Path) -> None:
    engine = engine_for(f"sqlite:///{path}")
    writers = SqliteWriters(path)
    checkpointer.delay = 0.0
    _write(engine, writers, 50)
    os._exit(0 if checkpointer.drain(30) and checkpointer.taken >= 1 else 3)


def test_a_forked_process_checkpoints_with_a_thread_of_its_own(
        database: tuple[Engine, SqliteWriters], monkeypatch: pytest.MonkeyPatch) -> None:
    engine, writers = database
    monkeypatch.setattr(checkpointer, "delay", 3600.0)
    _write(engine, writers, 1)  # this process's thread exists and waits: the child has none
    child = multiprocessing.get_context("fork").Process(target=_child_writes, args=(writers.database,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    with sqlite3.connect(writers.database) as connection:
        assert connection.execute("SELECT count(*) FROM t").fetchone()[0] == 51


class _Broken(SqliteWriters):
    """Writers whose turn cannot be had (a lost lock file, say)."""

    @contextmanager
    def held(self) -> Iterator[None]:
        raise OSError("no turn to be had")
        yield


def test_a_failed_checkpoint_is_logged_and_the_thread_goes_on(
        database: tuple[Engine, SqliteWriters], monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    engine, writers = database
    monkeypatch.setattr(checkpointer, "delay", 0.0)
    broken = _Broken(writers.database)
    with engine.begin() as connection:  # a page in the log, so the passive pass finds work
        connection.execute(text("INSERT INTO t (b) VALUES (x'00')"))
    checkpointer.wrote(broken)
    assert checkpointer.drain(30)
    assert "the checkpoint of" in caplog.text and "no turn to be had" in caplog.text
    # The same thread still checkpoints the next write.
    taken = checkpointer.taken
    _write(engine, writers, 1)
    assert checkpointer.drain(30) and checkpointer.taken > taken
