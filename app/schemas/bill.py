"""The `bill` request: a utility bill, charges plus metered consumption over time."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from pydantic import Field, StringConstraints

from app.schemas.common import (
    Amount,
    Currency,
    HttpsUrl,
    Model,
    NonNegativeAmount,
    Party,
    Payment,
    Percentage,
    ShortText,
    Text,
    Totals,
)

Month = Annotated[str, StringConstraints(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class Period(Model):
    start: date
    end: date


class Usage(Model):
    month: Month
    value: NonNegativeAmount


class Comparison(Model):
    similar_homes: NonNegativeAmount | None = None
    efficient_homes: NonNegativeAmount | None = None


class Charge(Model):
    description: Text
    amount: Amount
    vat_rate: Percentage


class BillData(Model):
    number: ShortText
    account: ShortText
    issue_date: date
    due_date: date | None = None
    currency: Currency = "EUR"
    period: Period
    commodity: Annotated[str, StringConstraints(pattern=r"^[a-z_]{2,32}$")]
    unit: Annotated[str, StringConstraints(min_length=1, max_length=16)]
    usage: list[Usage] = Field(default_factory=list, max_length=120)
    comparison: Comparison | None = None
    charges: list[Charge] = Field(min_length=1, max_length=200)
    seller: Party
    buyer: Party
    payment: Payment | None = None
    totals: Totals | None = None
    tips_url: HttpsUrl | None = None


def usage_problems(data: BillData) -> list[tuple[str, str]]:
    """(path, message) for usage the chart cannot show truthfully: a month given twice, or
    a month after the billing period. Gaps are fine: the chart leaves those months empty."""
    problems = []
    seen: dict[str, int] = {}
    last = f"{data.period.end:%Y-%m}"
    for index, item in enumerate(data.usage):
        if item.month in seen:
            problems.append((f"data.usage[{index}].month",
                             f"{item.month} is given twice (also data.usage[{seen[item.month]}])"))
        seen.setdefault(item.month, index)
        if item.month > last:
            problems.append((f"data.usage[{index}].month",
                             f"{item.month} is after the billing period, which ends {data.period.end}"))
    return problems
