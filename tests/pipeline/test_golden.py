"""Golden outputs: every fixture, rendered through the service's path, gives the same bytes.

Each fixture is rendered by `commit(render_message(...))`, exactly as POST /v1/render does,
in a fresh app of its own, so no fixture sees another's profile, appointment or offers
shown. The clock is FIXED_NOW, the message id fixed, and the signing time fixed
(`app.workbench.scratch.deterministic`), so links and everything that shows them repeat.

What is compared, per fixture, in tests/pipeline/golden/<type>/<name>.json: the sha256 and size of
every stored artifact (email HTML and text, web page, invite, SMS text, PDF) and of the
answer JSON (as stored with the message, keys sorted). PDFs are byte-stable under a fixed
clock (WeasyPrint writes the creation date it is given), so they are hashed like the rest.

After a change meant to alter an output, write the goldens again and review the diff:

    UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/pipeline/test_golden.py -q
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from app.pipeline import commit, render_message
from app.store import archive
from app.workbench.scratch import FIXED_NOW, deterministic
from tests.conftest import PUBLIC_BASE_URL, fixture_paths, make_app

GOLDEN = Path(__file__).resolve().parent / "golden"
MESSAGE_ID = f"msg_{'0' * 26}"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"
PATHS = fixture_paths()
IDS = [f"{p.parent.name}/{p.stem}" for p in PATHS]


@pytest.fixture
def fresh_app(tmp_path: Path) -> Iterator[Flask]:
    application = make_app({
        "TESTING": True,
        "SECRET_KEY": "test-secret-key",
        "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'golden.db'}",
        "ARTIFACT_DIR": str(tmp_path / "artifacts"),
        "WEBHOOK_RUNNER": False,
    })
    yield application
    application.extensions["touchpoint.engine"].dispose()


def digest(data: bytes) -> dict[str, Any]:
    return {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}


def rendered(app: Flask, path: Path) -> dict[str, Any]:
    """The digests of what one fixture's render stores: each artifact, and the answer."""
    document = json.loads(path.read_text(encoding="utf-8"))
    with app.app_context(), deterministic():
        answer = commit(render_message(document, now=FIXED_NOW, message_id=MESSAGE_ID))
        message = archive.get_message(answer["id"])
        assert message is not None
        files = {artifact.name: digest(archive.artifact_bytes(artifact)) for artifact in message.artifacts}
        assert archive.answer_of(message) == answer  # what GET /v1/messages/{id} gives
    answer_json = json.dumps(answer, sort_keys=True, ensure_ascii=False).encode()
    return {"answer.json": digest(answer_json), **dict(sorted(files.items()))}


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_golden(fresh_app: Flask, path: Path) -> None:
    golden = GOLDEN / path.parent.name / f"{path.stem}.json"
    now = rendered(fresh_app, path)
    if UPDATE:
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(json.dumps(now, indent=2) + "\n", encoding="utf-8")
    assert golden.is_file(), f"no golden output for {path.name}: run with UPDATE_GOLDEN=1"
    assert now == json.loads(golden.read_text(encoding="utf-8"))
