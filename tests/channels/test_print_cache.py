"""What PDF layouts of one process share (app/channels/print_cache.py): one font configuration,
one parsed stylesheet per text, and the brand's stored pictures only; a picture drawn for one
message (its pay QR) never outlives its render. Every test opens the PDF it made."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from PIL import Image
from pypdf import PdfReader
from weasyprint.images import RasterImage

from app.channels.layout import OwnAssetsFetcher, render_document
from app.channels.print_cache import ImageCache, KeptPicture, shared
from app.store.artifacts import ArtifactStore
from tests.conftest import PUBLIC_BASE_URL

STYLE = "<style>body { font-family: 'DejaVu Sans'; } .logo { width: 30mm; }</style>"


def png(colour: str) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (40, 20), colour).save(out, "PNG")
    return out.getvalue()


@pytest.fixture
def store(tmp_path: Path) -> ArtifactStore:
    return ArtifactStore(tmp_path / "artifacts")


def document(*urls: str) -> str:
    pictures = "".join(f'<img class="logo" src="{url}" alt="">' for url in urls)
    return f"<!doctype html><html><head>{STYLE}</head><body><p>Hello</p>{pictures}</body></html>"


def url(digest: str) -> str:
    return f"{PUBLIC_BASE_URL}/assets/{digest}.png"


def images_in(pdf: bytes) -> int:
    return sum(len(page.images) for page in PdfReader(io.BytesIO(pdf)).pages)


def test_the_stored_logo_stays_and_the_drawn_qr_goes(store: ArtifactStore) -> None:
    logo = store.put_asset(png("red"), "png")
    qr = "f" * 64
    fetcher = OwnAssetsFetcher(store, PUBLIC_BASE_URL, {qr: png("black")})
    pdf, pages = render_document(document(url(logo), url(qr)), fetcher)
    assert pages == 1 and images_in(pdf) == 2
    cache = shared().images
    assert url(logo) in cache
    assert url(qr) not in cache
    assert not [key for key in cache if isinstance(key, str) and qr in key]
    # The next render finds the logo in the cache, and its PDF still draws it.
    again, _ = render_document(document(url(logo)), OwnAssetsFetcher(store, PUBLIC_BASE_URL))
    assert images_in(again) == 1


def test_the_image_cache_keeps_at_most_its_limit(store: ArtifactStore) -> None:
    cache = ImageCache(limit=2)
    digests = [store.put_asset(png(colour), "png") for colour in ("red", "green", "blue")]
    for digest in digests:
        fetcher = OwnAssetsFetcher(store, PUBLIC_BASE_URL)
        fetcher.fetch(url(digest))
        with cache.lend(fetcher) as lent:
            lent[url(digest)] = object()
    assert [key for key in cache if key.startswith("http")] == [url(d) for d in digests[1:]]


def test_a_refused_url_is_not_kept(store: ArtifactStore) -> None:
    render_document(document("http://127.0.0.1/x.png"), OwnAssetsFetcher(store, PUBLIC_BASE_URL))
    assert "http://127.0.0.1/x.png" not in shared().images


def test_one_font_configuration_and_one_parse_per_stylesheet(store: ArtifactStore) -> None:
    fonts = shared().fonts
    render_document(document(), OwnAssetsFetcher(store, PUBLIC_BASE_URL))
    parsed = shared().stylesheets[(STYLE[7:-8], PUBLIC_BASE_URL + "/")]
    render_document(document(), OwnAssetsFetcher(store, PUBLIC_BASE_URL))
    assert shared().fonts is fonts
    assert shared().stylesheets[(STYLE[7:-8], PUBLIC_BASE_URL + "/")] is parsed


def test_a_kept_picture_is_encoded_once_and_its_pdf_stays_the_same(
        store: ArtifactStore, monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.BytesIO()
    Image.new("RGBA", (40, 20), (200, 30, 40, 128)).save(out, "PNG")  # with a mask
    logo = url(store.put_asset(out.getvalue(), "png"))
    encoded: list[str] = []
    encode = RasterImage._get_png_data

    def spy(image: Image.Image) -> bytes:
        encoded.append(image.mode)
        return encode(image)

    monkeypatch.setattr(RasterImage, "_get_png_data", staticmethod(spy))
    monkeypatch.setattr(shared(), "images", ImageCache())

    def render() -> bytes:
        return render_document(document(logo, logo), OwnAssetsFetcher(store, PUBLIC_BASE_URL))[0]

    first = render()
    assert encoded == ["RGB", "L"]  # its colours and its mask
    assert type(shared().images[logo]) is KeptPicture
    render()  # the first PDF of the kept picture makes its stream, the last it encodes
    encoded.clear()
    kept = [render() for _ in range(2)]
    assert encoded == []
    assert kept == [first, first]

    monkeypatch.setattr(shared(), "images", ImageCache())
    assert render() == first
    reader = PdfReader(io.BytesIO(first))
    [picture] = reader.pages[0].images  # one image object, drawn twice
    assert picture.image.convert("RGBA").getpixel((5, 5)) == (200, 30, 40, 128)
