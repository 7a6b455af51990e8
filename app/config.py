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
    "WEBHOOK_SECRET",
    "WEBHOOK_ALLOW_HTTP",
    "MAX_CONTENT_LENGTH",
    "TEMPLATE_AUTO_RELOAD",
)


def defaults(var_dir: Path) -> dict[str, Any]:
    return {
        "PUBLIC_BASE_URL": "http://127.0.0.1:8000",
        "DATABASE_URL": f"sqlite:///{var_dir / 'touchpoint.db'}",
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
    }


def _coerce(key: str, value: str) -> Any:
    if key in {"WEBHOOK_ALLOW_HTTP", "TEMPLATE_AUTO_RELOAD"}:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if key == "SECRET_KEY_FALLBACKS":
        # Old keys, comma-separated: links they signed keep working while they rotate out.
        return [part.strip() for part in value.split(",") if part.strip()]
    if key == "MAX_CONTENT_LENGTH":
        return int(value)
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
