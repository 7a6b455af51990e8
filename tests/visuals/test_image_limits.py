"""Pictures under a pixel limit fitted to their use, decoded no larger than the format needs.

The finding: a 131 KB PNG advisor photo of 6,300 x 6,300 pixels (under the service's 40 MP)
was decoded whole for a 192-pixel portrait, +450 MB.
"""

from __future__ import annotations

import base64
import io
from pathlib import Path

import pytest
from flask.testing import FlaskClient
from PIL import Image, ImageFile

from app.store.artifacts import ArtifactStore
from app.visuals.images import USE_FACTOR, store_portrait
from tests.conftest import load_fixture


def data_uri(image: Image.Image, fmt: str) -> str:
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return f"data:image/{fmt.lower()};base64," + base64.b64encode(buffer.getvalue()).decode()


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """The size of every image Pillow decodes during the test, in order."""
    sizes: list[tuple[int, int]] = []
    load = ImageFile.ImageFile.load
    monkeypatch.setattr(ImageFile.ImageFile, "load", lambda self: sizes.append(self.size) or load(self))
    return sizes


def test_a_huge_png_photo_is_a_422_naming_the_field_before_it_is_decoded(
        client: FlaskClient, decoded: list[tuple[int, int]]) -> None:
    document = load_fixture("appointment/confirmation-nl")
    document["data"]["advisor"]["photo"] = data_uri(Image.new("RGB", (6300, 6300), "#8a5"), "PNG")
    assert len(document["data"]["advisor"]["photo"]) < 200_000  # small on the wire, as found
    response = client.post("/v1/render", json=document)
    assert response.status_code == 422, response.json
    assert [e["path"] for e in response.json["errors"]] == ["data.advisor.photo"]
    assert "6300 x 6300" in response.json["errors"][0]["message"]
    assert (6300, 6300) not in decoded


def test_a_phone_jpeg_is_decoded_at_a_reduced_size_and_still_makes_the_portrait(
        tmp_path: Path, decoded: list[tuple[int, int]]) -> None:
    photo = Image.new("RGB", (4032, 3024), "#36c")
    photo.paste(Image.new("RGB", (2016, 3024), "#c63"), (2016, 0))
    stored = store_portrait(data_uri(photo, "JPEG"), ArtifactStore(tmp_path))
    assert decoded and decoded[0] == (504, 378)  # 1/8 of each side: still over 192
    with Image.open(ArtifactStore(tmp_path).asset_path(stored.digest, "png")) as portrait:
        assert portrait.size == (192, 192) and portrait.mode == "RGBA"
        # The two halves of the photo are still there, left and right of the centre.
        left, right = portrait.getpixel((60, 96)), portrait.getpixel((132, 96))
        assert left[2] > 150 > left[0] and right[0] > 150 > right[2]


def test_a_png_within_the_use_limit_is_taken(tmp_path: Path) -> None:
    side = 192 * USE_FACTOR
    stored = store_portrait(data_uri(Image.new("RGB", (side, side), "#963"), "PNG"),
                            ArtifactStore(tmp_path))
    assert (stored.width, stored.height) == (192, 192)
