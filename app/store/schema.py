"""Storage, schema: bring a database to the head revision once, under a lock, or check it is there.

Input: an engine. Output: its database at the head of app/store/migrations (`upgrade`), or a
`SchemaNotCurrent` naming the command that gets it there (`check`).

What `upgrade` does, decided and done while it holds the schema lock:
- no tables at all: `create_all` from the models, then stamp head. A fresh database is made in
  one step instead of replaying history (the Alembic cookbook's pattern, and what the test
  suite's hundreds of fresh databases take);
- tables but no `alembic_version`: a database `create_all` made before there were migrations,
  which is the baseline schema: stamp `0001_baseline`, then upgrade (or, when it already
  matches the models, stamp head);
- otherwise: upgrade to head (nothing to do, the usual case, costs one query).

The lock makes two processes starting at once take turns: the second waits, then finds the
database at head. PostgreSQL: a transaction-level advisory lock (per schema, so databases in
other schemas do not wait), and the DDL is transactional. SQLite: an flock on a file next to the
database, then BEGIN EXCLUSIVE with the work inside that transaction, so a crash half-way leaves
the file as it was.
"""

from __future__ import annotations

import fcntl
import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, MetaData, inspect, text

from app.store.models import Base

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BASELINE = "0001_baseline"
UPGRADE_COMMAND = "flask --app app db upgrade"
# Two processes can only take turns on the same key; the schema name is added to it.
_PG_LOCK_KEY = "touchpoint.schema:"


class SchemaNotCurrent(RuntimeError):
    """The database is not at the head revision and this process may not upgrade it."""


def target_metadata() -> MetaData:
    """Every table of the service: the store's own, and each part's, which its models define on
    the store's `Base` when its package is imported (create_app imports every part before the
    store's init_app prepares the schema)."""
    return Base.metadata


@functools.cache
def script_directory() -> ScriptDirectory:
    """The revisions, read once per process: the test suite makes hundreds of apps."""
    return ScriptDirectory(str(MIGRATIONS))


def head() -> str:
    revision = script_directory().get_current_head()
    assert revision is not None, "app/store/migrations/versions holds no revision"
    return revision


def alembic_config(connection: Connection) -> Config:
    """An Alembic configuration without alembic.ini, on a connection the caller holds."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


@contextmanager
def locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction no other process's `locked` runs beside; committed at the end."""
    with _file_lock(engine), engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            yield from _sqlite_locked(connection)
        else:
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key || current_schema()))"),
                    {"key": _PG_LOCK_KEY},
                )
            yield connection
            connection.commit()


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    """SQLite: an flock on `<database>.lock`, taken before this process's first connection.

    BEGIN EXCLUSIVE alone is not enough: each new connection first switches the file to WAL
    (engine_for), and on a brand-new file that switch fails at once ("database is locked",
    no busy wait) while another process holds its exclusive transaction.
    """
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:":
        yield
        return
    with open(f"{path}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        yield


def _sqlite_locked(connection: Connection) -> Iterator[Connection]:
    # Batch migrations copy a table and drop the old one; with foreign keys on, that drop would
    # cascade into the rows that refer to it. The pragma only takes effect outside a transaction.
    connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
    try:
        # EXCLUSIVE waits (the engine's busy timeout) while another process holds it.
        connection.exec_driver_sql("BEGIN EXCLUSIVE")
        yield connection
        violations = connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if violations:
            raise RuntimeError(f"the migration left rows whose references are gone: {violations[:5]}")
        connection.commit()
    finally:
        connection.rollback()
        connection.exec_driver_sql("PRAGMA foreign_keys=ON")
        connection.commit()


def current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> str | None:
    """Bring the database to `revision` (see the module's docstring); the revision it is at after."""
    with locked(engine) as connection:
        _bring_to(connection, revision)
        return current(connection)


def _bring_to(connection: Connection, revision: str) -> None:
    tables = inspect(connection).get_table_names()
    if not tables and revision == "head":
        # Known to be empty, under the lock: no need for create_all to ask about every table.
        target_metadata().create_all(connection, checkfirst=False)
        MigrationContext.configure(connection).stamp(script_directory(), "head")
        return
    if tables and "alembic_version" not in tables:
        MigrationContext.configure(connection).stamp(script_directory(), _recognise(connection))
    if current(connection) != head() or revision != "head":
        command.upgrade(alembic_config(connection), revision)


def _recognise(connection: Connection) -> str:
    """The revision of a database create_all made (no alembic_version): head when it already
    matches the models (made by a tree between two revisions' commits), else the baseline."""
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return "head" if not compare_metadata(context, target_metadata()) else BASELINE


def check(engine: Engine) -> None:
    """Raise SchemaNotCurrent unless the database is at head; changes nothing."""
    with engine.connect() as connection:
        revision = current(connection)
    if revision != head():
        found = f"at revision {revision}" if revision else "not under migrations (or empty)"
        raise SchemaNotCurrent(
            f"The database is {found}, not at {head()}, and SCHEMA_AUTO_UPGRADE is off: "
            f"run `{UPGRADE_COMMAND}` first."
        )
