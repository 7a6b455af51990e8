"""Artifact files under ARTIFACT_DIR: a message's outputs, and content-addressed images.

A message's small files (up to ARTIFACT_INLINE_BYTES, the email's HTML and text, the page, an
SMS-sized invite, most PDFs) are not files at all: their bytes go into the artifact's row, in
the render's one transaction (app/store/archive.py `write_files`). Creating a file and its
folder costs a render more CPU than writing the same bytes into SQLite's write-ahead log, and
SQLite reads blobs of this size faster from the database than from separate files
(https://www.sqlite.org/intern-v-extern-blob.html). Larger files are written here.

A new message's files are written in place before its row is committed, so no reader can
reach them half-written; a file added later (or a shared asset) goes to a temporary name and
is renamed into place. `discard_message` removes what a failed render had written.

A process killed between writing a message's files and committing its row (SIGKILL, a lost
machine) leaves a folder no row names, and one killed mid-write a `.tmp-` file. `sweep_orphans`
removes both once they are older than a grace period (a render in flight is younger): the
background process runs it at start and daily, `flask --app app sweep` by hand.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from app import fonts
from app.store.ids import chunks
from app.store.models import Message

# A stored picture's path under PUBLIC_BASE_URL: content-addressed by its sha256.
OWN_PICTURE = re.compile(r"^/assets/([0-9a-f]{64})\.png$")


@dataclass(frozen=True)
class File:
    """One of a message's files as a channel made it, to be stored as its artifact."""

    name: str
    content_type: str
    data: bytes


class ArtifactStore:
    def __init__(self, root: Path, inline_bytes: int = 0) -> None:
        self.root = root
        # A message's file up to this size is kept in its row, not here (0: every file here).
        self.inline_bytes = inline_bytes
        (root / "messages").mkdir(parents=True, exist_ok=True)
        (root / "assets").mkdir(parents=True, exist_ok=True)

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def message_path(self, message_id: str, name: str) -> str:
        return f"messages/{message_id}/{name}"

    def make_message_folder(self, message_id: str) -> None:
        """The folder of a message being stored, made once before `write_message_file`s."""
        (self.root / "messages" / message_id).mkdir(parents=True, exist_ok=True)

    def write_message_file(self, message_id: str, name: str, data: bytes) -> tuple[str, str]:
        """Write one artifact of a message being stored, into the folder `make_message_folder`
        made; answer its relative path and sha256.

        Written in place, not through a temporary file and a rename (which costs a render
        more than the write): until the message's row is committed no reader can reach its
        folder, and a render that dies before its commit leaves a folder no row names, which
        `sweep_orphans` removes.
        """
        relative = self.message_path(message_id, name)
        with open(self.root / relative, "wb") as handle:
            handle.write(data)
        return relative, hashlib.sha256(data).hexdigest()

    def write_message_file_once(self, message_id: str, name: str, data: bytes) -> tuple[str, str, int]:
        """Write an artifact unless one is there already; answer the path, sha256 and size of
        the file that is there. Two racing writers cannot both win (a hard link is exclusive)."""
        relative = self.message_path(message_id, name)
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.link(tmp, path)
        except FileExistsError:
            data = path.read_bytes()
        finally:
            Path(tmp).unlink(missing_ok=True)
        return relative, hashlib.sha256(data).hexdigest(), len(data)

    def read(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def discard_message(self, message_id: str) -> None:
        shutil.rmtree(self.root / "messages" / message_id, ignore_errors=True)

    # Content-addressed assets (PNG images for email, shared by every message that uses them).

    def asset_path(self, digest: str, extension: str) -> Path:
        return self.root / "assets" / digest[:2] / f"{digest}.{extension}"

    def own_file(self, path: str) -> tuple[str, Path] | None:
        """The content type and file of what the service serves from its own disk at `path`
        (a URL's path under PUBLIC_BASE_URL): a stored picture (`/assets/<sha256>.png`) or a
        shipped face of the type family (app/fonts); None for anything else. What a page's
        renderer (WeasyPrint, the snapshot browser) may load, and nothing more."""
        match = OWN_PICTURE.match(path)
        if match:
            picture = self.asset_path(match.group(1), "png")
            if picture.is_file():
                return "image/png", picture
        face = fonts.face_at(path)
        return (fonts.CONTENT_TYPE, face) if face is not None else None

    def derived(self, key: str) -> str | None:
        """The digest of an asset made from an input whose hash is `key`, if made before."""
        path = self.root / "assets" / "derived" / key[:2] / key
        return path.read_text() if path.exists() else None

    def remember_derived(self, key: str, digest: str) -> None:
        self._write(self.root / "assets" / "derived" / key[:2] / key, digest.encode())

    def put_asset(self, data: bytes, extension: str) -> str:
        digest = hashlib.sha256(data).hexdigest()
        path = self.asset_path(digest, extension)
        if not path.exists():
            self._write(path, data)
        return digest


# --------------------------------------------------------------------------- orphans


@dataclass(frozen=True)
class Swept:
    folders: int
    temporary_files: int

    def summary(self) -> str:
        return f"{self.folders} message folders without a row, {self.temporary_files} temporary files"


def _older_than(path: Path, cutoff: float) -> bool:
    try:
        return path.stat().st_mtime < cutoff
    except FileNotFoundError:  # removed meanwhile (a render's own clean-up)
        return False


def sweep_orphans(store: ArtifactStore, known: Callable[[list[str]], set[str]],
                  grace: float, now: float | None = None) -> Swept:
    """Remove message folders `known` does not name and `.tmp-` files, both older than `grace`
    seconds (a folder's age is its newest change: a render writing into it keeps it young)."""
    cutoff = (now if now is not None else time.time()) - grace
    folders = sorted(path.name for path in (store.root / "messages").iterdir()
                     if path.is_dir() and _older_than(path, cutoff))
    removed = 0
    for chunk in chunks(folders):
        for message_id in sorted(set(chunk) - known(chunk)):
            store.discard_message(message_id)
            removed += 1
    temporary = [path for path in store.root.rglob(".tmp-*") if _older_than(path, cutoff)]
    for path in temporary:
        path.unlink(missing_ok=True)
    return Swept(removed, len(temporary))


def archived(db: Session) -> Callable[[list[str]], set[str]]:
    """Which of these message ids have a row."""
    def known(message_ids: list[str]) -> set[str]:
        return set(db.scalars(select(Message.id).where(Message.id.in_(message_ids))))
    return known


def sweep(db: Session, store: ArtifactStore, grace: float) -> Swept:
    swept = sweep_orphans(store, archived(db), grace)
    db.rollback()  # only read: end the transaction
    return swept


@click.command("sweep")
@click.option("--grace", type=float, default=None,
              help="Seconds a file without a row may be in flight (default ARTIFACT_SWEEP_GRACE).")
@with_appcontext
def sweep_command(grace: float | None) -> None:
    """Remove artifact folders no message row names, and half-written files, past a grace period."""
    grace = current_app.config["ARTIFACT_SWEEP_GRACE"] if grace is None else grace
    with current_app.extensions["touchpoint.db"]() as db:
        swept = sweep(db, current_app.extensions["touchpoint.artifacts"], grace)
    click.echo(f"swept: {swept.summary()}")
