"""Storage, schema commands: `flask --app app db upgrade|current|history|downgrade|revision`.

Each runs on the app's engine through app/store/schema.py, so `db upgrade` takes the same lock
and makes the same decisions (create, recognise the baseline, upgrade) as a starting service.
"""

from __future__ import annotations

import re

import click
from alembic import command
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy import Engine

from app.store import schema

db_command = AppGroup("db", help="The database schema: Alembic revisions in app/store/migrations.")


def _engine() -> Engine:
    return current_app.extensions["touchpoint.engine"]


@db_command.command("upgrade")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    """Bring the database to REVISION (default: head), once, under the schema lock."""
    click.echo(f"database at {schema.upgrade(_engine(), revision)}")


@db_command.command("downgrade")
@click.argument("revision")
def downgrade_command(revision: str) -> None:
    """Take the database back to REVISION (`0002_api_keys`; `-- -1`: one step). Drops what later
    revisions added, with its data."""
    with schema.locked(_engine()) as connection:
        command.downgrade(schema.alembic_config(connection), revision)
        click.echo(f"database at {schema.current(connection)}")


@db_command.command("current")
def current_command() -> None:
    """The revision the database is at, and whether that is the head."""
    with _engine().connect() as connection:
        revision = schema.current(connection)
    if revision is None:
        click.echo("none: an empty database, or one made before migrations (`db upgrade` handles both)")
    else:
        click.echo(f"{revision}{' (head)' if revision == schema.head() else f', head is {schema.head()}'}")


@db_command.command("history")
def history_command() -> None:
    """Every revision, newest first."""
    for script in schema.script_directory().walk_revisions():
        click.echo(f"{script.down_revision or '<base>'} -> {script.revision}: {script.doc}")


@db_command.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes, e.g. 'api keys'.")
@click.option("--autogenerate", is_flag=True,
              help="Draft it from the difference between the models and the database (at head).")
def revision_command(message: str, autogenerate: bool) -> None:
    """Write the next revision, `NNNN_<message>.py`, for a developer to read and finish."""
    number = sum(1 for _ in schema.script_directory().walk_revisions()) + 1
    slug = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")[:40]
    with schema.locked(_engine()) as connection:
        config = schema.alembic_config(connection)
        # The file is named by its revision id alone: 0002_api_keys.py.
        config.set_main_option("file_template", "%%(rev)s")
        script = command.revision(config, message=message, autogenerate=autogenerate,
                                  rev_id=f"{number:04d}_{slug}")
    assert script is not None and not isinstance(script, list)
    click.echo(f"wrote {script.path}: read it, then run `flask --app app db upgrade`")
