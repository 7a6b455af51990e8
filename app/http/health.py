"""GET /healthz (liveness) and GET /readyz (readiness): for load balancers and orchestrators.

    /healthz -> 200 while the process answers at all; it checks nothing else, so a restart
                is never ordered because the database is away (restarting would not help)
    /readyz  -> 200 when this process can serve a render: the database answers, the artifact
                folder takes a file, and the broker answers (only with CELERY_BROKER_URL);
                503 otherwise, naming each failed check (details go to the log, not out)

Neither needs an API key (CONTRACT.md, Access).
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from flask import Blueprint, Response, current_app, json
from sqlalchemy import text

from app.jobs import celery_mode, runner

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

BROKER_TIMEOUT = 2.0


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> Response:
    checks: dict[str, Callable[[], None]] = {"database": _database, "artifacts": _artifacts}
    if celery_mode():
        checks["broker"] = _broker
    results = {name: _run(name, check) for name, check in checks.items()}
    ready = all(result == "ok" for result in results.values())
    body = {"status": "ready" if ready else "unavailable", "checks": results}
    return Response(json.dumps(body), status=200 if ready else 503, mimetype="application/json")


def _run(name: str, check: Callable[[], None]) -> str:
    try:
        check()
    except Exception as error:
        log.warning("readyz: %s check failed: %s", name, error)
        return f"failed: {type(error).__name__}"
    return "ok"


def _database() -> None:
    with current_app.extensions["touchpoint.engine"].connect() as connection:
        connection.execute(text("SELECT 1"))


def _artifacts() -> None:
    """Write and remove a file where renders write theirs: permissions alone do not say it
    (root ignores them; a full or read-only disk does not show in them)."""
    root = Path(current_app.config["ARTIFACT_DIR"]) / "messages"
    descriptor, probe = tempfile.mkstemp(dir=root, prefix=".readyz-")
    os.close(descriptor)
    os.unlink(probe)


def _broker() -> None:
    with runner().celery.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=BROKER_TIMEOUT)
