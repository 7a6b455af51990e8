"""What invoices and bills share: parties, the VAT summary, totals and how to pay."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.i18n import Formatter
from app.money import Totals
from app.payments import epc_qr_payload, format_iban, parse_reference
from app.pipeline.compose.words import plain_spaces
from app.schemas.bill import BillData
from app.schemas.common import Party
from app.schemas.invoice import InvoiceData


def party_view(party: Party) -> dict[str, Any]:
    return {
        "name": party.name,
        "address_lines": [line.strip() for line in (party.address or "").split(",") if line.strip()],
        "vat_id": party.vat_id,
        "iban": party.iban,
        "bic": party.bic,
        "email": party.email,
    }


def totals_view(totals: Totals, currency: str, fmt: Formatter) -> dict[str, Any]:
    return {
        "vat_groups": [
            {
                "rate": fmt.percent(group.rate),
                "net": fmt.money(group.net, currency),
                "vat": fmt.money(group.vat, currency),
                "gross": fmt.money(group.gross, currency),
            }
            for group in totals.groups
        ],
        "net": fmt.money(totals.net, currency),
        "vat": fmt.money(totals.vat, currency),
        "gross": fmt.money(totals.gross, currency),
    }


def payment_view(data: InvoiceData | BillData, gross: Decimal, fmt: Formatter, due: str | None,
                 ) -> dict[str, Any]:
    """How to pay: the amount, the reference as people type it, the account, the EPC QR payload.

    `transfer` (beneficiary, IBAN in groups of four, BIC) is set when there is an amount due
    and an account to pay it to; `epc_qr_payload` when the EPC standard allows a QR code (EUR,
    0.01 to 999999999.99); `qr` ({url, width, height, alt}) is filled by the draw stage.
    """
    payment, seller, currency = data.payment, data.seller, data.currency
    reference = parse_reference(payment.reference if payment else None)
    nothing_due = gross <= 0
    amount = fmt.money(gross, currency)
    transfer = None
    payload = None
    if seller.iban and not nothing_due:
        transfer = {"beneficiary": seller.name, "iban": format_iban(seller.iban), "bic": seller.bic}
        payload = epc_qr_payload(name=seller.name, iban=seller.iban, bic=seller.bic, amount=gross,
                                 currency=currency, reference=reference, text=data.number)
    return {
        "reference": reference.display if reference else None,
        "reference_kind": reference.kind if reference else None,
        "pay_url": payment.pay_url if payment else None,
        "amount": amount,
        "due": due,
        "nothing_due": nothing_due,
        "transfer": transfer,
        "epc_qr_payload": payload,
        "qr": None,
        # Attribute text: plain spaces (MJML mangles a no-break space inside an attribute).
        "qr_alt": plain_spaces(fmt.gettext(
            "SEPA QR code: pay %(amount)s to %(name)s, IBAN %(iban)s, reference %(reference)s",
            amount=amount, name=seller.name, iban=transfer["iban"],
            reference=reference.display if reference else data.number,
        )) if payload and transfer else None,
    }


def pay_buttons(payment: dict[str, Any], fmt: Formatter) -> list[dict[str, Any]]:
    if payment["pay_url"] and not payment["nothing_due"]:
        return [{"kind": "pay", "label": fmt.gettext("Pay %(amount)s", amount=payment["amount"]),
                 "url": payment["pay_url"]}]
    return []


def parties(seller: dict[str, Any], buyer: dict[str, Any], fmt: Formatter) -> dict[str, Any]:
    """The From and To blocks, and the footer's legal line: both say the seller as the request's
    `data.seller` does (the one identity of an invoice or bill, its e-invoice's seller too)."""
    return {"parties": [{"role": fmt.gettext("From"), **seller}, {"role": fmt.gettext("To"), **buyer}],
            "legal": legal_line(seller, fmt)}


def legal_line(seller: dict[str, Any], fmt: Formatter) -> str:
    """The seller as the footer names it: "Demo Coffee, Marktstraat 5, 1000 Brussel. Btw-nummer:
    BE0123456789." (name and address lines as the From block writes them)."""
    line = ", ".join([seller["name"], *seller["address_lines"]]) + "."
    if seller["vat_id"]:
        line += f" {fmt.gettext('VAT number')}: {seller['vat_id']}."
    return line


def facts(*pairs: tuple[str, str | None]) -> list[dict[str, str]]:
    """Label and value of each fact that has a value, in order."""
    return [{"label": label, "value": value} for label, value in pairs if value]
