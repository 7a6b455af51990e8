"""Shared fixtures: `app`, `client`, `runner` (Flask's tutorial layout), per storage backend.

Every app made here (`make_app`) holds an API key with every scope, and its test clients send
it, as an upstream system would; `app.test_client(key=None)` sends none, and
`app.test_client(key=k)` sends `k` (tests/auth/test_auth.py).

`playwright` and `chromium` are one Playwright and one headless Chromium for the whole run,
shared by every browser test module (each makes its own contexts).

`app` runs on SQLite in a temporary folder. Tests marked `postgres` (or using `any_app`,
which is parametrised over both) run on the PostgreSQL server of this machine, each in a
schema of its own that is dropped afterwards.

`receiver` is upstream's endpoint on 127.0.0.1, for the webhook tests and the preference
tests that watch what upstream is told.

Fixtures only one folder uses live in that folder's conftest.py.
"""

from __future__ import annotations

import json
import os
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from playwright.sync_api import Browser, Page, Playwright, sync_playwright
from sqlalchemy import create_engine, text

from app import create_app
from app.auth import SCOPES, keys
from app.store import session
from tests import browser as measure

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
PUBLIC_BASE_URL = "http://touchpoint.test"
POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


def fixture_paths() -> list[Path]:
    return sorted(FIXTURES.glob("*/*.json"))


def load_fixture(name: str) -> dict[str, Any]:
    """A fixture as a fresh dict: `invoice/capsules-nl`."""
    return json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8"))


class KeyedClient(FlaskClient):
    """A test client that calls with the app's all-scopes key, or the `key` it is given."""

    def __init__(self, *args: Any, key: str | bool | None = True, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if key is True:
            key = self.application.config["TEST_API_KEY"]
        if key:
            self.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"


def add_key(app: Flask, name: str = "tests", scopes: tuple[str, ...] = SCOPES,
            brands: list[str] | None = None, **options: Any) -> str:
    """A new API key in the app's database."""
    with app.app_context():
        _, key = keys.create(session(), name, list(scopes), brands, **options)
        session().commit()
    return key


def make_app(config: dict[str, Any]) -> Flask:
    """`create_app`, with an all-scopes key its test clients send."""
    application = create_app(config)
    application.config["TEST_API_KEY"] = add_key(application)
    application.test_client_class = KeyedClient
    return application


def _config(tmp_path: Path, database_url: str) -> dict[str, Any]:
    return {
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "DATABASE_URL": database_url,
        "ARTIFACT_DIR": str(tmp_path / "artifacts"),
    }


@pytest.fixture
def app(tmp_path: Path) -> Iterator[Flask]:
    application = make_app(_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"))
    yield application
    application.extensions["touchpoint.engine"].dispose()


@pytest.fixture(scope="module")
def module_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app for a whole module, for tests that render every fixture once and share it."""
    tmp_path = tmp_path_factory.mktemp("module-app")
    application = make_app(_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"))
    yield application
    application.extensions["touchpoint.engine"].dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    schema = f"tp_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{POSTGRES_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def pg_app(tmp_path: Path, postgres_url: str) -> Iterator[Flask]:
    application = make_app(_config(tmp_path, postgres_url))
    yield application
    application.extensions["touchpoint.engine"].dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flask]:
    """The same app on each storage backend."""
    if request.param == "sqlite":
        yield request.getfixturevalue("app")
    else:
        yield request.getfixturevalue("pg_app")


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def any_client(any_app: Flask) -> FlaskClient:
    return any_app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    """One Playwright for the run: its sync API allows one per thread, so every browser in the
    tests (the snapshot camera's too) is launched from this one."""
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def chromium(playwright: Playwright) -> Iterator[Browser]:
    """One headless Chromium for every browser test module, started once: a test's isolation
    comes from its own browser context (cookies, storage, viewport), not its own browser."""
    browser = playwright.chromium.launch(executable_path=measure.CHROMIUM, args=measure.CHROMIUM_ARGS)
    yield browser
    browser.close()


# A small phone, the narrowest screen the customer pages are made for.
PHONE = {"width": 320, "height": 640}


@pytest.fixture
def phone(chromium: Browser) -> Iterator[Page]:
    """A page on a 320 px touch phone, in a browser context of its own."""
    context = chromium.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True, has_touch=True)
    page = context.new_page()
    yield page
    context.close()


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Flask, str]]:
    """The real app served over HTTP on a free loopback port, its PUBLIC_BASE_URL its own
    address (so the absolute image URLs in emails and pages load from it); one per module."""
    folder = tmp_path_factory.mktemp("live-app")
    with measure.bound_server() as server:
        application = make_app({
            "TESTING": True,
            "SECRET_KEY": "browser-test-secret",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{server.server_port}",
            "DATABASE_URL": f"sqlite:///{folder / 'test.db'}",
            "ARTIFACT_DIR": str(folder / "artifacts"),
        })
        yield application, measure.serve(server, application)
    application.extensions["touchpoint.engine"].dispose()


# An upstream endpoint, for the webhook tests and the preference tests that watch upstream.
@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """Upstream's endpoint: records each POST and answers from a script (default 204)."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    script: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
            status, headers = receiver.script.pop(0) if receiver.script else (204, {})
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", "0")
            self.end_headers()
            receiver.arrived.set()

        def log_message(self, *args: Any) -> None:  # a test run prints only what went wrong
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True)
    thread.start()
    receiver.url = f"http://127.0.0.1:{server.server_port}/hooks/appointments"
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)
