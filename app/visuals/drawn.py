"""Pictures we draw ourselves (QR codes, charts), drawn once per content and kept.

A drawing is named by a key made from everything that shapes it (kind, version, data,
size, colours). The first request that needs it draws it (`draw_unstored`, an `Asset` not yet
written) and its commit stores the PNG content-addressed (`keep`, `ArtifactStore.put_asset`);
a small index file maps the key to the PNG's digest, so no later request, in this process or
another, draws it again. A process also keeps the last few thousand answers in memory, so a
repeat costs a dictionary look-up.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from threading import Lock

from app.store.artifacts import ArtifactStore

_MEMORY_LIMIT = 4096
_memory: OrderedDict[tuple[str, str], Drawn] = OrderedDict()
_lock = Lock()


@dataclass(frozen=True)
class Drawn:
    """A stored PNG: its digest and its size in pixels (drawn at 2x of its shown size)."""

    digest: str
    width: int
    height: int

    def url(self, base_url: str) -> str:
        return f"{base_url}/assets/{self.digest}.png"

    def view(self, base_url: str, alt: str, width: int, height: int) -> dict[str, object]:
        return {"url": self.url(base_url), "width": width, "height": height, "alt": alt}


def drawing_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def _index_path(store: ArtifactStore, key: str) -> Path:
    return store.root / "assets" / "drawn" / key[:2] / f"{key}.json"


@dataclass(frozen=True)
class Asset:
    """A picture drawn for a message and not stored yet: `keep` stores it at commit."""

    key: str
    drawn: Drawn
    data: bytes
    # Which index finds it again: "drawn" (our drawings, by drawing key) or "derived" (a
    # picture made from a request's, by the hash of what the request sent).
    index: str = "drawn"


def find_drawn(store: ArtifactStore, key: str) -> Drawn | None:
    """The stored drawing for `key`, if one was stored (this process's memory, then the index)."""
    with _lock:
        found = _memory.get((str(store.root), key))
        if found is not None:
            _memory.move_to_end((str(store.root), key))
            return found
    found = _read_index(store, _index_path(store, key))
    if found is not None:
        _remember(store, key, found)
    return found


def draw_unstored(store: ArtifactStore, key: str,
                  draw: Callable[[], tuple[bytes, int, int]]) -> tuple[Drawn, Asset | None]:
    """The drawing for `key`: the stored one, or a new one with the Asset to `keep` at commit."""
    found = find_drawn(store, key)
    if found is not None:
        return found, None
    data, width, height = draw()
    drawn = Drawn(hashlib.sha256(data).hexdigest(), width, height)
    return drawn, Asset(key, drawn, data)


def keep(store: ArtifactStore, asset: Asset) -> None:
    """Store a drawn picture and remember it, so no later request draws it again."""
    store.put_asset(asset.data, "png")
    if asset.index == "derived":
        store.remember_derived(asset.key, asset.drawn.digest)
        return
    _write_index(_index_path(store, asset.key), asset.drawn)
    _remember(store, asset.key, asset.drawn)


def _remember(store: ArtifactStore, key: str, drawn: Drawn) -> None:
    with _lock:
        _memory[(str(store.root), key)] = drawn
        if len(_memory) > _MEMORY_LIMIT:
            _memory.popitem(last=False)


def _read_index(store: ArtifactStore, index: Path) -> Drawn | None:
    try:
        record = json.loads(index.read_text(encoding="utf-8"))
        drawn = Drawn(record["digest"], int(record["width"]), int(record["height"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    # The index outlives nothing it points at: a removed picture is drawn again.
    return drawn if store.asset_path(drawn.digest, "png").is_file() else None


def _write_index(index: Path, drawn: Drawn) -> None:
    index.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=index.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"digest": drawn.digest, "width": drawn.width, "height": drawn.height}, handle)
        os.replace(tmp, index)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def forget_memory() -> None:
    """Empty this process's memory of drawings (tests use it to prove the disk index works)."""
    with _lock:
        _memory.clear()
