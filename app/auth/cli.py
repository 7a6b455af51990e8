"""`flask --app app keys create|list|revoke`: the operator's hands on API keys."""

from __future__ import annotations

from datetime import UTC, datetime

import click
from flask import current_app
from flask.cli import with_appcontext
from limits import parse_many

from app.auth import keys
from app.store import session


@click.group("keys")
def keys_group() -> None:
    """Create, list and revoke API keys for the /v1 API."""


@keys_group.command("create")
@click.option("--name", required=True, help="Who calls with it (keys of one caller share a name).")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(keys.SCOPES),
              help="A right the key has; repeat for more.")
@click.option("--brand", "brands", multiple=True, help="Bind the key to a brand; repeat for more. "
              "None: every brand.")
@click.option("--expires", default=None, help="90d, 12h, 30m, or an ISO 8601 date.")
@click.option("--rate-limit", default=None, help='Its own limit, e.g. "100/second" (default: '
              "RATE_LIMIT).")
@with_appcontext
def create_command(name: str, scopes: tuple[str, ...], brands: tuple[str, ...], expires: str | None,
                   rate_limit: str | None) -> None:
    """Make a key. It is printed once, alone on the last line; only its hash is kept."""
    known = current_app.extensions["touchpoint.brands"].ids()
    for brand in brands:
        if brand not in known:
            raise click.BadParameter(f"no brand '{brand}'", param_hint="--brand")
    if rate_limit is not None:
        _check_limit(rate_limit)
    try:
        expires_at = keys.parse_expiry(expires, datetime.now(UTC)) if expires else None
    except ValueError:
        raise click.BadParameter("say 90d, 12h, 30m or an ISO 8601 date", param_hint="--expires") from None
    db = session()
    row, key = keys.create(db, name, list(scopes), list(brands) or None, expires_at, rate_limit,
                           live=current_app.config.get("TOUCHPOINT_ENV") == "production")
    db.commit()
    click.echo(f"created {row.prefix} ({name}): {', '.join(row.scopes)}"
               f"{'; brands ' + ', '.join(row.brands) if row.brands else ''}"
               f"{'; expires ' + row.expires_at.isoformat() if row.expires_at else ''}", err=True)
    click.echo("the key is shown once; store it now", err=True)
    click.echo(key)


@keys_group.command("list")
@with_appcontext
def list_command() -> None:
    """Every key: prefix, name, scopes, brands, created, last used, expires, revoked."""
    rows = keys.listed(session())
    click.echo("prefix\tname\tscopes\tbrands\tcreated\tlast used\texpires\trevoked")
    for row in rows:
        click.echo("\t".join([
            row.prefix, row.name, ",".join(row.scopes), ",".join(row.brands or ["*"]),
            _when(row.created_at), _when(row.last_used_at), _when(row.expires_at),
            _when(row.revoked_at),
        ]))


@keys_group.command("revoke")
@click.argument("prefix")
@with_appcontext
def revoke_command(prefix: str) -> None:
    """Revoke the key PREFIX (`tp_live_3f9a2c1b`): every call with it answers 401 from now on."""
    db = session()
    row = keys.revoke(db, prefix)
    if row is None:
        raise click.ClickException(f"no key {prefix}")
    db.commit()
    current_app.extensions["touchpoint.keys"].forget(row.prefix)
    click.echo(f"revoked {row.prefix} ({row.name})")


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M") if moment else "-"


def _check_limit(text: str) -> None:
    try:
        parse_many(text)
    except ValueError:
        raise click.BadParameter(f"not a rate limit: {text}", param_hint="--rate-limit") from None
