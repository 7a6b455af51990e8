"""Render a fixture the way the service does, and store nothing.

`prepare_message` (validate, enrich, compose, draw) and then each channel's `render`, in the
service's order, but never `commit`: no Message row, no message artifact. The
pictures a message shows (logo, QR codes, charts) are content-addressed assets written to
ARTIFACT_DIR exactly as a real render writes them, so the preview frames load them from
`/assets/`. Each channel is rendered on its own, so one failing template still leaves the
other channels to look at, and the failure names its file and line (failures.py).

The PDF is the slow channel (WeasyPrint): it renders only when asked for (`render_pdf`).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

from flask import Flask
from itsdangerous.timed import TimestampSigner

from app.channels import CHANNELS, ChannelOutput
from app.config import AppFactory
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.pipeline import build_answer, prepare_message
from app.store import artifacts
from app.visuals.drawn import keep
from app.workbench.failures import Failure, failure_from

# The clock and id of every deterministic render (snapshots): fixtures are written to be
# valid at this moment (their appointments lie ahead of it).
FIXED_NOW = datetime(2026, 11, 25, 9, 0, tzinfo=UTC)
FIXED_TIMESTAMP = int(FIXED_NOW.timestamp())


@dataclass(frozen=True)
class Fixture:
    name: str  # "invoice/capsules-nl"
    path: Path

    @property
    def type(self) -> str:
        return self.name.split("/", 1)[0]


def list_fixtures(root: Path) -> list[Fixture]:
    return [Fixture(path.relative_to(root).with_suffix("").as_posix(), path)
            for path in sorted(root.glob("*/*.json"))]


def find_fixture(root: Path, name: str) -> Fixture | None:
    return next((fixture for fixture in list_fixtures(root) if fixture.name == name), None)


@dataclass
class Scratch:
    """One fixture rendered in memory: the message, each channel's output, what failed."""

    fixture: Fixture
    overrides: dict[str, str]
    document: dict[str, Any] | None = None
    message: Composed | None = None
    enriched: Enriched | None = None
    outputs: dict[str, ChannelOutput] = field(default_factory=dict)
    answer: dict[str, Any] | None = None
    # By view: "fixture" (reading and validating it), or a channel's name.
    failures: dict[str, Failure] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures


def load_document(fixture: Fixture, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    document = json.loads(fixture.path.read_text(encoding="utf-8"))
    for key, value in (overrides or {}).items():
        if value:
            document[key] = value
    return document


def render_fixture(fixture: Fixture, overrides: dict[str, str] | None = None,
                   now: datetime | None = None, skip: tuple[str, ...] = ("pdf",)) -> Scratch:
    """Every channel of a fixture but those in `skip`, without storing anything.

    `overrides` replaces top-level fields of the request (`locale`, `brand`)."""
    scratch = Scratch(fixture, {k: v for k, v in (overrides or {}).items() if v})
    try:
        scratch.document = load_document(fixture, scratch.overrides)
        scratch.message, scratch.enriched = prepare_message(scratch.document, now)
        for asset in (*scratch.enriched.assets, *scratch.message.assets):
            keep(artifacts(), asset)  # a render stores its pictures at commit; previews load them
    except Exception as exc:  # shown to the designer, never raised
        scratch.failures["fixture"] = failure_from(exc, "fixture", fixture.path)
        return scratch
    for name, spec in CHANNELS.items():
        if name not in scratch.enriched.channels or name in skip:
            continue
        try:
            scratch.outputs[name] = spec.render(scratch.message, scratch.enriched, scratch.outputs)
        except Exception as exc:
            scratch.failures[name] = failure_from(exc, name, fixture.path)
    try:
        scratch.answer = build_answer(scratch.message, scratch.enriched, scratch.outputs)
    except Exception as exc:
        scratch.failures["answer"] = failure_from(exc, "answer", fixture.path)
    return scratch


def render_pdf(scratch: Scratch) -> bytes:
    """The PDF of a rendered scratch message (raises what the PDF channel raises)."""
    assert scratch.message is not None and scratch.enriched is not None
    output = CHANNELS["pdf"].render(scratch.message, scratch.enriched, scratch.outputs)
    return output.files[0].data


def pdf_page_images(pdf: bytes, dpi: int = 60, last: int | None = None) -> list[bytes]:
    """The PDF's pages (up to `last`) as PNG, drawn by poppler's pdftoppm."""
    with tempfile.TemporaryDirectory(prefix="touchpoint-pdf-") as folder:
        source = Path(folder) / "document.pdf"
        source.write_bytes(pdf)
        command = ["pdftoppm", "-png", "-r", str(dpi), *(["-l", str(last)] if last else []),
                   str(source), str(Path(folder) / "page")]
        subprocess.run(command, check=True, capture_output=True, timeout=60)
        pages = sorted(Path(folder).glob("page-*.png"), key=lambda p: int(p.stem.rsplit("-", 1)[1]))
        return [page.read_bytes() for page in pages]


def file_of(output: ChannelOutput, name: str) -> bytes | None:
    return next((file.data for file in output.files if file.name == name), None)


# Settings of the app a workbench command renders in: an empty archive (no stored profile
# changes what a fixture shows), assets drawn afresh, the fixed base URL the tests use, a
# fixed key, no background threads. The designers' folders come from the calling app.
SCRATCH_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "touchpoint-workbench",
    "SECRET_KEY_FALLBACKS": [],
    "PUBLIC_BASE_URL": "http://touchpoint.test",
    "WEBHOOK_RUNNER": False,
}
DESIGN_FOLDERS = ("TEMPLATES_DIR", "COMPONENTS_DIR", "BRANDS_DIR", "TRANSLATIONS_DIR", "FIXTURES_DIR")


@contextmanager
def scratch_app(config: Mapping[str, Any], create_app: AppFactory) -> Iterator[Flask]:
    """A throw-away app made by `create_app` on the same designers' folders as `config`, with
    its own empty archive and assets in a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="touchpoint-workbench-") as folder:
        app = create_app({
            **{key: config[key] for key in DESIGN_FOLDERS},
            **SCRATCH_CONFIG,
            "DATABASE_URL": f"sqlite:///{folder}/scratch.db",
            "ARTIFACT_DIR": f"{folder}/artifacts",
        })
        try:
            with app.app_context():
                yield app
        finally:
            app.extensions["touchpoint.engine"].dispose()


@contextmanager
def deterministic() -> Iterator[None]:
    """A fixed message id and a fixed signing time, so links (and any picture of one) are
    the same on every run. Swaps module globals: for a command or a test, never a server."""
    with mock.patch("app.pipeline.new_id", lambda prefix: f"{prefix}_{'0' * 26}"), \
            mock.patch.object(TimestampSigner, "get_timestamp", lambda self: FIXED_TIMESTAMP):
        yield
