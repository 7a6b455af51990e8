"""Configuration: defaults, then the environment, then the dict a test hands in."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # type only: the settings module imports no framework
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent
# create_app keeps itself in `app.extensions[FACTORY]`, so what builds an app like the running
# one (the job pool's processes, the workbench's scratch app) is handed the factory by the
# entry point instead of importing `app`, which imports every part.
FACTORY = "touchpoint.create_app"
AppFactory = Callable[[dict[str, Any] | None], "Flask"]

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
    "IDEMPOTENCY_LEASE",
    "ARTIFACT_SWEEP_GRACE",
    "ARTIFACT_INLINE_BYTES",
    "WEBHOOK_SECRET",
    "WEBHOOK_ALLOW_HTTP",
    "WEBHOOK_RUNNER",
    "PROFILE_WEBHOOK_URL",
    "PREFERENCE_LINK_MAX_AGE",
    "OUTBOUND_ALLOW_HOSTS",
    "JOB_MAX_NDJSON_BYTES",
    "MAX_CONTENT_LENGTH",
    "TEMPLATE_AUTO_RELOAD",
    "PREVIEW_ENABLED",
    "SCHEMA_AUTO_UPGRADE",
    "RATE_LIMIT",
    "RATE_LIMIT_STORAGE_URI",
    "RETENTION_DAYS",
    "JOB_RETENTION_DAYS",
    "WEBHOOK_RETENTION_DAYS",
    "PDF_TIME_LIMIT",
    "PDF_MEMORY_LIMIT",
)


# How the service is served (app/serve) and what production requires of the rest.
SERVING_KEYS = (
    "TOUCHPOINT_ENV",
    "HOST",
    "PORT",
    "HEALTH_PORT",
    "WEB_CONCURRENCY",
    "WEB_THREADS",
    "CPU_TURN",
    "GRACEFUL_TIMEOUT",
    "LOG_FORMAT",
    "LOG_LEVEL",
)
ENVIRONMENTS = ("development", "production")
# Shorter keys can be guessed offline from one signed link (itsdangerous uses HMAC-SHA1/512).
MIN_SECRET_KEY_LENGTH = 32


class ConfigError(Exception):
    """Settings the service refuses to start with; each problem names its setting."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def defaults(var_dir: Path) -> dict[str, Any]:
    return {
        # Unset: http://127.0.0.1:<PORT> in development; production refuses to start without it.
        "PUBLIC_BASE_URL": None,
        # Where the generated defaults live (TOUCHPOINT_VAR_DIR), and the background socket.
        "VAR_DIR": str(var_dir),
        # development (the default) or production, where load() checks what must be set.
        "TOUCHPOINT_ENV": "development",
        # The production server (app/serve): where it listens, how many processes (default:
        # one per core), threads in each, and how long a stop waits for what is in flight.
        "HOST": "127.0.0.1",
        "PORT": 8000,
        # Unset: no port of its own for liveness. Set: the launcher answers GET /healthz there,
        # while the web processes' threads may all be busy (app/serve/health.py).
        "HEALTH_PORT": None,
        "WEB_CONCURRENCY": None,
        "WEB_THREADS": 4,
        # A render takes its process's CPU turn and runs alone, uninterrupted by the others
        # (app/cpu_turn.py); off, renders share the interpreter as Python's threads do.
        "CPU_TURN": True,
        "GRACEFUL_TIMEOUT": 30.0,
        # One line per request and per render: `text` for people, `json` for a log pipeline.
        "LOG_FORMAT": "text",
        "LOG_LEVEL": "INFO",
        "DATABASE_URL": f"sqlite:///{var_dir / 'touchpoint.db'}",
        # Each start brings the database to the newest schema revision (app/store/schema.py),
        # once, under a lock. False: only check it is there and refuse to start otherwise, for
        # servers whose launcher runs `flask --app app db upgrade` once before its workers.
        "SCHEMA_AUTO_UPGRADE": True,
        "ARTIFACT_DIR": str(var_dir / "artifacts"),
        "CELERY_BROKER_URL": None,
        "WEBHOOK_SECRET": None,
        "WEBHOOK_ALLOW_HTTP": False,
        # Host names or addresses a callback or webhook may reach although they are loopback,
        # private or link-local (app/outbound.py): development and tests only. Empty: none.
        "OUTBOUND_ALLOW_HOSTS": [],
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
        # A key whose first request has not finished after this long is taken as abandoned
        # (claims made before leases; app/store/idempotency.py).
        "IDEMPOTENCY_LOCK_TIMEOUT": 300,
        # The lease of a key in flight, renewed while its render runs: a retry after a crash
        # waits at most this long.
        "IDEMPOTENCY_LEASE": 10.0,
        # Artifact folders no row names (a process killed mid-render) are swept once older
        # than this: younger ones may be a render in flight (app/store/artifacts.py).
        "ARTIFACT_SWEEP_GRACE": 3600.0,
        # A message's file up to this many bytes is stored in its artifact row rather than as a
        # file under ARTIFACT_DIR (app/store/artifacts.py); 0 stores every file as a file.
        "ARTIFACT_INLINE_BYTES": 128 * 1024,
        # Limits on what a request may make us draw.
        "MAX_PDF_PAGES": 200,
        "MAX_IMAGE_BYTES": 5 * 1024 * 1024,
        "MAX_IMAGE_PIXELS": 40_000_000,
        # Each PDF is laid out in a child process (app/channels/sandbox.py) that is killed past
        # PDF_TIME_LIMIT seconds or PDF_MEMORY_LIMIT MB of its own: the request gets a 422
        # naming the limit, and the serving process stays as it was.
        "PDF_TIME_LIMIT": 20.0,
        "PDF_MEMORY_LIMIT": 512,
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
        # Where upstream hears of a customer's preference change (`profile.preferences_changed`,
        # app/preferences), unless the brand names its own (brand.json `profile_webhook_url`).
        # Unset and unnamed: the change is stored and audited, and no webhook is queued.
        "PROFILE_WEBHOOK_URL": None,
        # How long the preference centre and unsubscribe links of a message work (as its page).
        "PREFERENCE_LINK_MAX_AGE": 400 * 24 * 3600,
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
        # An NDJSON job body is read line by line, so it may be larger than a JSON body; each
        # line is held to MAX_CONTENT_LENGTH. Every line is stored (its request or its
        # problem), so this bounds the disk one request takes: 64 MB, about 10,000 big items.
        "JOB_MAX_NDJSON_BYTES": 64 * 1024 * 1024,
        # API keys (app/auth): each key gets RATE_LIMIT (a Flask-Limiter string) unless it has
        # its own; counted in this process's memory, or in Redis with
        # RATE_LIMIT_STORAGE_URI=redis://… so that every worker and machine shares the count.
        "RATE_LIMIT": "6000/minute",
        "RATE_LIMIT_STORAGE_URI": "memory://",
        # A process trusts a key it checked this many seconds ago without asking the database
        # again: a revocation reaches every process within this time. 0: ask every time.
        "AUTH_CACHE_SECONDS": 5.0,
        # Retention (app/retention.py, `flask purge`, daily in the background process): messages
        # with their files and appointments live as long as their links (WEB_LINK_MAX_AGE),
        # finished jobs and ended webhook deliveries a month.
        "RETENTION_DAYS": 400,
        "JOB_RETENTION_DAYS": 30,
        "WEBHOOK_RETENTION_DAYS": 30,
        # The key `make run` makes on its first start, with every scope (development only).
        "DEV_API_KEY_FILE": str(var_dir / "dev-api-key"),
        # A GET of a PDF still rendering (Prefer: respond-async) waits this long, then 202.
        "PDF_PENDING_WAIT": 2.0,
    }


def _coerce(key: str, value: str) -> Any:
    if key in {"WEBHOOK_ALLOW_HTTP", "WEBHOOK_RUNNER", "TEMPLATE_AUTO_RELOAD", "PREVIEW_ENABLED",
               "SCHEMA_AUTO_UPGRADE"}:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if key in {"SECRET_KEY_FALLBACKS", "OUTBOUND_ALLOW_HOSTS"}:
        # Comma-separated. Old keys: links they signed keep working while they rotate out.
        return [part.strip() for part in value.split(",") if part.strip()]
    if key in {"MAX_CONTENT_LENGTH", "JOB_MAX_NDJSON_BYTES", "JOB_WORKERS", "JOB_CHUNK_SIZE",
               "RETENTION_DAYS", "JOB_RETENTION_DAYS", "WEBHOOK_RETENTION_DAYS",
               "PREFERENCE_LINK_MAX_AGE", "ARTIFACT_INLINE_BYTES"}:
        return int(value)
    if key in {"JOB_RUNNER", "CPU_TURN"}:
        return value.strip().lower() in {"1", "true", "yes", "on"}
    if key in {"JOB_LEASE_SECONDS", "GRACEFUL_TIMEOUT", "IDEMPOTENCY_LEASE", "ARTIFACT_SWEEP_GRACE"}:
        return float(value)
    if key in {"PORT", "WEB_CONCURRENCY", "WEB_THREADS"}:
        return int(value)
    if key == "HEALTH_PORT":
        return int(value) if value.strip() else None
    if key == "PDF_TIME_LIMIT":
        return float(value)
    if key == "PDF_MEMORY_LIMIT":
        return int(value)
    if key == "CELERY_BROKER_TRANSPORT_OPTIONS":
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
    for key in (*ENV_KEYS, *SERVING_KEYS):
        if key in os.environ:
            settings[key] = _coerce(key, os.environ[key])
    settings.update(test_config or {})
    problems = check(settings)
    if problems:
        raise ConfigError(problems)
    if settings["TOUCHPOINT_ENV"] == "production" and "TEMPLATE_AUTO_RELOAD" not in os.environ \
            and "TEMPLATE_AUTO_RELOAD" not in (test_config or {}):
        # Templates do not change under a running production service: save a stat per render.
        settings["TEMPLATE_AUTO_RELOAD"] = False
    settings["PUBLIC_BASE_URL"] = (settings["PUBLIC_BASE_URL"] or _local_url(settings)).rstrip("/")
    if not settings.get("SECRET_KEY"):
        settings["SECRET_KEY"] = _secret_key(var_dir)
    return settings


def check(settings: dict[str, Any]) -> list[str]:
    """What stops the start, each naming its setting: production wants its links absolute
    and https, and a key of its own that every machine shares (a generated one would not)."""
    environment = settings.get("TOUCHPOINT_ENV")
    if environment not in ENVIRONMENTS:
        return [f"TOUCHPOINT_ENV must be one of {', '.join(ENVIRONMENTS)}, not {environment!r}"]
    if settings.get("HEALTH_PORT") and settings["HEALTH_PORT"] == settings.get("PORT"):
        return [f"HEALTH_PORT must differ from PORT (both are {settings['PORT']}): the liveness "
                "probe has a port of its own"]
    if environment != "production":
        return []
    problems: list[str] = []
    url = settings.get("PUBLIC_BASE_URL") or ""
    if not url:
        problems.append("PUBLIC_BASE_URL is not set: in production set it to the https:// address "
                        "customers reach the service at")
    elif not url.startswith("https://"):
        problems.append(f"PUBLIC_BASE_URL must start with https:// in production (it is {url!r}): "
                        "customers' links and images are served from it")
    key = settings.get("SECRET_KEY") or ""
    if len(key) < MIN_SECRET_KEY_LENGTH:
        said = "is not set" if not key else f"is {len(key)} characters"
        problems.append(f"SECRET_KEY {said}: in production set it to at least {MIN_SECRET_KEY_LENGTH} "
                        "random characters, the same on every machine (it signs customers' links)")
    return problems


def _local_url(settings: dict[str, Any]) -> str:
    """Development's PUBLIC_BASE_URL: the address `make run` listens on, so links work there."""
    host = settings["HOST"]
    if host in ("", "0.0.0.0", "::"):
        host = "127.0.0.1"
    elif ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{settings['PORT']}"
