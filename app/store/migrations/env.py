"""Storage, schema history: the Alembic environment every `flask db` command runs in.

Input: the connection app/store/schema.py opened and locked (`config.attributes["connection"]`).
Output: the migrations run, or compared (autogenerate), on that connection, inside the
transaction its caller owns, so the caller decides when it commits and when the lock ends.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from app.store.schema import target_metadata


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata(),
        # SQLite changes most of a table only by copying it: batch mode writes revisions that way.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations with `flask --app app db ...`, which opens the connection")
run_migrations(connection)
