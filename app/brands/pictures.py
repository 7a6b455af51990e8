"""A brand's pictures (logo, product and offer pictures) as its files name them: fitted where
they are drawn at a fixed size, named by their content (the URL they are served at), and kept
together, unwritten, until the brand has loaded (`Pictures`); the registry then stores them.
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

from PIL import Image

# Every logo is fitted into one box, drawn at 2x for sharp phones and shown at 200 x 40, so
# templates can state its size as a constant (MJML computes with it; Jinja stays out).
LOGO_BOX = (400, 80)


class Pictures:
    """The pictures found while a brand loads, as content-addressed PNGs: digest -> bytes."""

    def __init__(self, public_base_url: str) -> None:
        self.public_base_url = public_base_url
        self.found: dict[str, bytes] = {}

    def add(self, data: bytes) -> str:
        """`data` (a PNG) among the brand's pictures; the URL it is served at once stored."""
        digest = hashlib.sha256(data).hexdigest()
        self.found[digest] = data
        return f"{self.public_base_url}/assets/{digest}.png"


def fit_logo(path: Path) -> bytes:
    """The logo scaled into LOGO_BOX, left-aligned on transparency, as PNG."""
    with Image.open(path) as image:
        image = image.convert("RGBA")
        image.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
        canvas = Image.new("RGBA", LOGO_BOX, (0, 0, 0, 0))
        canvas.paste(image, (0, (LOGO_BOX[1] - image.height) // 2), image)
    return _png(canvas)


def fit_square(data: bytes, side: int) -> bytes:
    """The picture scaled into a `side` x `side` square, centred on transparency, as PNG."""
    with Image.open(io.BytesIO(data)) as image:
        image = image.convert("RGBA")
        image.thumbnail((side, side), Image.Resampling.LANCZOS)
        canvas = Image.new("RGBA", (side, side), (0, 0, 0, 0))
        canvas.paste(image, ((side - image.width) // 2, (side - image.height) // 2), image)
    return _png(canvas)


def _png(canvas: Image.Image) -> bytes:
    buffer = io.BytesIO()
    canvas.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()
