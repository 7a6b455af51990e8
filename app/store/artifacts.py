"""Artifact files under ARTIFACT_DIR: a message's outputs, and content-addressed images.

Writes go to a temporary name and are renamed into place, so a reader never sees half a
file; `discard` removes what a failed render had written before its database commit.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path


class ArtifactStore:
    def __init__(self, root: Path) -> None:
        self.root = root
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

    def write_message_file(self, message_id: str, name: str, data: bytes) -> tuple[str, str]:
        """Write one artifact; answer its relative path and sha256."""
        relative = self.message_path(message_id, name)
        self._write(self.root / relative, data)
        return relative, hashlib.sha256(data).hexdigest()

    def write_message_file_once(self, message_id: str, name: str, data: bytes) -> tuple[str, str, bool]:
        """Write an artifact unless one is there already; answer path, sha256, and whether
        this call wrote it. Two racing writers cannot both win (a hard link is exclusive)."""
        relative = self.message_path(message_id, name)
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            os.link(tmp, path)
            written = True
        except FileExistsError:
            data = path.read_bytes()
            written = False
        finally:
            Path(tmp).unlink(missing_ok=True)
        return relative, hashlib.sha256(data).hexdigest(), written

    def read(self, relative: str) -> bytes:
        return (self.root / relative).read_bytes()

    def absolute(self, relative: str) -> Path:
        return self.root / relative

    def discard_message(self, message_id: str) -> None:
        shutil.rmtree(self.root / "messages" / message_id, ignore_errors=True)

    # Content-addressed assets (PNG images for email, shared by every message that uses them).

    def asset_path(self, digest: str, extension: str) -> Path:
        return self.root / "assets" / digest[:2] / f"{digest}.{extension}"

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
