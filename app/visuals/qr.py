"""QR codes as content-addressed PNGs, drawn once per payload (see drawn.py).

Input: the text to encode (an EPC069-12 payment payload, a link). Output: a stored PNG,
black modules on white with the standard's 4-module quiet zone, drawn with the `qrcode`
library at a whole number of pixels per module, large enough to be sharp at 2x of the size
templates show it (QR_SHOWN px in email and on the web, a fixed width on paper).
"""

from __future__ import annotations

import io

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from app.store.artifacts import ArtifactStore
from app.visuals.drawn import Asset, Drawn, draw_unstored, drawing_key

# Shown at this many CSS pixels square; templates state it as a constant.
QR_SHOWN = 160
QUIET_ZONE = 4
_VERSION = 2  # bump when the drawing changes, so old index entries are not reused


def qr_matrix(text: str) -> list[list[bool]]:
    """The modules of the smallest QR code for `text` at error correction M, quiet zone included."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(text.encode("utf-8"))
    code.make(fit=True)
    return code.get_matrix()


def _draw(text: str) -> tuple[bytes, int, int]:
    matrix = qr_matrix(text)
    modules = len(matrix)
    scale = max(1, -(-2 * QR_SHOWN // modules))  # ceil: at least 2x the shown size
    # 8-bit grey, black and white only: WeasyPrint takes a grey PNG into the PDF as it is (one
    # channel), where it turned a 1-bit one into RGB and encoded it twice in every PDF; the
    # file is some 500 bytes larger.
    small = Image.new("L", (modules, modules), 255)
    small.putdata([0 if dark else 255 for row in matrix for dark in row])
    image = small.resize((modules * scale, modules * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", optimize=True)
    return buffer.getvalue(), image.width, image.height


def qr_key(text: str) -> str:
    return drawing_key("qr", _VERSION, "M", QUIET_ZONE, QR_SHOWN, text)


def qr_drawing(text: str, store: ArtifactStore) -> tuple[Drawn, Asset | None]:
    """`text` as a QR code: the stored PNG, or a new one to keep at commit (drawn.py)."""
    return draw_unstored(store, qr_key(text), lambda: _draw(text))


