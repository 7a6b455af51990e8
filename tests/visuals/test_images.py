"""Advisor photos: decoded from data: URIs only, bounded, cropped round, stored by content."""

from __future__ import annotations

import base64
import io
import re

import pytest
from flask.testing import FlaskClient
from PIL import Image

from app.store.artifacts import ArtifactStore
from app.visuals.images import ImageRejected, store_portrait
from tests.conftest import PUBLIC_BASE_URL, load_fixture


def data_uri(image: Image.Image, fmt: str = "PNG") -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode()}"


def test_portrait_is_a_round_square_png_at_2x(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ArtifactStore(tmp_path)
    stored = store_portrait(data_uri(Image.new("RGB", (300, 500), "red"), "JPEG"), store)
    with Image.open(store.asset_path(stored.digest, "png")) as image:
        assert image.format == "PNG" and image.size == (192, 192)
        assert image.getpixel((0, 0))[3] == 0          # the corner is transparent: round
        assert image.getpixel((96, 96))[:3][0] > 200    # the middle is the photo
    view = stored.view(PUBLIC_BASE_URL, "Sofie")
    assert (view["width"], view["height"], view["alt"]) == (96, 96, "Sofie")


def test_same_picture_same_url(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ArtifactStore(tmp_path)
    uri = data_uri(Image.new("RGB", (64, 64), "blue"))
    assert store_portrait(uri, store).digest == store_portrait(uri, store).digest


def _bomb() -> str:
    # A PNG that says 30,000 x 30,000 pixels: tiny on the wire, 900 megapixels unpacked.
    buffer = io.BytesIO()
    Image.new("1", (30_000, 30_000)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.mark.parametrize(("photo", "message"), [
    ("https://example.com/me.jpg", "data: URI"),
    ("file:///etc/passwd", "data: URI"),
    ("data:text/html;base64,PHNjcmlwdD4=", "data: URI"),
    ("data:image/png;base64,bm90IGFuIGltYWdl", "not an image"),
    ("data:image/png;base64,@@@", "data: URI"),
    ("0" * 64, "not stored"),
])
def test_refused_photos(tmp_path, photo: str, message: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageRejected, match=message):
        store_portrait(photo, ArtifactStore(tmp_path))


def test_decompression_bomb_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageRejected, match="pixels"):
        store_portrait(_bomb(), ArtifactStore(tmp_path), max_pixels=40_000_000)


def test_huge_photo_is_refused(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ImageRejected, match="larger than"):
        store_portrait("data:image/png;base64," + "A" * 8_000_000, ArtifactStore(tmp_path),
                       max_bytes=5 * 1024 * 1024)


@pytest.mark.parametrize("photo", ["data:image/png;base64,bm90IGFuIGltYWdl", "https://x.test/p.png"])
def test_bad_photo_is_a_422_naming_the_field(client: FlaskClient, photo: str) -> None:
    document = load_fixture("appointment/confirmation-nl")
    document["data"]["advisor"]["photo"] = photo
    response = client.post("/v1/render", json=document)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    assert [e["path"] for e in response.json["errors"]] == ["data.advisor.photo"]


def test_photo_in_email_is_an_absolute_png_with_size_and_alt(client: FlaskClient) -> None:
    answer = client.post("/v1/render", json=load_fixture("appointment/confirmation-nl")).json
    html = answer["outputs"]["email"]["html"]
    assert 'alt="Sofie Peeters"' in html
    tag = re.search(r'<img[^>]*alt="Sofie Peeters"[^>]*>', html)
    assert tag is not None
    url = re.search(r'src="([^"]+)"', tag.group(0)).group(1)  # type: ignore[union-attr]
    assert url.startswith(f"{PUBLIC_BASE_URL}/assets/") and url.endswith(".png")
    # Shown at 72 px in email (the MJML says so) from a 192 px picture: sharp at 2x and more.
    assert 'height="72"' in tag.group(0) and 'width="72"' in tag.group(0)
    with client.get(url.removeprefix(PUBLIC_BASE_URL)) as asset:
        assert asset.mimetype == "image/png"
        assert "immutable" in asset.headers["Cache-Control"]
        assert Image.open(io.BytesIO(asset.data)).size == (192, 192)


def test_a_photo_is_drawn_once(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    store = ArtifactStore(tmp_path)
    uri = data_uri(Image.new("RGB", (300, 300), "green"))
    first = store_portrait(uri, store)
    # Drawing again would open the image; the second call must find the stored one instead.
    monkeypatch.setattr("app.visuals.images._open", lambda *a, **k: pytest.fail("drawn twice"))
    assert store_portrait(uri, store) == first
