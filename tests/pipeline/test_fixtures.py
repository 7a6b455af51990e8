"""Every fixture renders, and every channel's real output has the properties the contract promises.

Each fixture is rendered once (a module-scoped app and a cache of the answers); the tests then
open the real artifacts: the email HTML and its .eml, the PDF through poppler, the web page,
the SMS. Expected values (GSM 03.38, totals, money formats) are computed here, not taken from
the application, so a wrong application fails these tests.
"""

from __future__ import annotations

import email
import email.policy
import html as html_module
import io
import json
import re
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from babel.numbers import format_currency, get_currency_precision
from flask import Flask
from flask.testing import FlaskClient
from fontTools.ttLib import TTFont
from PIL import Image
from pypdf import PdfReader

from app import fonts
from app.i18n import translations
from tests.conftest import PUBLIC_BASE_URL, ROOT, fixture_paths

CHANNELS = {
    "appointment": {"email", "web", "pdf", "ics", "sms"},
    "invoice": {"email", "web", "pdf", "sms"},
    "bill": {"email", "web", "pdf", "sms"},
}
KNOWN_WARNING = re.compile(
    r"^no stored profile for customer '[^']+'; only the inline recipient fields were used$"
)
GMAIL_CLIP_BYTES = 102 * 1024

# GSM 03.38 (3GPP TS 23.038): the default alphabet (less ESC, which no text contains) and the
# extension table, whose characters are sent as ESC + char and so count twice.
GSM7_DEFAULT = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = "\f^{}\\[~]|€"

PATHS = fixture_paths()
IDS = [f"{p.parent.name}/{p.stem}" for p in PATHS]


def by_type(*types: str) -> list[Any]:
    return [pytest.param(p, id=i) for p, i in zip(PATHS, IDS, strict=True) if p.parent.name in types]


ALL = by_type("appointment", "invoice", "bill")
BILLING = by_type("invoice", "bill")
LONG_INVOICES = [
    param for param in by_type("invoice")
    if len(json.loads(param.values[0].read_text(encoding="utf-8"))["data"]["lines"]) >= 40
]


@dataclass(frozen=True)
class Fetched:
    mimetype: str
    data: bytes

    def text(self) -> str:
        return self.data.decode("utf-8")


@dataclass
class Rendered:
    request: dict[str, Any]
    answer: dict[str, Any]
    client: FlaskClient
    _cache: dict[str, Any] = field(default_factory=dict)

    @property
    def type(self) -> str:
        return self.request["type"]

    @property
    def language(self) -> str:
        return self.answer["locale"].split("-")[0]

    @property
    def outputs(self) -> dict[str, Any]:
        return self.answer["outputs"]

    def get(self, url: str) -> Fetched:
        """GET an absolute URL of the answer through the test client."""
        assert url.startswith(PUBLIC_BASE_URL + "/"), url
        # Closed at once: a file response left open is a ResourceWarning, and warnings are errors.
        with self.client.get(url.removeprefix(PUBLIC_BASE_URL)) as response:
            assert response.status_code == 200, (url, response.status_code, response.data[:300])
            return Fetched(response.mimetype or "", response.data)

    def pdf(self) -> bytes:
        if "pdf" not in self._cache:
            self._cache["pdf"] = self.get(self.outputs["pdf"]["url"]).data
        return self._cache["pdf"]

    def eml(self) -> EmailMessage:
        if "eml" not in self._cache:
            data = self.get(self.outputs["email"]["eml_url"]).data
            self._cache["eml"] = email.message_from_bytes(data, policy=email.policy.default)
        return self._cache["eml"]


@pytest.fixture(scope="module")
def render(module_app: Flask) -> Callable[[Path], Rendered]:
    """Render a fixture once per module; later calls answer from the cache."""
    cache: dict[Path, Rendered] = {}
    client = module_app.test_client()

    def rendered(path: Path) -> Rendered:
        if path not in cache:
            request = json.loads(path.read_text(encoding="utf-8"))
            response = client.post("/v1/render", json=request)
            assert response.status_code == 201, response.get_data(as_text=True)
            cache[path] = Rendered(request, response.json, client)
        return cache[path]

    return rendered


# --------------------------------------------------------------------------- helpers


class _Tags(HTMLParser):
    """The start tags of a document, each as (name, attributes)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    handle_startendtag = handle_starttag


def tags(html: str, name: str) -> list[dict[str, str | None]]:
    parser = _Tags()
    parser.feed(html)
    parser.close()
    return [attrs for tag, attrs in parser.tags if tag == name]


def html_lang(html: str) -> str | None:
    found = tags(html, "html")
    assert len(found) == 1, "expected exactly one <html> element"
    return found[0].get("lang")


def spaces(text: str) -> str:
    """Text with no-break and narrow no-break spaces as plain spaces, runs of whitespace as one."""
    return re.sub(r"\s+", " ", text.replace("\u00a0", " ").replace("\u202f", " "))


def pdftotext(data: bytes, *extra: str) -> str:
    result = subprocess.run(
        ["pdftotext", *extra, "-enc", "UTF-8", "-", "-"], input=data, capture_output=True, check=True
    )
    return result.stdout.decode("utf-8")


def pdfinfo_pages(data: bytes) -> int:
    result = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True)
    match = re.search(rb"^Pages:\s+(\d+)$", result.stdout, re.MULTILINE)
    assert match, result.stdout
    return int(match.group(1))


def brand_name(brand: str) -> str:
    return json.loads((ROOT / "templates" / "brands" / brand / "brand.json").read_text())["name"]


def gsm7_only(text: str) -> bool:
    return all(c in GSM7_DEFAULT or c in GSM7_EXTENDED for c in text)


def expected_gross(data: dict[str, Any]) -> Decimal:
    """The amount due, computed here: net per VAT rate, half-up to the minor unit, plus its VAT."""
    if data.get("totals"):
        return Decimal(data["totals"]["gross"])
    currency = data.get("currency", "EUR")
    unit = Decimal(1).scaleb(-get_currency_precision(currency))
    if "lines" in data:
        items = [(Decimal(x["quantity"]) * Decimal(x["unit_price"]), Decimal(x["vat_rate"]))
                 for x in data["lines"]]
    else:
        items = [(Decimal(x["amount"]), Decimal(x["vat_rate"])) for x in data["charges"]]
    per_rate: dict[Decimal, Decimal] = {}
    for amount, rate in items:
        per_rate[rate.normalize()] = per_rate.get(rate.normalize(), Decimal(0)) + amount
    gross = Decimal(0)
    for rate, amount in per_rate.items():
        net = amount.quantize(unit, rounding=ROUND_HALF_UP)
        gross += net + (net * rate / 100).quantize(unit, rounding=ROUND_HALF_UP)
    return gross


def assert_no_jinja(where: str, text: str) -> None:
    for marker in ("{{", "{%"):
        assert marker not in text, f"leftover template syntax {marker!r} in {where}"


# --------------------------------------------------------------------------- the answer


@pytest.mark.parametrize("path", ALL)
def test_renders_every_channel_without_surprises(path: Path, render: Callable[[Path], Rendered]) -> None:
    rendered = render(path)
    assert rendered.answer["type"] == rendered.type
    assert rendered.answer["id"].startswith("msg_")
    assert rendered.answer["reference"] == rendered.request["reference"]
    assert rendered.answer["locale"] == rendered.request["locale"]
    assert set(rendered.outputs) == CHANNELS[rendered.type]
    unexpected = [w for w in rendered.answer["warnings"] if not KNOWN_WARNING.match(w)]
    assert unexpected == []


# --------------------------------------------------------------------------- email


@pytest.mark.parametrize("path", ALL)
def test_email_html_is_safe_for_mail_clients(path: Path, render: Callable[[Path], Rendered]) -> None:
    rendered = render(path)
    mail = rendered.outputs["email"]
    html = mail["html"]
    assert mail["bytes"] == len(html.encode())
    assert mail["bytes"] < GMAIL_CLIP_BYTES
    assert html_lang(html) == rendered.answer["locale"]
    assert "data:" not in html
    assert "<svg" not in html.lower()
    for name in ("subject", "preheader"):
        assert mail[name].strip(), f"empty {name}"
        assert_no_jinja(name, mail[name])
    assert_no_jinja("email html", html)
    assert_no_jinja("email text", mail["text"])

    images = tags(html, "img")
    assert images, "expected at least the brand logo"
    for img in images:
        src = img.get("src") or ""
        assert src.startswith(PUBLIC_BASE_URL + "/assets/") and src.endswith(".png"), src
        assert (img.get("alt") or "").strip(), f"no alt text on {src}"
        width, height = int(img.get("width") or 0), int(img.get("height") or 0)
        assert width > 0 and height > 0, f"no width/height on {src}"
        response = rendered.get(src)
        assert response.mimetype == "image/png"
        with Image.open(io.BytesIO(response.data)) as picture:
            assert picture.format == "PNG"
            # Shown at its declared size without being stretched.
            assert abs(picture.width / picture.height - width / height) < 0.05, (src, picture.size)


@pytest.mark.parametrize("path", ALL)
def test_eml_is_a_complete_mime_message(path: Path, render: Callable[[Path], Rendered]) -> None:
    rendered = render(path)
    mail = rendered.eml()
    for header in ("Subject", "From", "Date", "Message-ID"):
        assert mail[header], f"no {header} header"
    # Python folds a long Subject onto the next line and reads the fold back as a leading space.
    assert mail["Subject"].strip() == rendered.outputs["email"]["subject"]

    alternatives = [p for p in mail.walk() if p.get_content_type() == "multipart/alternative"]
    assert alternatives, "no multipart/alternative part"
    inside = {p.get_content_type() for p in alternatives[0].walk()}
    assert {"text/plain", "text/html"} <= inside

    html_parts = [p for p in mail.walk() if p.get_content_type() == "text/html"]
    assert len(html_parts) == 1
    html = html_parts[0].get_content()
    assert PUBLIC_BASE_URL + "/assets/" not in html, "an image was left as a URL instead of a CID part"
    png_ids = {
        (p["Content-ID"] or "").strip().strip("<>")
        for p in mail.walk() if p.get_content_type() == "image/png"
    }
    cids = set(re.findall(r"cid:([^\"'\s)>]+)", html))
    assert cids, "expected at least the brand logo as a CID image"
    assert cids <= png_ids, f"cid references without an image/png part: {cids - png_ids}"

    calendars = [p for p in mail.walk() if p.get_content_type() == "text/calendar"]
    if rendered.type == "appointment":
        method = "CANCEL" if rendered.request["data"].get("stage") == "cancelled" else "REQUEST"
        assert len(calendars) == 1
        assert (calendars[0].get_param("method") or "").upper() == method
        assert f"METHOD:{method}" in calendars[0].get_content()
    else:
        assert calendars == []
        pdfs = [p for p in mail.walk() if p.get_content_type() == "application/pdf" and p.is_attachment()]
        assert len(pdfs) == 1
        assert pdfs[0].get_content()[:5] == b"%PDF-"
        assert pdfs[0].get_filename()


# --------------------------------------------------------------------------- PDF


@pytest.mark.parametrize("path", ALL)
def test_pdf_names_the_document_and_numbers_its_pages(path: Path, render: Callable[[Path], Rendered]) -> None:
    rendered = render(path)
    data = rendered.pdf()
    assert data[:5] == b"%PDF-"
    pages = pdfinfo_pages(data)
    assert rendered.outputs["pdf"]["pages"] == pages
    assert rendered.outputs["pdf"]["bytes"] == len(data)

    layout = pdftotext(data, "-layout")
    text = spaces(layout)
    request = rendered.request
    name = request["data"]["title"] if rendered.type == "appointment" else request["data"]["number"]
    assert spaces(name) in text or spaces(name) in spaces(pdftotext(data)), f"{name!r} not in the PDF"
    assert brand_name(request["brand"]) in text

    footer = translations(rendered.language).gettext("Page %(page)s of %(pages)s")
    sheets = layout.split("\f")
    assert len([s for s in sheets if s.strip()]) == pages
    for number, sheet in enumerate(sheets[:pages], start=1):
        expected = spaces(footer % {"page": number, "pages": pages})
        assert expected in spaces(sheet), f"page {number} has no footer {expected!r}"


def embedded_fonts(data: bytes) -> list[tuple[str, str]]:
    """Each font of the PDF as pdffonts lists it: its name (less a subset's prefix) and whether
    its program is embedded."""
    listing = subprocess.run(["pdffonts", "-"], input=data, capture_output=True, check=True)
    rows = [line.split() for line in listing.stdout.decode().splitlines()[2:]]
    return [(row[0].split("+", 1)[-1], row[-5]) for row in rows]


def font_versions(data: bytes) -> set[str]:
    """The version (name ID 5) of every font program embedded in the PDF."""
    reader = PdfReader(io.BytesIO(data))
    objects = (reader.get_object(number) for number in range(1, reader.trailer["/Size"]))
    programs = [item["/FontFile2"].get_object().get_data() for item in objects
                if isinstance(item, dict) and item.get("/Type") == "/FontDescriptor"]
    return {TTFont(io.BytesIO(program))["name"].getDebugName(5) for program in programs}


@pytest.mark.parametrize("path", ALL)
def test_pdf_embeds_the_shipped_type_family_only(path: Path, render: Callable[[Path], Rendered]) -> None:
    # Liberation Sans 2.1.5 from app/fonts, not a machine's fonts (its Liberation Sans 1.07,
    # DejaVu): every font embedded, every one of the family, every program the shipped version.
    data = render(path).pdf()
    found = embedded_fonts(data)
    assert {name for name, _ in found} == {"Liberation-Sans", "Liberation-Sans-Bold"}, found
    assert all(embedded == "yes" for _, embedded in found), found
    shipped = {TTFont(fonts.face_file(bold))["name"].getDebugName(5) for bold in (False, True)}
    assert font_versions(data) == shipped == {"Version 2.1.5"}


@pytest.mark.parametrize("path", LONG_INVOICES)
def test_long_invoice_repeats_its_table_header_on_every_page(
    path: Path, render: Callable[[Path], Rendered]
) -> None:
    rendered = render(path)
    pages = rendered.outputs["pdf"]["pages"]
    assert pages > 1
    header = translations(rendered.language).gettext("Description")
    sheets = pdftotext(rendered.pdf(), "-layout").split("\f")[:pages]
    for number, sheet in enumerate(sheets, start=1):
        assert header in sheet, f"page {number} of {pages} has no table header {header!r}"


@pytest.mark.parametrize("kind", sorted(CHANNELS))
def test_fixtures_speak_every_language_for_every_type(kind: str) -> None:
    requests = [json.loads(p.read_text(encoding="utf-8")) for p in PATHS if p.parent.name == kind]
    assert len(requests) >= 4
    assert {r["locale"].split("-")[0] for r in requests} >= {"en", "nl", "fr", "de"}


def test_a_forty_line_invoice_with_four_vat_rates_is_among_the_fixtures() -> None:
    invoices = [json.loads(param.values[0].read_text(encoding="utf-8")) for param in LONG_INVOICES]
    assert any(
        {Decimal(x["vat_rate"]) for x in i["data"]["lines"]} >= {Decimal(r) for r in (0, 6, 12, 21)}
        and i["data"].get("totals")
        for i in invoices
    )


# --------------------------------------------------------------------------- web


@pytest.mark.parametrize("path", ALL)
def test_web_page_has_the_locale_and_links_the_pdf(path: Path, render: Callable[[Path], Rendered]) -> None:
    rendered = render(path)
    response = rendered.get(rendered.outputs["web"]["url"])
    assert response.mimetype == "text/html"
    page = response.text()
    assert html_lang(page) == rendered.answer["locale"]
    assert_no_jinja("web page", page)
    links = [a.get("href") or "" for a in tags(page, "a")]
    pdf_links = [href for href in links if href.split("?")[0].endswith(".pdf")]
    assert pdf_links, "the web page does not link the PDF"
    for href in pdf_links:
        url = href if href.startswith("http") else PUBLIC_BASE_URL + href
        linked = rendered.get(url)
        assert linked.mimetype == "application/pdf"
        assert linked.data[:5] == b"%PDF-"


# --------------------------------------------------------------------------- SMS


@pytest.mark.parametrize("path", ALL)
def test_sms_links_its_page_and_names_its_encoding(
    path: Path, render: Callable[[Path], Rendered]
) -> None:
    rendered = render(path)
    sms = rendered.outputs["sms"]
    text = sms["text"]
    # The page, behind its short link (tests/channels/test_sms.py follows it).
    assert "web" in rendered.outputs
    assert re.search(rf"{re.escape(PUBLIC_BASE_URL)}/s/[A-Za-z0-9]{{12}}(?![A-Za-z0-9])", text), text
    assert_no_jinja("sms", text)
    gsm = gsm7_only(text)
    assert sms["encoding"] == ("GSM-7" if gsm else "UCS-2")
    assert sms["segments"] >= 1
    if gsm:
        units = sum(2 if c in GSM7_EXTENDED else 1 for c in text)
        single = 160
    else:
        units = len(text.encode("utf-16-le")) // 2
        single = 70
    assert (sms["segments"] == 1) == (units <= single), (units, sms["segments"])


# --------------------------------------------------------------------------- names


def names(request: dict[str, Any]) -> list[str]:
    """The people and parties a fixture names: apostrophes, accents, very long hyphenated names."""
    data = request["data"]
    found = [(request["recipient"].get("name") or {}).get("given")]
    found.append((data.get("advisor") or {}).get("name") if request["type"] == "appointment"
                 else data["buyer"]["name"])
    return [name for name in found if name]


def squeezed(text: str) -> str:
    """Text without whitespace or hyphens: poppler joins a name hyphenated at a line end."""
    return re.sub(r"[\s\u00ad-]+", "", text)


ENTITY = re.compile(r"&(#\d+|#x[0-9a-fA-F]+|[a-zA-Z]+);")


@pytest.mark.parametrize("path", ALL)
def test_names_come_through_every_channel_intact(path: Path, render: Callable[[Path], Rendered]) -> None:
    rendered = render(path)
    mail = rendered.outputs["email"]
    # Plain text is not HTML: an O'Brien must not arrive as O&#39;Brien.
    assert not ENTITY.search(mail["text"]), ENTITY.search(mail["text"])
    assert not ENTITY.search(rendered.outputs["sms"]["text"])
    given = (rendered.request["recipient"].get("name") or {}).get("given")
    if given:
        assert given in mail["text"]
    page = html_module.unescape(rendered.get(rendered.outputs["web"]["url"]).text())
    email_html = html_module.unescape(mail["html"])
    pdf_text = squeezed(pdftotext(rendered.pdf()))
    for name in names(rendered.request):
        assert name in page, f"{name!r} not on the web page"
        assert squeezed(name) in pdf_text, f"{name!r} not in the PDF"
    assert not given or given in email_html


# --------------------------------------------------------------------------- the seller


def text_of(html: str) -> str:
    """An HTML fragment as the words it shows, spaces made plain."""
    return spaces(html_module.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


@pytest.mark.parametrize("path", BILLING)
def test_from_block_and_footers_name_one_seller(path: Path, render: Callable[[Path], Rendered]) -> None:
    # The request's data.seller is the seller everywhere (README: "One seller per message"): the
    # From block says its name, address and VAT number; the footers of the web page, the PDF
    # and the email (HTML and text) say the same, in this one line.
    rendered = render(path)
    seller = rendered.request["data"]["seller"]
    lines = [line.strip() for line in seller["address"].split(",")]
    vat = translations(rendered.language).gettext("VAT number")
    legal = f"{', '.join([seller['name'], *lines])}. {vat}: {seller['vat_id']}."
    page = rendered.get(rendered.outputs["web"]["url"]).text()
    # The first party, under its role ("Van"): the seller.
    from_block = text_of(re.search(r'<div class="c-parties__party">.*?</h2>(.*?)</div>', page, re.DOTALL)[1])
    assert from_block == spaces(" ".join([seller["name"], *lines, f"{vat}: {seller['vat_id']}"]))
    footer = text_of(re.search(r'<p class="c-footer__legal">(.*?)</p>', page, re.DOTALL)[1])
    assert footer.endswith(legal), footer
    mail = rendered.outputs["email"]
    assert mail["text"].rstrip().endswith("--\n" + legal)
    assert legal in text_of(mail["html"])
    assert legal in spaces(pdftotext(rendered.pdf()))


# --------------------------------------------------------------------------- money


@pytest.mark.parametrize("path", BILLING)
def test_email_text_says_the_amount_due_in_the_locale(path: Path, render: Callable[[Path], Rendered]) -> None:
    rendered = render(path)
    data = rendered.request["data"]
    locale = rendered.answer["locale"].replace("-", "_")
    amount = format_currency(expected_gross(data), data.get("currency", "EUR"), locale=locale)
    assert spaces(amount) in spaces(rendered.outputs["email"]["text"])
