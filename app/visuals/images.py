"""Images a request hands us (`data:` URIs or stored asset ids), made safe and small.

Never fetches a URL. Decodes with Pillow under two pixel limits: the service's own
(MAX_IMAGE_PIXELS, decompression bombs) and one fitted to the use (a 192-pixel portrait
needs no more than `USE_FACTOR` times its side, so not 40 megapixels of PNG held in memory).
A JPEG is decoded at a reduced size (`Image.draft`: 1/2 to 1/8, still at least the size
used), so a phone's 12-megapixel photo costs a fraction of its pixels. Re-encodes as PNG,
content-addressed, so every message that shows the same picture points at the same URL: in a
render (`portrait`) as an Asset its commit stores, else stored at once (`store_portrait`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import re
import warnings
from dataclasses import dataclass

from PIL import Image, ImageDraw, ImageOps, UnidentifiedImageError

from app.store.artifacts import ArtifactStore
from app.visuals.drawn import Asset, Drawn, keep

_DATA_URI = re.compile(r"^data:(image/(?:png|jpeg|gif|webp));base64,([A-Za-z0-9+/=\s]+)$")
_ASSET_ID = re.compile(r"^[0-9a-f]{64}$")


class ImageRejected(ValueError):
    """The picture cannot be used; the message says why, for the field's error."""


@dataclass(frozen=True)
class StoredImage:
    digest: str
    width: int
    height: int

    def view(self, base_url: str, alt: str) -> dict[str, object]:
        # Drawn at 2x for sharp phones, shown at half its pixels.
        return {
            "url": f"{base_url}/assets/{self.digest}.png",
            "width": self.width // 2,
            "height": self.height // 2,
            "alt": alt,
        }


def _decode(value: str, max_bytes: int) -> bytes:
    match = _DATA_URI.match(value)
    if not match:
        raise ImageRejected("must be a data: URI (PNG, JPEG, GIF or WebP, base64) or an asset id")
    if len(match.group(2)) * 3 // 4 > max_bytes:
        raise ImageRejected(f"is larger than {max_bytes // (1024 * 1024)} MB")
    try:
        return base64.b64decode(re.sub(r"\s", "", match.group(2)), validate=True)
    except binascii.Error as exc:
        raise ImageRejected("is not valid base64") from exc


# A picture drawn `size` pixels wide may come this many times larger on each side: enough
# for any crop of a photo, not more than the decode needs to hold.
USE_FACTOR = 16


def _open(data: bytes, max_pixels: int, size: tuple[int, int] | None = None) -> Image.Image:
    """Decoded, refused over `max_pixels`; with `size` (the size it is used at) decoded as
    small as the format allows, and refused over the use's own limit."""
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            if image.width * image.height > max_pixels:
                raise ImageRejected(f"has more than {max_pixels} pixels")
            if size is not None:
                _fit_decode(image, size)
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageRejected(f"has more than {max_pixels} pixels") from exc
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        raise ImageRejected("is not an image Touchpoint can read") from exc
    return image


def _fit_decode(image: Image.Image, size: tuple[int, int]) -> None:
    """Ask the decoder for no more pixels than the use needs (JPEG: a scaled decode), then
    refuse what would still be more than USE_FACTOR times the use on each side."""
    if image.format == "JPEG":
        image.draft("RGB", size)
    width, height = size[0] * USE_FACTOR, size[1] * USE_FACTOR
    if image.width * image.height > width * height:
        raise ImageRejected(
            f"is {image.width} x {image.height} pixels; it is shown {size[0]} x {size[1]}, "
            f"so at most {width * height:,} pixels ({width} x {height}) are taken"
        )


def store_portrait(value: str, store: ArtifactStore, *, size: int = 192,
                   max_bytes: int = 5 * 1024 * 1024, max_pixels: int = 40_000_000) -> StoredImage:
    """A round, square portrait `size` pixels wide (2x of its shown size), as a stored PNG."""
    image, asset = portrait(value, store, size=size, max_bytes=max_bytes, max_pixels=max_pixels)
    if asset is not None:
        keep(store, asset)
    return image


def portrait(value: str, store: ArtifactStore, *, size: int = 192, max_bytes: int = 5 * 1024 * 1024,
             max_pixels: int = 40_000_000) -> tuple[StoredImage, Asset | None]:
    """The portrait: the stored one, or a new one with the Asset to `keep` at commit."""
    if _ASSET_ID.match(value):
        path = store.asset_path(value, "png")
        if not path.exists():
            raise ImageRejected(f"names asset {value}, which is not stored")
        with Image.open(path) as image:
            return StoredImage(value, image.width, image.height), None
    # The same photo comes with every message of an advisor: draw it once (the PNG encoder
    # alone costs some 25 ms), and find it again by the hash of what the request sent.
    key = hashlib.sha256(f"portrait:{size}:{value}".encode()).hexdigest()
    if (digest := store.derived(key)) and store.asset_path(digest, "png").exists():
        return StoredImage(digest, size, size), None
    image = _open(_decode(value, max_bytes), max_pixels, (size, size))
    image = ImageOps.exif_transpose(image).convert("RGB")
    image = ImageOps.fit(image, (size, size), Image.Resampling.LANCZOS)
    mask = Image.new("L", (size * 4, size * 4), 0)
    ImageDraw.Draw(mask).ellipse((0, 0, size * 4 - 1, size * 4 - 1), fill=255)
    round_image = image.convert("RGBA")
    round_image.putalpha(mask.resize((size, size), Image.Resampling.LANCZOS))
    buffer = io.BytesIO()
    round_image.save(buffer, format="PNG", optimize=True)
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    return StoredImage(digest, size, size), Asset(key, Drawn(digest, size, size), data, "derived")
