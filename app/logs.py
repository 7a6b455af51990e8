"""Logs for operators: one line per request and one per render, as text or JSON (LOG_FORMAT).

    request  -> `init_app`: an id per request (the caller's `X-Request-Id`, or one made here,
                and returned), then one line with method, path, status, milliseconds and the
                API key's prefix (never the key; customers' link tokens are masked too)
    render   -> `Stopwatch` laps the pipeline's stages; `rendered` writes the message id,
                type, channels and milliseconds per stage
    process  -> `configure` (a process of our own) or `logconfig_dict` (gunicorn's) sends every
                logger to stderr in the chosen format

create_app does not configure logging itself: tests and the CLI keep their own handlers.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import Flask, Response, g, has_request_context, request

REQUEST_ID_HEADER = "X-Request-Id"
# A caller's id is kept only if it is a plain token: it goes into every log line verbatim.
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

request_log = logging.getLogger("touchpoint.request")
render_log = logging.getLogger("touchpoint.render")
# Chatty at INFO, saying nothing an operator acts on: one line per step of every PDF, a line
# per Alembic plugin at each start.
QUIET = {"weasyprint.progress": "WARNING", "alembic": "WARNING"}


# Formats.

class JsonFormatter(logging.Formatter):
    """One JSON object a line: ts, level, logger, pid (which process: each web process, the
    background process), msg (`request`, `render`, or the text of any other line), and the
    record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,
            "msg": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """For people: the usual line, then the record's `fields` as key=value."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{key}={_text(value)}" for key, value in fields.items())
        return line


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ",".join(f"{key}:{item}" for key, item in value.items())
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    return "-" if value is None else str(value)


def formatter_for(log_format: str) -> logging.Formatter:
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure(log_format: str, level: str) -> None:
    """Every logger of this process to stderr, in LOG_FORMAT (the background process)."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter_for(log_format))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)


def logconfig_dict(log_format: str, level: str) -> dict[str, Any]:
    """The same for gunicorn (its `logconfig_dict`), so its own lines share the format."""
    name = "json" if log_format == "json" else "text"
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {name: {"()": f"{__name__}.{type(formatter_for(log_format)).__name__}"}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": name,
                                "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            "gunicorn.error": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            # Our request line replaces gunicorn's access log.
            "gunicorn.access": {"handlers": [], "propagate": False},
            **{logger: {"level": quiet} for logger, quiet in QUIET.items()},
        },
    }


# Requests.

def init_app(app: Flask) -> None:
    # First of all before_request functions, so a request refused by another one (401, 429)
    # still has its id and its time.
    app.before_request_funcs.setdefault(None, []).insert(0, _start_request)
    app.after_request(_finish_request)


def request_id() -> str | None:
    return g.get("request_id") if has_request_context() else None


def _start_request() -> None:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    g.request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
    g.request_started = time.perf_counter()


def _finish_request(response: Response) -> Response:
    if "request_id" not in g:  # a request that failed before any before_request function ran
        _start_request()
    response.headers[REQUEST_ID_HEADER] = g.request_id
    elapsed = (time.perf_counter() - g.request_started) * 1000
    request_log.info("request", extra={"fields": {
        "method": request.method, "path": _path(), "status": response.status_code,
        "ms": round(elapsed, 2), "key": g.get("api_key_prefix"), "request_id": g.request_id,
    }})
    return response


def _path() -> str:
    """The path, with customers' signed tokens masked: in a log they would be their access."""
    path = request.path
    for name, value in (request.view_args or {}).items():
        if "token" in name and isinstance(value, str) and value:
            path = path.replace(value, "<token>")
    return path


# Renders.

class Stopwatch:
    """Milliseconds per stage, in order: `lap(name)` ends the stage that was running."""

    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.laps[stage] = round((now - self._last) * 1000, 2)
        self._last = now


def rendered(message_id: str, message_type: str, channels: list[str], clock: Stopwatch) -> None:
    render_log.info("render", extra={"fields": {
        "message_id": message_id, "type": message_type, "channels": channels,
        "ms": round(sum(clock.laps.values()), 2), "stages": clock.laps, "request_id": request_id(),
    }})
