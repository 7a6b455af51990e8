"""Real outputs read back as a customer's software would: a PDF's text (pdftotext), its pages
as pictures (pdftoppm), the QR codes in a picture (zbarimg), a message rendered and an
artifact fetched through the API."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient

from tests.conftest import PUBLIC_BASE_URL


def zbar(png: bytes, binary: bool = False) -> list[bytes]:
    """Every QR code zbarimg finds in a PNG, as the bytes it encodes.

    `binary` reads the symbol's bytes exactly as encoded (no charset guessing), for a picture
    with one symbol; otherwise each symbol is printed as text followed by a newline.
    """
    args = ["-Sbinary"] if binary else []
    result = subprocess.run(["zbarimg", "-q", "--raw", *args, "-"], input=png, capture_output=True,
                            check=False)
    assert result.returncode in (0, 4), result.stderr  # 4: nothing found
    if binary:
        return [result.stdout] if result.stdout else []
    return [chunk for chunk in re.split(rb"\n(?=BCD\n|https://)", result.stdout.rstrip(b"\n")) if chunk]


def rasterise(pdf: bytes, tmp_path: Path, dpi: int = 150) -> list[bytes]:
    (tmp_path / "doc.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", str(dpi), "-png", str(tmp_path / "doc.pdf"), str(tmp_path / "page")],
                   check=True)
    return [path.read_bytes() for path in sorted(tmp_path.glob("page*.png"))]


def fetch(client: FlaskClient, url: str) -> bytes:
    with client.get(url.removeprefix(PUBLIC_BASE_URL)) as response:
        assert response.status_code == 200, url
        return response.data


def epc_fields(payload: bytes) -> list[str]:
    return payload.decode("utf-8").rstrip("\n").split("\n")


def render(client: FlaskClient, document: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/render", json=document)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


def words(text: str) -> str:
    return " ".join(text.replace("\xa0", " ").split())


def page_text(pdf: bytes, page: int) -> str:
    result = subprocess.run(["pdftotext", "-layout", "-f", str(page), "-l", str(page), "-", "-"],
                            input=pdf, capture_output=True, check=True)
    return words(result.stdout.decode())
