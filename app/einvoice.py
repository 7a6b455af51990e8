"""The e-invoice inside the PDF: Factur-X 1.0 / ZUGFeRD 2 XML, profile EN 16931 (UN/CEFACT CII).

Input: the validated invoice or bill data (the same the PDF shows). Output: the XML bytes
of a `rsm:CrossIndustryInvoice`, or an `EInvoiceSkipped` saying why none can be made
truthfully. The PDF channel embeds it as `factur-x.xml` in a PDF/A-3b file.

Amounts follow EN 16931: each line's net amount is rounded to the currency's minor unit,
and the VAT breakdown per rate adds up those line amounts. Touchpoint rounds once per VAT
rate instead (app/money.py); the two agree unless a line has fractions of a cent.
When they do not agree, no e-invoice is made rather than one that differs from the PDF.

Countries (BT-40, BT-55, required by EN 16931): the party's `country`, else its VAT id's
prefix (EL is Greece), else, for the buyer only, the locale's territory (nl-BE: BE), else
the seller's country. Business rules checked here are the ones the data can break:
a VAT id for the seller (BR-S-02, BR-Z-02), negative prices (BR-27: a credit line is
quantity -1 at a positive price).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from app.money import Totals, compute_totals, quantize
from app.payments import compact_iban, parse_reference
from app.schemas.bill import BillData
from app.schemas.common import Party
from app.schemas.invoice import InvoiceData

FILENAME = "factur-x.xml"
PROFILE = "urn:cen.eu:en16931:2017"  # BT-24: the EN 16931 profile of Factur-X / ZUGFeRD
CONFORMANCE_LEVEL = "EN 16931"       # for the PDF's XMP (fx:ConformanceLevel)

NS = {
    "rsm": "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100",
    "qdt": "urn:un:unece:uncefact:data:standard:QualifiedDataType:100",
    "ram": "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100",
    "udt": "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100",
}
for _prefix, _uri in NS.items():
    register_namespace(_prefix, _uri)


class EInvoiceSkipped(ValueError):
    """No e-invoice can say what the PDF says; the message is the warning the answer carries."""


@dataclass(frozen=True)
class _Line:
    id: str
    name: str
    sku: str | None
    quantity: Decimal
    price: Decimal
    net: Decimal
    rate: Decimal


def _q(tag: str) -> str:
    prefix, name = tag.split(":")
    return f"{{{NS[prefix]}}}{name}"


def _add(parent: Element, tag: str, text: str | None = None, **attributes: str) -> Element:
    element = SubElement(parent, _q(tag), attributes)
    if text is not None:
        element.text = text
    return element


def _date(parent: Element, tag: str, value: date) -> None:
    _add(_add(parent, tag), "udt:DateTimeString", f"{value:%Y%m%d}", format="102")


def _amount(value: Decimal, currency: str) -> str:
    return f"{quantize(value, currency):f}"


def _number(value: Decimal) -> str:
    return f"{value.normalize():f}"


def _country(party: Party) -> str | None:
    if party.country:
        return party.country
    prefix = (party.vat_id or "")[:2].upper()
    if len(prefix) == 2 and prefix.isalpha():
        return "GR" if prefix == "EL" else prefix
    return None


def _address(address: str | None) -> tuple[str | None, list[str], str | None]:
    """(postcode, street lines, city) from "Veldstraat 1, 9000 Gent": best effort, never invented."""
    parts = [part.strip() for part in (address or "").split(",") if part.strip()]
    postcode = city = None
    for index in range(len(parts) - 1, -1, -1):
        words = parts[index].split(maxsplit=1)
        if len(words) == 2 and any(c.isdigit() for c in words[0]) and len(words[0]) <= 10:
            postcode, city = words
            del parts[index]
            break
    return postcode, parts[:3], city


def _party(parent: Element, tag: str, party: Party, country: str, identifier: str | None = None) -> None:
    element = _add(parent, tag)
    if identifier:
        _add(element, "ram:ID", identifier)
    _add(element, "ram:Name", party.name)
    postal = _add(element, "ram:PostalTradeAddress")
    postcode, lines, city = _address(party.address)
    if postcode:
        _add(postal, "ram:PostcodeCode", postcode)
    for name, line in zip(("ram:LineOne", "ram:LineTwo", "ram:LineThree"), lines, strict=False):
        _add(postal, name, line)
    if city:
        _add(postal, "ram:CityName", city)
    _add(postal, "ram:CountryID", country)
    if party.email:
        _add(_add(element, "ram:URIUniversalCommunication"), "ram:URIID", party.email, schemeID="EM")
    if party.vat_id:
        _add(_add(element, "ram:SpecifiedTaxRegistration"), "ram:ID", party.vat_id.replace(" ", ""),
             schemeID="VA")


def _category(rate: Decimal) -> str:
    # S: standard or reduced rate; Z: zero rated. Exemptions need a reason the data lacks.
    return "S" if rate > 0 else "Z"


def _tax(parent: Element, rate: Decimal, currency: str, basis: Decimal | None = None,
         calculated: Decimal | None = None) -> None:
    tax = _add(parent, "ram:ApplicableTradeTax")
    if calculated is not None:
        _add(tax, "ram:CalculatedAmount", _amount(calculated, currency))
    _add(tax, "ram:TypeCode", "VAT")
    if basis is not None:
        _add(tax, "ram:BasisAmount", _amount(basis, currency))
    _add(tax, "ram:CategoryCode", _category(rate))
    _add(tax, "ram:RateApplicablePercent", _number(rate))


def _lines(data: InvoiceData | BillData) -> list[_Line]:
    currency = data.currency
    if isinstance(data, InvoiceData):
        return [
            _Line(str(index), line.description, line.sku, line.quantity, line.unit_price,
                  quantize(line.quantity * line.unit_price, currency), line.vat_rate)
            for index, line in enumerate(data.lines, start=1)
        ]
    # A bill's charge is one of something; a credit is minus one at a positive price (BR-27).
    return [
        _Line(str(index), charge.description, None, Decimal(-1 if charge.amount < 0 else 1),
              abs(charge.amount), charge.amount, charge.vat_rate)
        for index, charge in enumerate(data.charges, start=1)
    ]


def facturx_xml(data: InvoiceData | BillData, locale_territory: str | None = None) -> bytes:
    """The CII XML of the invoice or bill (Factur-X EN 16931), or EInvoiceSkipped."""
    currency = data.currency
    seller_country = _country(data.seller)
    if not data.seller.vat_id or not seller_country:
        raise EInvoiceSkipped("no e-invoice: EN 16931 needs the seller's VAT id (data.seller.vat_id)")
    buyer_country = _country(data.buyer) or locale_territory or seller_country
    lines = _lines(data)
    totals = compute_totals(((line.net, line.rate) for line in lines), currency)
    _check_line_rounding(data, lines, totals)

    root = Element(_q("rsm:CrossIndustryInvoice"))
    context = _add(root, "rsm:ExchangedDocumentContext")
    _add(_add(context, "ram:GuidelineSpecifiedDocumentContextParameter"), "ram:ID", PROFILE)
    document = _add(root, "rsm:ExchangedDocument")
    _add(document, "ram:ID", data.number)
    _add(document, "ram:TypeCode", "380")  # commercial invoice
    _date(document, "ram:IssueDateTime", data.issue_date)

    transaction = _add(root, "rsm:SupplyChainTradeTransaction")
    for line in lines:
        item = _add(transaction, "ram:IncludedSupplyChainTradeLineItem")
        _add(_add(item, "ram:AssociatedDocumentLineDocument"), "ram:LineID", line.id)
        product = _add(item, "ram:SpecifiedTradeProduct")
        if line.sku:
            _add(product, "ram:SellerAssignedID", line.sku)
        _add(product, "ram:Name", line.name)
        agreement = _add(item, "ram:SpecifiedLineTradeAgreement")
        _add(_add(agreement, "ram:NetPriceProductTradePrice"), "ram:ChargeAmount", _number(line.price))
        delivery = _add(item, "ram:SpecifiedLineTradeDelivery")
        _add(delivery, "ram:BilledQuantity", _number(line.quantity), unitCode="C62")  # C62: one (unit)
        settlement = _add(item, "ram:SpecifiedLineTradeSettlement")
        _tax(settlement, line.rate, currency)
        summation = _add(settlement, "ram:SpecifiedTradeSettlementLineMonetarySummation")
        _add(summation, "ram:LineTotalAmount", _amount(line.net, currency))

    agreement = _add(transaction, "ram:ApplicableHeaderTradeAgreement")
    _party(agreement, "ram:SellerTradeParty", data.seller, seller_country)
    account = data.account if isinstance(data, BillData) else None
    _party(agreement, "ram:BuyerTradeParty", data.buyer, buyer_country, identifier=account)
    order = getattr(data, "order", None)
    if order and order.number:
        _add(_add(agreement, "ram:SellerOrderReferencedDocument"), "ram:IssuerAssignedID", order.number)

    _add(transaction, "ram:ApplicableHeaderTradeDelivery")

    settlement = _add(transaction, "ram:ApplicableHeaderTradeSettlement")
    reference = parse_reference(data.payment.reference if data.payment else None)
    if reference:
        _add(settlement, "ram:PaymentReference", reference.compact)  # BT-83, remittance information
    _add(settlement, "ram:InvoiceCurrencyCode", currency)
    if data.seller.iban:
        means = _add(settlement, "ram:SpecifiedTradeSettlementPaymentMeans")
        _add(means, "ram:TypeCode", "58")  # SEPA credit transfer
        _add(_add(means, "ram:PayeePartyCreditorFinancialAccount"), "ram:IBANID",
             compact_iban(data.seller.iban))
        if data.seller.bic:
            _add(_add(means, "ram:PayeeSpecifiedCreditorFinancialInstitution"), "ram:BICID", data.seller.bic)
    for group in totals.groups:
        _tax(settlement, group.rate, currency, basis=group.net, calculated=group.vat)
    if isinstance(data, BillData):
        period = _add(settlement, "ram:BillingSpecifiedPeriod")
        _date(period, "ram:StartDateTime", data.period.start)
        _date(period, "ram:EndDateTime", data.period.end)
    if totals.gross > 0:
        terms = _add(settlement, "ram:SpecifiedTradePaymentTerms")
        if data.due_date:
            _date(terms, "ram:DueDateDateTime", data.due_date)
        else:
            _add(terms, "ram:Description", "Payable on receipt")  # BR-CO-25: terms or a due date
    summation = _add(settlement, "ram:SpecifiedTradeSettlementHeaderMonetarySummation")
    line_total = sum((line.net for line in lines), Decimal(0))
    _add(summation, "ram:LineTotalAmount", _amount(line_total, currency))
    _add(summation, "ram:TaxBasisTotalAmount", _amount(totals.net, currency))
    _add(summation, "ram:TaxTotalAmount", _amount(totals.vat, currency), currencyID=currency)
    _add(summation, "ram:GrandTotalAmount", _amount(totals.gross, currency))
    _add(summation, "ram:DuePayableAmount", _amount(totals.gross, currency))
    return tostring(root, encoding="utf-8", xml_declaration=True)


def _check_line_rounding(data: Any, lines: list[_Line], rounded: Totals) -> None:
    """The PDF's totals (rounded per VAT rate) must be those of the rounded lines."""
    currency = data.currency
    if isinstance(data, InvoiceData):
        shown = compute_totals(((line.quantity * line.unit_price, line.vat_rate) for line in data.lines),
                               currency)
    else:
        shown = compute_totals(((charge.amount, charge.vat_rate) for charge in data.charges), currency)
    def breakdown(totals: Totals) -> list[tuple[Decimal, Decimal, Decimal]]:
        return [(group.rate, group.net, group.vat) for group in totals.groups]

    if breakdown(shown) != breakdown(rounded):
        raise EInvoiceSkipped(
            "no e-invoice: lines with fractions of a cent add up to other totals when each line is "
            "rounded, as EN 16931 requires"
        )
