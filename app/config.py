"""Configuration: defaults, then the environment, then the dict a test hands in."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent

# Names read from the environment (CONTRACT.md, Running). Everything else keeps its default.
ENV_KEYS = (
    "SECRET_KEY",
    "SECRET_KEY_FALLBACKS",
    "PUBLIC_BASE_URL",
    "DATABASE_URL",
    "ARTIFACT_DIR",
    "CELERY_BROKER_URL",
    "CELERY_QUEUE",
    "CELERY_BROKER_TRANSPORT_OPTIONS",
    "JOB_RUNNER",
    "JOB_WORKERS",
    "JOB_CHUNK_SIZE",
    "JOB_LEASE_SECONDS",
    "WEBHOOK_SECRET",
    "WEBHOOK_ALLOW_HTTP",
    "WEBHOOK_RUNNER",
    "MAX_CONTENT_LENGTH",
    "TEMPLATE_AUTO_RELOAD",
    "PREVIEW_ENABLED",
    "SCHEMA_AUTO_UPGRADE",
)


def defaults(var_dir: Path) -> dict[str, Any]:
    return {
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "DATABASE_URL": f"sqlite:///{var_dir / 'touchpoint.db'}",
        # Each start brings the database to the newest schema revision (app/store/schema.py),
        # once, under a lock. False: only check it is there and refuse to start otherwise, for
        # servers whose launcher runs `flask --app app db upgrade` once before its workers.
        "SCHEMA_AUTO_UPGRADE": True,
        "ARTIFACT_DIR": str(var_dir / "artifacts"),
        "CELERY_BROKER_URL": None,
        "WEBHOOK_SECRET": None,
        "WEBHOOK_ALLOW_HTTP": False,
        # Body limit (CONTRACT.md, Errors: 413 over 5 MB by default).
        "MAX_CONTENT_LENGTH": 5 * 1024 * 1024,
        # Where designers' files live; tests may point these elsewhere.
        "COMPONENTS_DIR": str(ROOT / "components"),
        "TEMPLATES_DIR": str(ROOT / "templates"),
        "BRANDS_DIR": str(ROOT / "templates" / "brands"),
        "TRANSLATIONS_DIR": str(ROOT / "translations"),
        "FIXTURES_DIR": str(ROOT / "fixtures"),
        # Recompile templates when their files change (development); off saves a stat per render.
        "TEMPLATE_AUTO_RELOAD": True,
        # GET /preview, the designers' gallery: on in debug mode (`flask run --debug`), and
        # otherwise only when this is true. Never in production.
        "PREVIEW_ENABLED": False,
        # How long signed customer links stay valid.
        "WEB_LINK_MAX_AGE": 400 * 24 * 3600,
        # Idempotency keys are kept at least this long (CONTRACT.md: at least 24 hours).
        "IDEMPOTENCY_TTL": 24 * 3600,
        # A key whose first request has not finished after this long is taken as abandoned.
        "IDEMPOTENCY_LOCK_TIMEOUT": 300,
        # Limits on what a request may make us draw.
        "MAX_PDF_PAGES": 200,
        "MAX_IMAGE_BYTES": 5 * 1024 * 1024,
        "MAX_IMAGE_PIXELS": 40_000_000,
        # Webhooks to upstream (app/webhooks): a thread in the web process delivers them
        # (WEBHOOK_RUNNER false: only `flask deliver-webhooks` does), looking every
        # WEBHOOK_POLL_INTERVAL seconds and at once when one is queued. A failed attempt is
        # retried after WEBHOOK_RETRY_BASE * 2^(n-1) seconds (at most WEBHOOK_RETRY_MAX, with
        # jitter), WEBHOOK_MAX_ATTEMPTS times in all: about a day.
        "WEBHOOK_RUNNER": True,
        "WEBHOOK_POLL_INTERVAL": 5.0,
        "WEBHOOK_TIMEOUT": 10.0,
        "WEBHOOK_RETRY_BASE": 30,
        "WEBHOOK_RETRY_MAX": 6 * 3600,
        "WEBHOOK_MAX_ATTEMPTS": 15,
        # How long a reschedule or cancel page may stay open before its form is refused.
        "APPOINTMENT_FORM_MAX_AGE": 12 * 3600,
        # Render jobs (app/jobs). Without CELERY_BROKER_URL the embedded runner renders them:
        # a thread in the web process (JOB_RUNNER false: only `flask run-jobs` does) feeding a
        # pool of JOB_WORKERS processes (default: one per core). With a broker, Celery workers
        # take items in chunks of JOB_CHUNK_SIZE from the queue CELERY_QUEUE. An item is leased
        # for JOB_LEASE_SECONDS at a time, renewed while it renders: a dead worker's items are
        # taken up again once their lease runs out, at most JOB_MAX_ATTEMPTS times.
        "CELERY_QUEUE": "touchpoint",
        # Kombu transport options as JSON, e.g. Redis' {"visibility_timeout": 3600}.
        "CELERY_BROKER_TRANSPORT_OPTIONS": {},
        "JOB_RUNNER": True,
        "JOB_WORKERS": None,
        "JOB_CHUNK_SIZE": 20,
        "JOB_LEASE_SECONDS": 30.0,
        "JOB_MAX_ATTEMPTS": 3,
        # An NDJSON job body is read line by line, so it may be far larger than a JSON body.
        "JOB_MAX_NDJSON_BYTES": 1024 * 1024 * 1024,
        # A GET of a PDF still rendering (Prefer: respond-async) waits this long, then 202.
        "PDF_PENDING_WAIT": 2.0,
    }


def _coerce(key: str, value: str) -> Any:
    if key in {"WEBHOOK_ALLOW_HTTP", "WEBHOOK_RUNNER", "TEMPLATE_AUTO_RELOAD", "PREVIEW_ENABLED",
               "SCHEMA_AUTO_UPGRADE"}:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if key == "SECRET_KEY_FALLBACKS":
        # Old keys, comma-separated: links they signed keep working while they rotate out.
        return [part.strip() for part in value.split(",") if part.strip()]
    if key in {"MAX_CONTENT_LENGTH", "JOB_WORKERS", "JOB_CHUNK_SIZE"}:
        return int(value)
    if key == "JOB_RUNNER":
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if key == "JOB_LEASE_SECONDS":
        return float(value)
    if key == "CELERY_BROKER_TRANSPORT_OPTIONS":
        import json

        return json.loads(value)
    return value


def _secret_key(var_dir: Path) -> str:
    """A key kept under var/ so signed links survive restarts when none is configured."""
    path = var_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    var_dir.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    path.write_text(key)
    path.chmod(0o600)
    return key


def load(test_config: dict[str, Any] | None = None) -> dict[str, Any]:
    var_dir = Path(os.environ.get("TOUCHPOINT_VAR_DIR", ROOT / "var"))
    settings = defaults(var_dir)
    for key in ENV_KEYS:
        if key in os.environ:
            settings[key] = _coerce(key, os.environ[key])
    settings.update(test_config or {})
    settings["PUBLIC_BASE_URL"] = settings["PUBLIC_BASE_URL"].rstrip("/")
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = _secret_key(var_dir)
    return settings
