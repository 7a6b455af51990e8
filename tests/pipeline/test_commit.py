"""Render returns a value; commit is explicit (app/pipeline/commit.py).

`render_message` stores nothing: no message row, no message file. `commit` stores the message
and every record it is given in one transaction; a record that fails leaves nothing behind.
The stages before it change nothing they are given (draw returns a new message).
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.pipeline import commit, prepare_message, render_message
from app.pipeline.draw import draw
from app.store import archive, artifacts, session
from app.store.models import Message
from tests.conftest import load_fixture


def message_count() -> int:
    return session().scalar(select(func.count()).select_from(Message)) or 0


def test_render_message_stores_nothing_until_commit(app: Flask) -> None:
    with app.app_context():
        rendered = render_message(load_fixture("bill/electricity-nl"))
        folder = Path(app.config["ARTIFACT_DIR"]) / "messages" / rendered.message_id
        assert message_count() == 0 and not folder.exists()
        # The bill's QR codes and chart were drawn, not stored: the PDF was laid out with them.
        pictures = [artifacts().asset_path(asset.drawn.digest, "png") for asset in rendered.assets]
        assert len(pictures) == 3 and not any(path.exists() for path in pictures)
        answer = commit(rendered)
        assert answer == rendered.answer and message_count() == 1
        assert all(path.exists() for path in pictures)
        stored = session().get(Message, rendered.message_id)
        assert stored is not None and archive.answer_of(stored) == answer
        # The email's texts are stored once, as its files; the row names them with null.
        assert stored.document["outputs"]["email"]["html"] is None
        assert stored.document["outputs"]["email"]["text"] is None
        # Each file went where its size sends it: into its artifact row, or under ARTIFACT_DIR.
        limit = artifacts().inline_bytes
        on_disk = sorted(a.name for a in stored.artifacts if a.size > limit)
        assert sorted(a.name for a in stored.artifacts if a.path is None) == \
            sorted(a.name for a in stored.artifacts if a.size <= limit)
        assert sorted(path.name for path in folder.iterdir()) == on_disk if on_disk else not folder.exists()


class Fails:
    def write(self, db: Session) -> None:
        raise RuntimeError("a record that cannot be stored")


def test_a_record_that_fails_leaves_nothing_behind(app: Flask) -> None:
    with app.app_context():
        rendered = render_message(load_fixture("appointment/confirmation-nl"))
        assert rendered.appointment is not None  # the message brings its own record
        with pytest.raises(RuntimeError):
            commit(rendered, Fails())
        session().rollback()
        assert message_count() == 0
        assert not (artifacts().root / "messages" / rendered.message_id).exists()


def test_draw_returns_a_new_message_and_changes_none(app: Flask) -> None:
    with app.app_context():
        composed, enriched = prepare_message(load_fixture("bill/electricity-nl"))
        before = copy.deepcopy(composed.context)
        drawn = draw(composed, enriched, artifacts())
        assert composed.context == before
        assert drawn is not composed and drawn.context["payment"]["qr"]["url"].endswith(".png")
