"""The archive, on SQLite and PostgreSQL: a message and its files, all or nothing, whether a
file is kept in its artifact row (up to ARTIFACT_INLINE_BYTES) or under ARTIFACT_DIR."""

from __future__ import annotations

import email
import hashlib
from email import policy
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.store.artifacts import ArtifactStore
from app.store.models import Artifact, Message
from tests.conftest import load_fixture

# What each artifact is served as (CONTRACT.md, GET /v1/messages/{id}/{artifact}).
CONTENT_TYPES = {
    "email.html": "text/html",
    "email.txt": "text/plain",
    "email.eml": "message/rfc822",
    "page.html": "text/html",
    "document.pdf": "application/pdf",
    "invite.ics": "text/calendar",
}


def counts(app: Flask) -> tuple[int, int]:
    with app.extensions["touchpoint.db"]() as db:
        messages = db.scalar(select(func.count()).select_from(Message)) or 0
        artifacts = db.scalar(select(func.count()).select_from(Artifact)) or 0
    return messages, artifacts


# Where a message's files are kept, as the inline limit decides: every one in its row, or
# every one under ARTIFACT_DIR (the default limit keeps small ones in rows, large ones as files).
KEPT = {"rows": 10 * 1024 * 1024, "files": 0}


@pytest.fixture(params=list(KEPT))
def kept(request: pytest.FixtureRequest, any_client: FlaskClient) -> str:
    any_client.application.extensions["touchpoint.artifacts"].inline_bytes = KEPT[request.param]
    return str(request.param)


def message_dirs(app: Flask) -> list[str]:
    return sorted(p.name for p in (Path(app.config["ARTIFACT_DIR"]) / "messages").iterdir())


def stored_bytes(app: Flask, artifact: Artifact) -> bytes:
    """An artifact's bytes read straight from where its row says they are."""
    if artifact.path is None:
        assert artifact.content is not None
        return artifact.content
    assert artifact.content is None
    return (Path(app.config["ARTIFACT_DIR"]) / artifact.path).read_bytes()


def render(client: FlaskClient, fixture: str) -> dict[str, Any]:
    response = client.post("/v1/render", json=load_fixture(fixture))
    assert response.status_code == 201, response.get_data(as_text=True)
    assert response.json is not None
    return response.json


def assert_artifact_bytes(name: str, data: bytes) -> None:
    """The bytes are what the name says, not just something with the right header."""
    if name.endswith(".html"):
        assert data.lstrip().lower().startswith(b"<!doctype html")
    elif name == "email.txt":
        assert data.decode("utf-8").strip()
    elif name == "email.eml":
        mail = email.message_from_bytes(data, policy=policy.default)
        assert mail["Subject"] and mail.get_body(("plain",)) and mail.get_body(("html",))
    elif name == "document.pdf":
        assert data.startswith(b"%PDF-") and data.rstrip().endswith(b"%%EOF")
    elif name == "invite.ics":
        assert data.startswith(b"BEGIN:VCALENDAR") and b"BEGIN:VEVENT" in data


@pytest.mark.parametrize("fixture", ["appointment/confirmation-nl", "invoice/capsules-nl"])
def test_the_archive_keeps_the_message_and_its_files(any_client: FlaskClient, kept: str,
                                                     fixture: str) -> None:
    app = any_client.application
    answer = render(any_client, fixture)
    expected = {name for name in CONTENT_TYPES if name != "invite.ics" or fixture.startswith("appointment")}
    # The .eml is built from the stored parts on its first fetch (app/channels/email.py).
    expected.discard("email.eml")
    with app.extensions["touchpoint.db"]() as db:
        message = db.get(Message, answer["id"])
        assert message is not None
        assert message.type == answer["type"] and message.locale == answer["locale"]
        assert message.reference == answer["reference"]
        assert message.request == load_fixture(fixture)
        assert sorted(message.channels) == sorted(answer["outputs"])
        assert {artifact.name for artifact in message.artifacts} == expected
        root = Path(app.config["ARTIFACT_DIR"])
        for artifact in message.artifacts:
            data = stored_bytes(app, artifact)
            if kept == "files":
                assert (root / artifact.path).parent == root / "messages" / answer["id"]
            else:
                assert artifact.path is None
            assert len(data) == artifact.size
            assert hashlib.sha256(data).hexdigest() == artifact.sha256
            assert_artifact_bytes(artifact.name, data)
    # A message whose files all fit in rows makes no folder.
    assert message_dirs(app) == ([answer["id"]] if kept == "files" else [])


@pytest.mark.parametrize("fixture", ["appointment/confirmation-nl", "invoice/capsules-nl"])
def test_get_answers_what_post_answered_and_every_artifact(any_client: FlaskClient, kept: str,
                                                          fixture: str) -> None:
    answer = render(any_client, fixture)
    again = any_client.get(f"/v1/messages/{answer['id']}")
    assert again.status_code == 200
    assert again.mimetype == "application/json"
    assert again.json == answer
    is_appointment = fixture.startswith("appointment")
    app = any_client.application
    for name, mimetype in CONTENT_TYPES.items():
        response = any_client.get(f"/v1/messages/{answer['id']}/{name}", buffered=True)
        if name == "invite.ics" and not is_appointment:
            assert response.status_code == 404
            continue
        assert response.status_code == 200, name
        assert response.mimetype == mimetype, name
        # One charset at most, and UTF-8 for text.
        assert response.content_type.count("charset") == (1 if mimetype.startswith("text/") else 0), \
            response.content_type
        if mimetype.startswith("text/"):
            assert response.mimetype_params["charset"] == "utf-8"
        with app.extensions["touchpoint.db"]() as db:
            stored = db.get(Artifact, (answer["id"], name))
            assert stored is not None
            assert response.data == stored_bytes(app, stored), name
            # Conditional GET works wherever the bytes are kept.
            assert response.headers["ETag"] == f'"{stored.sha256}"'
        assert any_client.get(f"/v1/messages/{answer['id']}/{name}",
                              headers={"If-None-Match": response.headers["ETag"]},
                              buffered=True).status_code == 304
        assert_artifact_bytes(name, response.data)
    if is_appointment:
        invite = any_client.get(f"/v1/messages/{answer['id']}/invite.ics", buffered=True)
        assert invite.mimetype_params["method"] == answer["outputs"]["ics"]["method"]


def test_answer_urls_lead_to_the_artifacts(any_client: FlaskClient) -> None:
    answer = render(any_client, "appointment/confirmation-nl")
    base = any_client.application.config["PUBLIC_BASE_URL"]
    outputs = answer["outputs"]
    for url, mimetype in [(outputs["pdf"]["url"], "application/pdf"),
                          (outputs["ics"]["url"], "text/calendar"),
                          (outputs["email"]["eml_url"], "message/rfc822"),
                          (outputs["web"]["url"], "text/html")]:
        assert url.startswith(base + "/")
        response = any_client.get(url.removeprefix(base), buffered=True)
        assert response.status_code == 200, url
        assert response.mimetype == mimetype
    assert outputs["pdf"]["bytes"] == len(any_client.get(outputs["pdf"]["url"].removeprefix(base),
                                                         buffered=True).data)


class Boom(RuntimeError):
    pass


def _spy_writes(monkeypatch: pytest.MonkeyPatch, fail_at: int | None = None) -> list[Path]:
    """Record every message file written; raise instead of writing the `fail_at`-th one."""
    written: list[Path] = []
    original = ArtifactStore.write_message_file

    def write(self: ArtifactStore, message_id: str, name: str, data: bytes) -> tuple[str, str]:
        if fail_at is not None and len(written) + 1 == fail_at:
            raise OSError("disk full")
        result = original(self, message_id, name, data)
        written.append(self.root / result[0])
        return result

    monkeypatch.setattr(ArtifactStore, "write_message_file", write)
    return written


def test_a_failed_commit_leaves_no_files_and_no_rows(any_client: FlaskClient,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    app = any_client.application
    app.extensions["touchpoint.artifacts"].inline_bytes = 0  # files on disk: the case under test
    written = _spy_writes(monkeypatch)
    on_disk_at_commit: list[bool] = []

    def commit(self: Session) -> None:
        on_disk_at_commit.append(bool(written) and all(path.is_file() for path in written))
        raise Boom("the database went away")

    monkeypatch.setattr(Session, "commit", commit)
    response = any_client.post("/v1/render", json=load_fixture("appointment/confirmation-nl"))
    monkeypatch.undo()
    assert response.status_code == 500
    assert response.mimetype == "application/problem+json"
    assert "nothing was stored" in response.json["detail"]  # type: ignore[index]
    # The files were on disk when the transaction failed (the case under test), and are gone.
    assert on_disk_at_commit == [True]
    for path in written:
        assert not path.exists()
        assert not path.parent.exists()
    assert message_dirs(app) == []
    assert counts(app) == (0, 0)
    # The service goes on working after the failure.
    answer = render(any_client, "invoice/capsules-nl")
    assert message_dirs(app) == [answer["id"]]


def test_a_failed_commit_of_files_kept_in_rows_leaves_nothing(any_client: FlaskClient,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    app = any_client.application
    app.extensions["touchpoint.artifacts"].inline_bytes = KEPT["rows"]
    written = _spy_writes(monkeypatch)

    def commit(self: Session) -> None:
        raise Boom("the database went away")

    monkeypatch.setattr(Session, "commit", commit)
    response = any_client.post("/v1/render", json=load_fixture("appointment/confirmation-nl"))
    monkeypatch.undo()
    assert response.status_code == 500
    assert written == []  # not one file: the bytes were to go in with the rows
    assert message_dirs(app) == []
    assert counts(app) == (0, 0)


@pytest.mark.parametrize("fail_at", [1, 3])
def test_a_failed_file_write_leaves_nothing(any_client: FlaskClient, monkeypatch: pytest.MonkeyPatch,
                                           fail_at: int) -> None:
    app = any_client.application
    app.extensions["touchpoint.artifacts"].inline_bytes = 0  # files on disk: the case under test
    written = _spy_writes(monkeypatch, fail_at=fail_at)
    body = load_fixture("invoice/capsules-nl") | {"channels": ["email", "web"]}
    response = any_client.post("/v1/render", json=body)
    assert response.status_code == 500
    assert len(written) == fail_at - 1
    assert message_dirs(app) == []
    assert counts(app) == (0, 0)


@pytest.mark.parametrize("fixture", ["appointment/confirmation-nl", "invoice/capsules-nl"])
def test_the_eml_is_built_on_first_fetch_and_stored_once(any_client: FlaskClient, fixture: str) -> None:
    app = any_client.application
    answer = render(any_client, fixture)
    url = f"/v1/messages/{answer['id']}/email.eml"
    first = any_client.get(url, buffered=True)
    second = any_client.get(url, buffered=True)
    assert first.status_code == second.status_code == 200
    assert first.data == second.data  # stored on the first fetch, not built again
    with app.extensions["touchpoint.db"]() as db:
        message = db.get(Message, answer["id"])
        assert message is not None
        [eml] = [artifact for artifact in message.artifacts if artifact.name == "email.eml"]
        assert stored_bytes(app, eml) == first.data
        assert hashlib.sha256(first.data).hexdigest() == eml.sha256
        # Fixed at render time, so a rebuild would say the same: date and Message-ID.
        assert f"Message-ID: <{answer['id']}@".encode() in first.data
