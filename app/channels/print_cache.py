"""What every PDF layout of one process shares: WeasyPrint's fonts, parsed stylesheets and the
brand's pictures. Input: the document's stylesheet text and its fetcher; output: the objects
WeasyPrint's `render` takes (`font_config`, `stylesheets`, `cache`).

A new FontConfiguration per render loads the fonts again and keeps about 0.25 MB each time;
the stylesheet is the same text for every message of a brand, locale and type, so it is parsed
once. Both live per process: a sandbox child, or a pool process laying out in its own thread
(app/channels/sandbox.py). A forked process makes its own on first use, never inheriting its
parent's (fontconfig's state is not meant to cross a fork).

Pictures: WeasyPrint's image cache maps a URL to its decoded image and `<md5(url)>-<slot>-…`
to its bytes. Only what the fetcher read from disk (the brand's logo, offer and product
pictures) stays after a render, at most IMAGES of them, least recently used first out; a QR
code or chart drawn for one message, and anything refused, is dropped when its render ends.
A picture that stays is a `KeptPicture`: its PDF image stream is encoded once, not once per PDF.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import pydyf
from weasyprint import CSS
from weasyprint.images import RasterImage
from weasyprint.text.fonts import FontConfiguration
from weasyprint.urls import URLFetcher

# Parsed stylesheets kept: one per brand, locale and type in use (3 types × a few brands and
# locales), with room to spare.
STYLESHEETS = 64
# The brand's pictures kept: logos, offers and product pictures, each a few hundred kB at most.
IMAGES = 64


class Fetcher(Protocol):
    stored: set[str]


class ImageCache(dict[str, Any]):
    """WeasyPrint's image cache, lent to one render at a time, keeping the stored pictures."""

    def __init__(self, limit: int = IMAGES) -> None:
        super().__init__()
        self.limit = limit
        self._kept: OrderedDict[str, str] = OrderedDict()  # url -> its key prefix, oldest first
        self._lock = threading.Lock()

    @contextmanager
    def lend(self, fetcher: Fetcher) -> Iterator[dict[str, Any]]:
        """This cache for one render, tidied when it ends; a private dict when another thread
        has it (a render reads its pictures' bytes until its PDF is written)."""
        if not self._lock.acquire(blocking=False):
            yield {}
            return
        try:
            yield self
        finally:
            self._tidy(fetcher.stored)
            self._lock.release()

    def _tidy(self, stored: set[str]) -> None:
        for url in stored:
            self._kept[url] = _prefix(url)
            self._kept.move_to_end(url)
            if type(self.get(url)) is RasterImage:
                self[url].__class__ = KeptPicture
        while len(self._kept) > self.limit:
            self._kept.popitem(last=False)
        prefixes = set(self._kept.values())
        for key in [key for key in self if key not in self._kept and key[:32] not in prefixes]:
            del self[key]


class KeptPicture(RasterImage):
    """A brand picture kept between renders, its PDF image stream encoded once.

    For every PDF it writes, WeasyPrint decodes a raster picture and encodes its pixels again,
    and its alpha channel as a mask: 3 to 5 ms a picture, a tenth of a 1-page PDF. A kept
    picture makes that stream once and hands each PDF a copy of it: writing a PDF numbers the
    stream and replaces its mask by a reference, so the same object cannot go in two PDFs. The
    bytes are the same either way (tests/channels/test_print_cache.py).
    """

    def get_x_object(self, interpolate: bool, dpi_ratio: float) -> pydyf.Stream:
        if dpi_ratio != 1:  # a thumbnail (only with WeasyPrint's `dpi` option, which we don't set)
            return super().get_x_object(interpolate, dpi_ratio)
        made: dict[bool, pydyf.Stream] = self.__dict__.setdefault("_made", {})
        if interpolate not in made:
            made[interpolate] = _copy(super().get_x_object(interpolate, dpi_ratio))
        return _copy(made[interpolate])


def _copy(stream: pydyf.Stream) -> pydyf.Stream:
    """A new stream with the same data (its encoded bytes are not copied) and new dictionaries."""
    extra = pydyf.Dictionary({
        name: _copy(value) if isinstance(value, pydyf.Stream)
        else pydyf.Dictionary(value) if isinstance(value, dict) else value
        for name, value in stream.extra.items()})
    return pydyf.Stream(list(stream.stream), extra, stream.compress)


def _prefix(url: str) -> str:
    # WeasyPrint names an image's bytes after the md5 of its URL (weasyprint/images.py).
    return hashlib.md5(url.encode(), usedforsecurity=False).hexdigest()


@dataclass
class Shared:
    """One process's fonts, stylesheets and pictures."""

    pid: int
    fonts: FontConfiguration = field(default_factory=FontConfiguration)
    images: ImageCache = field(default_factory=ImageCache)

    stylesheets: OrderedDict[tuple[str, str], CSS] = field(default_factory=OrderedDict)

    def stylesheet(self, text: str, base_url: str, url_fetcher: URLFetcher) -> CSS:
        """`text` parsed as a document's <style> is, the first time: what it imports or names
        by URL is fetched (and refused) by the first render's `url_fetcher`, resolved against
        `base_url`, which is part of the key."""
        key = (text, base_url)
        css = self.stylesheets.pop(key, None)
        if css is None:
            css = CSS(string=text, base_url=base_url, url_fetcher=url_fetcher, font_config=self.fonts)
        self.stylesheets[key] = css
        while len(self.stylesheets) > STYLESHEETS:
            self.stylesheets.popitem(last=False)
        return css


_shared: Shared | None = None
_lock = threading.Lock()


def shared() -> Shared:
    """This process's fonts, stylesheets and pictures (made on first use in each process)."""
    global _shared
    with _lock:
        if _shared is None or _shared.pid != os.getpid():
            _shared = Shared(os.getpid())
        return _shared
