"""The `invoice` request: a sale with line items, VAT and an amount due."""

from __future__ import annotations

from datetime import date

from pydantic import Field

from app.schemas.common import (
    Currency,
    HttpsUrl,
    Identifier,
    Model,
    NonNegativeAmount,
    Party,
    Payment,
    Percentage,
    PositiveAmount,
    ShortText,
    Text,
    Totals,
)

# A clear limit rather than a PDF that takes minutes: beyond this, split the invoice.
MAX_LINES = 1000


class Line(Model):
    sku: Identifier | None = None
    description: Text
    quantity: PositiveAmount
    unit_price: NonNegativeAmount
    vat_rate: Percentage


class Order(Model):
    number: ShortText | None = None
    tracking_url: HttpsUrl | None = None


class InvoiceData(Model):
    number: ShortText
    issue_date: date
    due_date: date | None = None
    currency: Currency = "EUR"
    seller: Party
    buyer: Party
    lines: list[Line] = Field(min_length=1, max_length=MAX_LINES)
    payment: Payment | None = None
    totals: Totals | None = None
    order: Order | None = None
