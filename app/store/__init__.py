"""Storage: SQLAlchemy (SQLite file by default, PostgreSQL by DATABASE_URL) and artifact files.

`init_app` makes one engine per app, brings its database to the head revision (or, with
SCHEMA_AUTO_UPGRADE off, checks it is there: app/store/schema.py), and gives a session per
request (`store.session()`).
"""

from __future__ import annotations

import fcntl
import os
import threading
import weakref
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path

import click
import orjson
from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.store import checkpoints, schema
from app.store.artifacts import ArtifactStore, sweep_command
from app.store.commands import db_command

__all__ = ["ArtifactStore", "artifacts", "engine_for", "init_app", "one_writer", "session"]


def _sqlite_file(url: str) -> Path | None:
    """The database file of a SQLite URL; None for any other database (or one in memory)."""
    if not url.startswith("sqlite"):
        return None
    path = url.removeprefix("sqlite:///")
    return Path(path) if path and path != ":memory:" else None


def engine_for(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = _sqlite_file(url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        # `timeout` is SQLite's busy timeout: a writer waits up to 30 s for another's commit
        # (several server processes write one file) instead of failing "database is locked".
        engine = create_engine(url, connect_args={"timeout": 30}, json_serializer=_json_text,
                               json_deserializer=orjson.loads)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL syncs at checkpoints instead of at every commit: a power cut may
            # lose the last commits but never corrupts; a crash of the process loses nothing.
            cursor.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints are this process's checkpoint thread's (app/store/checkpoints.py);
            # SQLite's own, inside a commit, only bounds the log.
            cursor.execute(f"PRAGMA wal_autocheckpoint={checkpoints.AUTOCHECKPOINT_PAGES}")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True, json_serializer=_json_text,
                         json_deserializer=orjson.loads)


def _json_text(value: object) -> str:
    """JSON columns as orjson writes them (and reads them back): a message's stored answer holds
    its email's HTML, and the standard library's encoder was a measurable share of a render's
    store stage; a render reads its customer's profile."""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


class SqliteWriters:
    """One writer at a time on a SQLite file, in turn, across this process's threads (a lock)
    and the machine's processes (an flock on `<database>.writer`).

    SQLite itself lets one writer in and has the others retry after sleeps that grow to 100 ms
    (its busy handler): under load, renders waited out those sleeps while the file was free.
    A writer waiting here wakes as soon as the one before it is done. Writes that do not pass
    here (a job claim, a webhook's state) still meet SQLite's own wait; they are few. A turn
    done asks the process's checkpoint thread to copy the log into the file soon
    (app/store/checkpoints.py), so no writer pays for a checkpoint in its turn."""

    def __init__(self, database: Path) -> None:
        self.database = database
        self.path = Path(f"{database}.writer")
        self._threads = threading.Lock()
        self._fd: tuple[int, int] | None = None  # (pid, descriptor): an flock is per process

    def _descriptor(self) -> int:
        if self._fd is None or self._fd[0] != os.getpid():
            self._fd = (os.getpid(), os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            weakref.finalize(self, _close_in, *self._fd)  # closed with its app
        return self._fd[1]

    @contextmanager
    def turn(self) -> Iterator[None]:
        """A writer's turn; once done, the log's new pages are due for a checkpoint."""
        with self.held():
            yield
        checkpoints.checkpointer.wrote(self)

    @contextmanager
    def held(self) -> Iterator[None]:
        """The turn itself: what the checkpoint thread holds for its last pages."""
        with self._threads:
            descriptor = self._descriptor()
            fcntl.flock(descriptor, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(descriptor, fcntl.LOCK_UN)


def _close_in(pid: int, descriptor: int) -> None:
    """Close a descriptor in the process that opened it (a forked child has only a copy)."""
    if os.getpid() == pid:
        os.close(descriptor)


def one_writer() -> AbstractContextManager[None]:
    """Hold the database's write turn (SQLite files: see SqliteWriters; other databases have
    writers of their own and need none) around a write transaction, from its first write to
    its commit."""
    writers: SqliteWriters | None = current_app.extensions["touchpoint.writers"]
    return writers.turn() if writers is not None else nullcontext()


def init_app(app: Flask) -> None:
    engine = engine_for(app.config["DATABASE_URL"])
    try:
        problem = _prepare_schema(app, engine)
    except BaseException:
        engine.dispose()  # a refused start leaves no connection open behind it
        raise
    app.extensions["touchpoint.db"] = (
        sessionmaker(engine, expire_on_commit=False) if problem is None else _refuse(problem)
    )
    app.extensions["touchpoint.engine"] = engine
    database = _sqlite_file(app.config["DATABASE_URL"])
    app.extensions["touchpoint.writers"] = SqliteWriters(database) if database is not None else None
    app.extensions["touchpoint.artifacts"] = ArtifactStore(Path(app.config["ARTIFACT_DIR"]),
                                                         inline_bytes=app.config["ARTIFACT_INLINE_BYTES"])
    app.teardown_appcontext(_close_session)
    app.cli.add_command(db_command)
    app.cli.add_command(sweep_command)


def _prepare_schema(app: Flask, engine: Engine) -> schema.SchemaNotCurrent | None:
    """Bring the database to head, or check it is there; why it is not, when that may wait."""
    if app.config["SCHEMA_AUTO_UPGRADE"]:
        schema.upgrade(engine)
        return None
    try:
        schema.check(engine)
    except schema.SchemaNotCurrent as problem:
        if not _loading_for_a_command():
            raise
        # `flask db upgrade` is how a database gets to head, so the app it runs in must start:
        # it runs on the engine, and anything else that opens a session meets the problem.
        return problem
    return None


def _loading_for_a_command() -> bool:
    """True while `flask --app app <command>` loads the app to find one of the app's commands.

    Serving loads it elsewhere: gunicorn outside of click, `flask run` in the run command's
    own context (which has a parent), so those still refuse to start.
    """
    ctx = click.get_current_context(silent=True)
    return ctx is not None and ctx.parent is None and ctx.invoked_subcommand is None


def _refuse(problem: schema.SchemaNotCurrent) -> Callable[[], Session]:
    def refuse() -> Session:
        raise problem

    return refuse


def session() -> Session:
    """The session of the current request or app context, opened on first use."""
    if "db_session" not in g:
        g.db_session = current_app.extensions["touchpoint.db"]()
    return g.db_session


def artifacts() -> ArtifactStore:
    return current_app.extensions["touchpoint.artifacts"]


def _close_session(_exc: BaseException | None) -> None:
    db_session = g.pop("db_session", None)
    if db_session is not None:
        db_session.close()
