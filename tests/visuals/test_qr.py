"""QR codes read back by a real decoder (zbar): from the email's PNG and from the printed PDF.

The payload read back is compared field by field with EPC069-12 as written out here, and
pictures are shown to be drawn once per content: a second message, or a second process
(an empty memory, the same artifact folder), finds the drawing instead of making it again.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.i18n import LANGUAGES, translations
from app.visuals import drawn, qr
from tests.conftest import PUBLIC_BASE_URL, load_fixture


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


CAPSULES_EPC = [
    "BCD", "002", "1", "SCT",           # service tag, version, UTF-8, SEPA credit transfer
    "GKCCBEBB", "Demo Coffee", "BE68539007547034",
    "EUR25.41",                          # the invoice's gross amount
    "",                                  # no purpose code
    "090933755493",                      # the structured communication +++090/9337/55493+++
]


def render(client: FlaskClient, document: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/v1/render", json=document)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.json


# The alt text opens with "SEPA QR code:" in the message's language.
QR_ALT = "SEPA QR code: pay %(amount)s to %(name)s, IBAN %(iban)s, reference %(reference)s"
QR_ALT_OPENINGS = "|".join(
    re.escape(translations(language).gettext(QR_ALT).split("%")[0]) for language in LANGUAGES
)


def qr_image_url(html: str) -> str:
    match = re.search(rf'<img[^>]*alt="(?:{QR_ALT_OPENINGS})[^"]*"[^>]*>', html)
    assert match, "no SEPA QR code image"
    tag = match.group(0)
    assert 'width="160"' in tag and 'height="160"' in tag
    url = re.search(r'src="([^"]+)"', tag)
    assert url
    return url.group(1)


def test_email_qr_decodes_to_the_epc_payload(client: FlaskClient) -> None:
    answer = render(client, load_fixture("invoice/capsules-nl"))
    url = qr_image_url(answer["outputs"]["email"]["html"])
    assert url.startswith(f"{PUBLIC_BASE_URL}/assets/") and url.endswith(".png")
    [decoded] = zbar(fetch(client, url), binary=True)
    assert epc_fields(decoded) == CAPSULES_EPC
    action = next(a for a in answer["actions"] if a["kind"] == "pay")
    assert decoded.decode("utf-8") == action["epc_qr_payload"]


def test_pdf_payment_slip_qr_decodes_from_the_printed_page(client: FlaskClient, tmp_path: Path) -> None:
    answer = render(client, load_fixture("invoice/capsules-nl"))
    pdf = fetch(client, answer["outputs"]["pdf"]["url"])
    found = [code for page in rasterise(pdf, tmp_path) for code in zbar(page)]
    assert [epc_fields(code) for code in found] == [CAPSULES_EPC]


def test_web_page_shows_the_payment_qr(client: FlaskClient) -> None:
    answer = render(client, load_fixture("invoice/capsules-nl"))
    page = fetch(client, answer["outputs"]["web"]["url"]).decode()
    [decoded] = zbar(fetch(client, qr_image_url(page)))
    assert epc_fields(decoded) == CAPSULES_EPC


def test_accented_beneficiary_and_free_text_survive_in_utf8(client: FlaskClient) -> None:
    document = load_fixture("invoice/no-totals-fr")
    document["data"]["seller"]["name"] = "Café Zoë Brûlerie"
    answer = render(client, document)
    [decoded] = zbar(fetch(client, qr_image_url(answer["outputs"]["email"]["html"])), binary=True)
    fields = epc_fields(decoded)
    assert fields[5] == "Café Zoë Brûlerie"
    assert fields[9] == ""                          # free text is not a structured reference
    assert fields[10] == "Commande 789 – Zoë"       # ... it goes to the unstructured field


def test_bill_pdf_has_the_payment_and_tips_qr_codes(client: FlaskClient, tmp_path: Path) -> None:
    answer = render(client, load_fixture("bill/electricity-nl"))
    pdf = fetch(client, answer["outputs"]["pdf"]["url"])
    found = {code for page in rasterise(pdf, tmp_path) for code in zbar(page)}
    assert b"https://energy.example/save" in found
    [epc] = [code for code in found if code.startswith(b"BCD")]
    fields = epc_fields(epc)
    assert fields[:4] == ["BCD", "002", "1", "SCT"]
    assert fields[5:8] == ["Demo Energy", "BE71096123456769", "EUR126.51"]


def test_qr_png_is_sharp_at_twice_its_shown_size(tmp_path: Path) -> None:
    from PIL import Image

    from app.store.artifacts import ArtifactStore

    store = ArtifactStore(tmp_path)
    stored, asset = qr.qr_drawing("BCD\n002\n1\nSCT\n\nX\nBE68539007547034\nEUR1.00", store)
    assert asset is not None  # new: drawn, not yet stored
    drawn.keep(store, asset)
    with Image.open(store.asset_path(stored.digest, "png")) as image:
        assert image.width == image.height >= 2 * qr.QR_SHOWN
        assert (stored.width, stored.height) == image.size


def test_each_qr_code_is_drawn_once(client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> None:
    drawings: list[str] = []
    real = qr._draw

    def counting(text: str) -> tuple[bytes, int, int]:
        drawings.append(text)
        return real(text)

    monkeypatch.setattr(qr, "_draw", counting)
    document = load_fixture("invoice/capsules-nl")
    first = render(client, document)
    second = render(client, document)
    assert len(drawings) == 1
    assert qr_image_url(first["outputs"]["email"]["html"]) == qr_image_url(second["outputs"]["email"]["html"])
    # Another process: nothing in memory, the same artifact folder. The index finds it.
    drawn.forget_memory()
    render(client, document)
    assert len(drawings) == 1
