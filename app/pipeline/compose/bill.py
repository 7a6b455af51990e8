"""Compose a bill: the charges, the consumption over time, and how it compares.

The `bill` part of the context: `number`, `account`, `issue_date`, `due_date`, `period`,
`commodity`, `unit`, `seller`, `buyer`, `charges` (description, amount, vat_rate),
`totals`, `payment`, `usage` (month, label, value, amount, current), `usage_summary`,
`comparison` (similar_homes, efficient_homes) or None, `tips_url`.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from app.i18n import N_
from app.pipeline.compose import Composed
from app.pipeline.compose.billing import (
    facts,
    parties,
    party_view,
    pay_buttons,
    payment_view,
    totals_view,
)
from app.pipeline.enrich import Enriched
from app.pipeline.money import compute_totals
from app.schemas import BillRequest

# Commodities the templates name in words; any other is shown as the request spells it.
COMMODITIES = {
    "electricity": N_("electricity"),
    "gas": N_("gas"),
    "water": N_("water"),
    "heat": N_("district heating"),
}


def _month(text: str) -> date:
    year, month = text.split("-")
    return date(int(year), int(month), 1)


def usage_summary(usage: list[Any], fmt: Any) -> str | None:
    """One sentence that reads the chart: this period against the same month last year."""
    if not usage:
        return None
    by_month = {item.month: item.value for item in usage}
    current = max(by_month)
    year, month = current.split("-")
    last_year = f"{int(year) - 1:04d}-{month}"
    if last_year not in by_month or by_month[last_year] == 0:
        return None
    change = (by_month[current] - by_month[last_year]) / by_month[last_year] * 100
    month_name = fmt.date(_month(last_year), "MMMM yyyy")
    percent = fmt.percent(abs(change).quantize(Decimal(1)))
    if change < 0:
        return fmt.gettext("%(percent)s less than in %(month)s.", percent=percent, month=month_name)
    if change > 0:
        return fmt.gettext("%(percent)s more than in %(month)s.", percent=percent, month=month_name)
    return fmt.gettext("The same as in %(month)s.", month=month_name)


def compose(enriched: Enriched, context: dict[str, Any]) -> Composed:
    assert isinstance(enriched.request, BillRequest)
    data = enriched.request.data
    fmt, currency = enriched.fmt, data.currency
    totals = compute_totals(((c.amount, c.vat_rate) for c in data.charges), currency)
    due = fmt.date(data.due_date) if data.due_date else None
    payment = payment_view(data.payment, totals.gross, currency, fmt, due)
    usage = sorted(data.usage, key=lambda item: item.month)[-24:]
    current = usage[-1].month if usage else None
    context["bill"] = {
        "number": data.number,
        "account": data.account,
        "issue_date": fmt.date(data.issue_date),
        "due_date": due,
        "period": fmt.gettext("%(start)s to %(end)s", start=fmt.date(data.period.start, "medium"),
                              end=fmt.date(data.period.end, "medium")),
        "commodity": fmt.gettext(COMMODITIES[data.commodity])
        if data.commodity in COMMODITIES else data.commodity.replace("_", " "),
        "unit": data.unit,
        "seller": party_view(data.seller),
        "buyer": party_view(data.buyer),
        "charges": [
            {"description": c.description, "sku": None, "quantity": None, "unit_price": None,
             "amount": fmt.money(c.amount, currency), "vat_rate": fmt.percent(c.vat_rate)}
            for c in data.charges
        ],
        "totals": totals_view(totals, currency, fmt),
        "payment": payment,
        "usage": [
            {"month": item.month, "label": fmt.date(_month(item.month), "MMM yyyy"),
             "value": fmt.number(item.value), "amount": float(item.value),
             "current": item.month == current}
            for item in usage
        ],
        "usage_summary": usage_summary(usage, fmt),
        "comparison": {
            "similar_homes": fmt.number(data.comparison.similar_homes)
            if data.comparison.similar_homes is not None else None,
            "efficient_homes": fmt.number(data.comparison.efficient_homes)
            if data.comparison.efficient_homes is not None else None,
        } if data.comparison else None,
        "tips_url": data.tips_url,
    }
    bill = context["bill"]
    context["parties"] = parties(bill["seller"], bill["buyer"], fmt)
    context["facts"] = facts(
        (fmt.gettext("Bill number"), data.number),
        (fmt.gettext("Account"), data.account),
        (fmt.gettext("Period"), bill["period"]),
        (fmt.gettext("Bill date"), bill["issue_date"]),
        (fmt.gettext("Due date"), due),
    )
    context.update(items=bill["charges"], totals=bill["totals"],
                   payment=payment,
                   document_title=fmt.gettext("Bill %(number)s", number=data.number))
    values = {"number": data.number, "amount": payment["amount"],
              "commodity": context["bill"]["commodity"]}
    subject = fmt.gettext("Your %(commodity)s bill %(number)s: %(amount)s", **values)
    preheader = " ".join(p for p in (
        context["bill"]["period"],
        fmt.gettext("Due %(date)s", date=due) if due else None,
        context["bill"]["usage_summary"],
    ) if p)
    context["headline"] = fmt.gettext("Your %(commodity)s bill", commodity=context["bill"]["commodity"])
    context["intro"] = fmt.gettext("Your bill for %(period)s is ready.", period=context["bill"]["period"])
    context["buttons"] = pay_buttons(payment, fmt)
    context["sms"] = {"summary": fmt.gettext(
        "%(commodity)s bill %(number)s: %(amount)s", **values)}
    return Composed("bill", subject, preheader, context)
