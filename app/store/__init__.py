"""Storage: SQLAlchemy (SQLite file by default, PostgreSQL by DATABASE_URL) and artifact files.

`init_app` makes one engine per app and a session per request (`store.session()`).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, current_app, g
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from app.store.artifacts import ArtifactStore
from app.store.models import Base

__all__ = ["ArtifactStore", "artifacts", "engine_for", "init_app", "session"]


def engine_for(url: str) -> Engine:
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url.removeprefix("postgresql://")
    if url.startswith("sqlite"):
        path = url.removeprefix("sqlite:///")
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # `timeout` is SQLite's busy timeout: a writer waits up to 30 s for another's commit
        # (several server processes write one file) instead of failing "database is locked".
        engine = create_engine(url, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            # With WAL, NORMAL syncs at checkpoints instead of at every commit: a power cut may
            # lose the last commits but never corrupts; a crash of the process loses nothing.
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def init_app(app: Flask) -> None:
    engine = engine_for(app.config["DATABASE_URL"])
    # The tables of the parts that keep their own models, so create_all makes them too.
    from app.appointments import models as _appointments  # noqa: F401
    from app.jobs import models as _jobs  # noqa: F401
    from app.webhooks import models as _webhooks  # noqa: F401

    Base.metadata.create_all(engine)
    app.extensions["touchpoint.db"] = sessionmaker(engine, expire_on_commit=False)
    app.extensions["touchpoint.engine"] = engine
    app.extensions["touchpoint.artifacts"] = ArtifactStore(Path(app.config["ARTIFACT_DIR"]))
    app.teardown_appcontext(_close_session)


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
