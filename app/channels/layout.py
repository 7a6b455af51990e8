"""WeasyPrint lays the PDF's document out for print (A4): only the PDF channel's layout, in
the sandbox's child (app/channels/sandbox.py) or a job's pool process, loads WeasyPrint.

WeasyPrint fetches through `OwnAssetsFetcher`, deny by default: it serves only our own
content-addressed assets and the shipped type family (app/fonts, named by the stylesheet's
@font-face) from disk and refuses every other URL (`file:`, `http(s):` to anywhere, `data:`),
so nothing a request says can make us read a file or call a host.

Invoices and bills are PDF/A-3b files with their e-invoice inside: the Factur-X /
ZUGFeRD XML (EN 16931, app/einvoice.py) made from the same data, embedded as
`factur-x.xml` with AFRelationship /Alternative, and the Factur-X XMP properties and
their PDF/A extension schema in the document's metadata. WeasyPrint writes all of it in
the one pass that lays the document out; nothing rewrites the PDF afterwards.

WeasyPrint's user-agent stylesheet is its own less the rules that give every element
pseudo-elements it never shows (`user_agent_text`): the same bytes out, a fifth less
CPU for a bill.

Reused: each process lays out with one FontConfiguration, a parsed copy of the document's
<style> (the same text for every message of a brand, locale and type) and a bounded cache of
the brand's stored pictures (app/channels/print_cache.py); a picture drawn for one message
never outlives its render.
"""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Mapping
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from weasyprint import CSS, HTML, Attachment
from weasyprint.css import ColorProfile
from weasyprint.css.counters import CounterStyle
from weasyprint.html import UA, UA_FORM_STYLESHEET
from weasyprint.pdf.metadata import DocumentMetadata
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app.channels.print_cache import shared
from app.einvoice import CONFORMANCE_LEVEL, FILENAME
from app.store.artifacts import OWN_PICTURE, ArtifactStore

log = logging.getLogger(__name__)

class FetchRefused(ValueError):
    pass


class OwnAssetsFetcher(URLFetcher):
    def __init__(self, assets: ArtifactStore, public_base_url: str,
                 pending: Mapping[str, bytes] | None = None) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, timeout=1)
        self.assets = assets
        self.public_base_url = public_base_url
        # Pictures drawn for this message, stored only at its commit: served from memory.
        self.pending = pending or {}
        # What this fetcher answered from disk: the brand's stored pictures, the only ones an
        # image cache may keep beyond the render (a QR or chart drawn for one message never).
        self.stored: set[str] = set()

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        if url.startswith(self.public_base_url + "/"):
            path = url.removeprefix(self.public_base_url)
            match = OWN_PICTURE.match(path)
            if match and match.group(1) in self.pending:
                return URLFetcherResponse(url, self.pending[match.group(1)], {"Content-Type": "image/png"})
            found = self.assets.own_file(path)
            if found is not None:
                content_type, file = found
                if match:
                    self.stored.add(url)
                return URLFetcherResponse(url, file.read_bytes(), {"Content-Type": content_type})
        log.warning("refused to fetch %s", url[:200])
        raise FetchRefused(f"Touchpoint fetches only its own assets, not {url[:200]}")


# The Factur-X properties and the PDF/A extension schema that declares them (Factur-X 1.0,
# section "XMP metadata"); without the schema a PDF/A-3 validator refuses the fx: properties.
_FACTURX_XMP = f"""<rdf:Description xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" rdf:about=""
 xmlns:fx="urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#">
 <fx:DocumentType>INVOICE</fx:DocumentType><fx:DocumentFileName>{FILENAME}</fx:DocumentFileName>
 <fx:Version>1.0</fx:Version><fx:ConformanceLevel>{CONFORMANCE_LEVEL}</fx:ConformanceLevel>
</rdf:Description>
<rdf:Description xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" rdf:about=""
 xmlns:pdfaExtension="http://www.aiim.org/pdfa/ns/extension/"
 xmlns:pdfaSchema="http://www.aiim.org/pdfa/ns/schema#"
 xmlns:pdfaProperty="http://www.aiim.org/pdfa/ns/property#">
 <pdfaExtension:schemas><rdf:Bag><rdf:li rdf:parseType="Resource">
  <pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema>
  <pdfaSchema:namespaceURI>urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#</pdfaSchema:namespaceURI>
  <pdfaSchema:prefix>fx</pdfaSchema:prefix>
  <pdfaSchema:property><rdf:Seq>{"".join(
    f'<rdf:li rdf:parseType="Resource"><pdfaProperty:name>{name}</pdfaProperty:name>'
    f'<pdfaProperty:valueType>Text</pdfaProperty:valueType>'
    f'<pdfaProperty:category>external</pdfaProperty:category>'
    f'<pdfaProperty:description>{description}</pdfaProperty:description></rdf:li>'
    for name, description in (
        ("DocumentFileName", "name of the embedded XML invoice file"),
        ("DocumentType", "INVOICE"),
        ("Version", "The actual version of the Factur-X XML schema"),
        ("ConformanceLevel", "The conformance level of the embedded Factur-X data"),
    ))}</rdf:Seq></pdfaSchema:property>
 </rdf:li></rdf:Bag></pdfaExtension:schemas>
</rdf:Description>""".encode()


class FacturXMetadata(DocumentMetadata):
    """The document's metadata, its XMP packet extended with the Factur-X properties."""

    def generate_rdf_metadata(self, variant, version, conformance):  # type: ignore[no-untyped-def]
        rdf = super().generate_rdf_metadata(variant, version, conformance)
        return rdf.replace(b"</rdf:RDF>", _FACTURX_XMP + b"</rdf:RDF>")


class _OneFile(URLFetcher):
    """Hands WeasyPrint the e-invoice's bytes with their media type (text/xml), nothing else."""

    def __init__(self, url: str, data: bytes) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, timeout=1)
        self.url, self.data = url, data

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        if url != self.url:
            raise FetchRefused(f"Touchpoint fetches only its own assets, not {url[:200]}")
        return URLFetcherResponse(url, self.data, {"Content-Type": "text/xml"})


def render_document(html: str, fetcher: OwnAssetsFetcher, *, einvoice: bytes | None = None,
                    created: datetime | None = None) -> tuple[bytes, int]:
    """The PDF and its page count; with `einvoice`, a PDF/A-3b file with the XML inside."""
    with shared().images.lend(fetcher) as images:
        document = _lay_out_pages(html, fetcher, images)
        return _write(document, fetcher, einvoice, created), len(document.pages)


# WeasyPrint's rules that match every element's pseudo-elements: the marker (which only a list
# item shows) and the five of footnotes and notes (which our documents never make).
_EVERY_MARKER = "\n::marker {"
_NOTES = ("::footnote-call {", "::footnote-marker {", "::note-call {", "::note-marker {",
          "::note-callback {")


def user_agent_text() -> str:
    """WeasyPrint's HTML5 user-agent stylesheet with its marker rule for list items alone and
    without the rules of footnotes and notes.

    Those six rules match every element, so WeasyPrint cascaded and computed six pseudo-element
    styles for each element (about 1,450 for a bill), a fifth of a bill's CPU, for boxes it
    never makes. Every fixture's PDF is the same, byte for byte (tests/channels/test_layout.py).
    A WeasyPrint whose stylesheet no longer has these rules as written stops the first layout
    here, rather than lose the saving unseen.
    """
    lines = UA.replace(_EVERY_MARKER, "\nli::marker, summary::marker {", 1).splitlines()
    kept = [line for line in lines if not line.startswith(_NOTES)]
    if _EVERY_MARKER not in UA or len(lines) - len(kept) != len(_NOTES):
        raise RuntimeError("WeasyPrint's user-agent stylesheet changed: review layout.user_agent_text")
    return "\n".join(kept)


@cache
def _user_agent_stylesheet() -> CSS:
    # Its @counter-style rules are WeasyPrint's, already in the counter styles every layout
    # starts from (HTML._ua_counter_style): parsed again here, they go to a set of their own.
    return CSS(string=user_agent_text(), counter_style=CounterStyle())


class _Document(HTML):
    """WeasyPrint's HTML document, laid out with `_user_agent_stylesheet`."""

    def _ua_stylesheets(self, forms: bool | None = False) -> list[CSS]:
        return [_user_agent_stylesheet(), *((UA_FORM_STYLESHEET,) if forms else ())]


# The document's own stylesheet, the first <style> of its <head>: laid out from a parsed copy.
_STYLE = re.compile(r"<style>(.*?)</style>", re.DOTALL)


def _lay_out_pages(html: str, fetcher: OwnAssetsFetcher, images: dict[str, Any]) -> Any:
    """WeasyPrint's pages of the document, with this process's fonts, its parsed copy of the
    document's stylesheet (the same text for every message of a brand, locale and type) and
    its cache of the brand's pictures."""
    fonts, base_url = shared().fonts, fetcher.public_base_url + "/"
    style = _STYLE.search(html, 0, html.find("</head>"))
    stylesheets = []
    if style:
        stylesheets.append(shared().stylesheet(style.group(1), base_url, fetcher))
        html = html[:style.start()] + html[style.end():]
    return _Document(string=html, base_url=base_url, url_fetcher=fetcher).render(
        font_config=fonts, stylesheets=stylesheets, cache=images)


def _write(document: Any, fetcher: OwnAssetsFetcher, einvoice: bytes | None,
           created: datetime | None) -> bytes:
    if einvoice is None:
        return document.write_pdf()
    document.metadata = FacturXMetadata(**vars(document.metadata))
    url = f"{fetcher.public_base_url}/{FILENAME}"
    attachment = Attachment(
        url=url, url_fetcher=_OneFile(url, einvoice), name=FILENAME,
        description="Factur-X / ZUGFeRD e-invoice (EN 16931)", relationship="Alternative",
        created=created, modified=created,
    )
    # PDF/A's output intent: WeasyPrint's own 'srgb' opens the ICC file and leaves it open (a
    # ResourceWarning each time); the same profile is handed over from bytes read once.
    document.color_profiles[_SRGB] = ColorProfile(io.BytesIO(_srgb_profile()), "sRGB2014.icc",
                                                  "relative-colorimetric", (["r"], ["g"], ["b"]))
    return document.write_pdf(pdf_variant="pdf/a-3b", output_intent=_SRGB, attachments=[attachment],
                              finisher=_finish_pdf_a)


_SRGB = "touchpoint-srgb"


@cache
def _srgb_profile() -> bytes:
    return (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()


def _finish_pdf_a(document: object, pdf: object) -> None:
    _one_af_each(document, pdf)
    _no_interpolation(pdf)


def _no_interpolation(pdf: object) -> None:
    """PDF/A forbids /Interpolate true (ISO 19005, veraPDF rule 6.2.8-3), and WeasyPrint sets it
    on every image whose `image-rendering` is `auto`: logos, pictures and their soft masks.
    Our images are drawn at twice their printed size, so a viewer's smoothing is not missed."""
    for item in getattr(pdf, "objects", []):
        extra = getattr(item, "extra", None)
        if isinstance(extra, dict) and extra.get("Subtype") == "/Image" and "Interpolate" in extra:
            extra["Interpolate"] = "false"


def _one_af_each(document: object, pdf: object) -> None:
    """WeasyPrint 70 lists an attachment twice in the catalog's /AF; one entry each is right."""
    associated = getattr(pdf, "catalog", {}).get("AF")
    if associated:
        unique = list(dict.fromkeys(associated))
        associated.clear()
        associated.extend(unique)


def lay_out(html: str, assets_root: Path, public_base_url: str, einvoice: bytes | None,
            created: datetime | None, pending: Mapping[str, bytes] | None = None) -> tuple[bytes, int]:
    """`render_document` from plain values: what the sandbox's child is handed."""
    fetcher = OwnAssetsFetcher(ArtifactStore(assets_root), public_base_url, pending)
    return render_document(html, fetcher, einvoice=einvoice, created=created)


def warm_up() -> None:
    """Load this process's fonts and the user-agent stylesheet: a sandbox child does it before
    its first deadline."""
    _Document(string="<p style='font-family: sans-serif'>warm <b>up</b></p>").render(
        font_config=shared().fonts)
