"""The `invoice` request: a sale with line items, VAT and an amount due."""

from __future__ import annotations

from datetime import date
from typing import Any

from pydantic import Field, field_validator

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

    @field_validator("lines", mode="before")
    @classmethod
    def _lines_within_limits(cls, value: Any) -> Any:
        # Said before any line is validated, in words, so 2,000 lines cost nothing to refuse.
        if isinstance(value, list) and not value:
            raise ValueError("must have at least one line")
        if isinstance(value, list) and len(value) > MAX_LINES:
            raise ValueError(
                f"has {len(value)} lines; an invoice holds at most {MAX_LINES}: split it into several"
            )
        return value
