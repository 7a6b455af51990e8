"""The preview gallery's core: which watched files changed, the renders kept meanwhile, and
the dark scheme as a client shows it.

Input: fixtures and the page's overrides (locale, brand); output: scratch renders, PDFs and
the PDF's pages as pictures, each made once while no watched file changes. A change of a
template, component, brand, translation or fixture file empties the cache (and reloads the
catalogues, or Jinja's cache, when those changed). The blueprint in app/http/preview.py
only binds, calls these and answers.
"""

from __future__ import annotations

import hashlib
import json
import re
import subprocess
import threading
from collections import OrderedDict
from pathlib import Path
from typing import Any

from flask import current_app

from app.i18n import reload_translations
from app.templating import environment
from app.workbench.failures import Failure, failure_from
from app.workbench.scratch import Fixture, Scratch, pdf_page_images, render_fixture, render_pdf

# Rendered fixtures kept for the frames of one page (emails in four frames, the web page).
CACHE_SIZE = 64
# The PDF's pages drawn as pictures beside the browser's own viewer, at this resolution.
PAGE_DPI = 72
WATCHED = ("TEMPLATES_DIR", "COMPONENTS_DIR", "BRANDS_DIR", "TRANSLATIONS_DIR", "FIXTURES_DIR")


class PreviewState:
    """What the page watches, and the renders it keeps while nothing changes."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.renders: OrderedDict[tuple[Any, ...], Scratch] = OrderedDict()
        self.pdfs: dict[tuple[Any, ...], bytes | Failure] = {}
        self.pages: dict[tuple[Any, ...], list[bytes]] = {}
        self.digests: dict[str, str] = {}

    def files_digest(self) -> str:
        """A hash of every watched file's name, size and modification time; and, when the
        translations changed, their in-memory catalogues reloaded (they are cached)."""
        digests = {}
        for key in WATCHED:
            root = Path(current_app.config[key])
            entries = []
            for path in sorted(root.rglob("*")) if root.is_dir() else []:
                if path.is_file() and not path.name.startswith("."):
                    stat = path.stat()
                    entries.append(f"{path.relative_to(root)}:{stat.st_size}:{stat.st_mtime_ns}")
            digests[key] = hashlib.sha256("\n".join(entries).encode()).hexdigest()[:16]
        with self.lock:
            changed = {key for key, value in digests.items() if self.digests.get(key) != value}
            if self.digests and changed:
                self.renders.clear()
                self.pdfs.clear()
                self.pages.clear()
                if "TRANSLATIONS_DIR" in changed:
                    reload_translations()
                if changed & {"TEMPLATES_DIR", "COMPONENTS_DIR"} and not current_app.config.get(
                        "TEMPLATE_AUTO_RELOAD", True):
                    environment().cache.clear()  # type: ignore[union-attr]
            self.digests = digests
        return hashlib.sha256(json.dumps(digests, sort_keys=True).encode()).hexdigest()[:16]

    def render(self, fixture: Fixture, overrides: dict[str, str], state: str) -> Scratch:
        key = (fixture.name, tuple(sorted(overrides.items())), state)
        with self.lock:
            if key in self.renders:
                self.renders.move_to_end(key)
                return self.renders[key]
        scratch = render_fixture(fixture, overrides)
        with self.lock:
            self.renders[key] = scratch
            while len(self.renders) > CACHE_SIZE:
                old = self.renders.popitem(last=False)[0]
                self.pdfs.pop(old, None)
                self.pages.pop(old, None)
        return scratch

    def pdf(self, fixture: Fixture, overrides: dict[str, str], state: str) -> bytes | Failure:
        key = (fixture.name, tuple(sorted(overrides.items())), state)
        with self.lock:
            if key in self.pdfs:
                return self.pdfs[key]
        scratch = self.render(fixture, overrides, state)
        if not scratch.enriched or "pdf" not in scratch.enriched.channels:
            result: bytes | Failure = scratch.failures.get("fixture") or Failure(
                "pdf", "No PDF", f"{fixture.name} asks for no PDF (its channels: "
                f"{', '.join(scratch.enriched.channels) if scratch.enriched else 'none'})")
        else:
            try:
                result = render_pdf(scratch)
            except Exception as exc:  # shown in the frame
                result = failure_from(exc, "pdf", fixture.path)
        with self.lock:
            self.pdfs[key] = result
        return result

    def page_images(self, fixture: Fixture, overrides: dict[str, str], state: str) -> list[bytes] | Failure:
        """The PDF's pages as pictures, for browsers that show no PDF in a frame."""
        key = (fixture.name, tuple(sorted(overrides.items())), state)
        with self.lock:
            if key in self.pages:
                return self.pages[key]
        pdf = self.pdf(fixture, overrides, state)
        if isinstance(pdf, Failure):
            return pdf
        try:
            images = pdf_page_images(pdf, dpi=PAGE_DPI)
        except (OSError, subprocess.SubprocessError) as exc:
            return Failure("pdf", "No page images", f"pdftoppm (poppler-utils) could not draw the "
                                                    f"pages: {exc}")
        with self.lock:
            self.pages[key] = images
        return images


def dark(html: str) -> str:
    """The email (or the web page) as a dark-mode client shows it: its own `prefers-color-scheme: dark` rules
    applied, and a dark canvas where it sets no colour of its own."""
    html = re.sub(r"prefers-color-scheme\s*:\s*dark", "min-width: 0px", html)
    html = re.sub(r"prefers-color-scheme\s*:\s*light", "max-width: 0px", html)
    head = '<meta name="color-scheme" content="dark"><style>:root { color-scheme: dark; }</style>'
    return re.sub(r"<head([^>]*)>", lambda m: f"<head{m.group(1)}>{head}", html, count=1)


def preview_state() -> PreviewState:
    """The app's one gallery state, made at first use."""
    return current_app.extensions.setdefault("touchpoint.preview", PreviewState())
