"""PDF: the document face of the message, laid out by WeasyPrint for print (A4).

WeasyPrint fetches through `OwnAssetsFetcher`, deny by default: it serves only our own
content-addressed assets from disk and refuses every other URL (`file:`, `http(s):` to
anywhere, `data:`), so nothing a request says can make us read a file or call a host.

Invoices and bills are PDF/A-3b files with their e-invoice inside: the Factur-X /
ZUGFeRD XML (EN 16931, app/einvoice.py) made from the same data, embedded as
`factur-x.xml` with AFRelationship /Alternative, and the Factur-X XMP properties and
their PDF/A extension schema in the document's metadata. WeasyPrint writes all of it in
the one pass that lays the document out; nothing rewrites the PDF afterwards.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import datetime
from functools import cache
from importlib.resources import files
from typing import TYPE_CHECKING

from weasyprint import HTML, Attachment
from weasyprint.css import ColorProfile
from weasyprint.pdf.metadata import DocumentMetadata
from weasyprint.urls import URLFetcher, URLFetcherResponse

from app.channels import ChannelOutput, File
from app.einvoice import CONFORMANCE_LEVEL, FILENAME, EInvoiceSkipped, facturx_xml
from app.problems import InvalidRequest
from app.store.artifacts import ArtifactStore
from app.templating import render as render_template

if TYPE_CHECKING:
    from app.pipeline.compose import Composed
    from app.pipeline.enrich import Enriched

NAME = "pdf"
log = logging.getLogger(__name__)

_ASSET = re.compile(r"^/assets/([0-9a-f]{64})\.png$")


class FetchRefused(ValueError):
    pass


class OwnAssetsFetcher(URLFetcher):
    def __init__(self, assets: ArtifactStore, public_base_url: str) -> None:
        super().__init__(allowed_protocols=(), allow_redirects=False, timeout=1)
        self.assets = assets
        self.public_base_url = public_base_url

    def fetch(self, url: str, headers: dict[str, str] | None = None) -> URLFetcherResponse:
        if url.startswith(self.public_base_url + "/"):
            match = _ASSET.match(url.removeprefix(self.public_base_url))
            if match:
                path = self.assets.asset_path(match.group(1), "png")
                if path.is_file():
                    return URLFetcherResponse(url, path.read_bytes(), {"Content-Type": "image/png"})
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
    document = HTML(string=html, base_url=fetcher.public_base_url + "/", url_fetcher=fetcher).render()
    if einvoice is None:
        return document.write_pdf(), len(document.pages)
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
    data = document.write_pdf(pdf_variant="pdf/a-3b", output_intent=_SRGB, attachments=[attachment],
                              finisher=_one_af_each)
    return data, len(document.pages)


_SRGB = "touchpoint-srgb"


@cache
def _srgb_profile() -> bytes:
    return (files("weasyprint.pdf") / "sRGB2014.icc").read_bytes()


def _one_af_each(document: object, pdf: object) -> None:
    """WeasyPrint 70 lists an attachment twice in the catalog's /AF; one entry each is right."""
    associated = getattr(pdf, "catalog", {}).get("AF")
    if associated:
        unique = list(dict.fromkeys(associated))
        associated.clear()
        associated.extend(unique)


def document_source(message: Composed, enriched: Enriched) -> tuple[str, bytes | None, list[str]]:
    """What the PDF is laid out from: the document's HTML and, for invoices and bills, the
    e-invoice (None where it cannot be made; the warnings say why). A deferred PDF (Prefer:
    respond-async) keeps these with its message and is laid out later by the job runner."""
    html = render_template(f"templates/{message.type}/document.html",
                           {**message.context, "channel": "pdf"})
    warnings: list[str] = []
    einvoice = None
    if message.type in ("invoice", "bill"):
        try:
            einvoice = facturx_xml(enriched.request.data, enriched.locale.territory)  # type: ignore[arg-type]
        except EInvoiceSkipped as skipped:
            warnings.append(str(skipped))
    return html, einvoice, warnings


def render(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> ChannelOutput:
    from flask import current_app

    from app.store import artifacts

    html, einvoice, warnings = document_source(message, enriched)
    data, pages = render_document(html, OwnAssetsFetcher(artifacts(), enriched.public_base_url),
                                  einvoice=einvoice, created=enriched.now)
    limit = current_app.config["MAX_PDF_PAGES"]
    if pages > limit:
        raise InvalidRequest.at("data", f"the PDF would have {pages} pages; the limit is {limit}")
    return ChannelOutput(
        {"url": enriched.links["api_pdf"], "status": "ready", "pages": pages, "bytes": len(data)},
        files=[File("document.pdf", "application/pdf", data)], warnings=warnings,
    )
