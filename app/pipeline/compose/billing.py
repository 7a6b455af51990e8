"""What invoices and bills share: parties, the VAT summary, totals and how to pay."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from app.i18n import Formatter
from app.pipeline.money import Totals
from app.schemas.common import Party, Payment


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


def payment_view(payment: Payment | None, gross: Decimal, currency: str, fmt: Formatter,
                 due: str | None) -> dict[str, Any]:
    return {
        "reference": payment.reference if payment else None,
        "pay_url": payment.pay_url if payment else None,
        "amount": fmt.money(gross, currency),
        "due": due,
        "nothing_due": gross <= 0,
    }


def pay_buttons(payment: dict[str, Any], fmt: Formatter) -> list[dict[str, Any]]:
    if payment["pay_url"] and not payment["nothing_due"]:
        return [{"kind": "pay", "label": fmt.gettext("Pay %(amount)s", amount=payment["amount"]),
                 "url": payment["pay_url"]}]
    return []


def parties(seller: dict[str, Any], buyer: dict[str, Any], fmt: Formatter) -> list[dict[str, Any]]:
    return [{"role": fmt.gettext("From"), **seller}, {"role": fmt.gettext("To"), **buyer}]


def facts(*pairs: tuple[str, str | None]) -> list[dict[str, str]]:
    """Label and value of each fact that has a value, in order."""
    return [{"label": label, "value": value} for label, value in pairs if value]
