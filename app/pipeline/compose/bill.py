"""Compose a bill: the charges, the consumption over time, and how it compares.

The `bill` part of the context: `number`, `account`, `issue_date`, `due_date`, `period`,
`commodity`, `unit`, `seller`, `buyer`, `charges` (description, amount, vat_rate),
`totals`, `payment`, `usage` (month, label, value, amount, current, last_year: up to 24
months, a month without a reading says so), `usage_summary`, `chart` ({spec, svg (web),
svg_print (PDF), alt, title, png (email)}; the draw stage fills svg, svg_print and png for
the channels that show them) or None, `comparison` (similar_homes,
efficient_homes) or None, `tips_url`,
`tips_qr` ({url, width, height, alt}, drawn for web and PDF by the draw stage) or None.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any

from babel import Locale
from babel.dates import format_date

from app.i18n import N_
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.money import compute_totals
from app.pipeline.compose.billing import (
    facts,
    parties,
    party_view,
    pay_buttons,
    payment_view,
    totals_view,
)
from app.pipeline.compose.words import plain_spaces, sentences
from app.schemas import BillRequest
from app.schemas.bill import BillData
from app.visuals.charts import Bar, ConsumptionChart, Line, nice_ticks

# Commodities the templates name in words; any other is shown as the request spells it.
COMMODITIES = {
    "electricity": N_("electricity"),
    "gas": N_("gas"),
    "water": N_("water"),
    "heat": N_("district heating"),
}


@lru_cache(maxsize=1024)
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


def _month_text(month: date) -> str:
    """"2026-10": the same as f"{month:%Y-%m}", without strftime, 24 times a bill."""
    return f"{month.year:04d}-{month.month:02d}"


def _add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def usage_window(usage: list[Any], period_start: date, period_end: date) -> list[dict[str, Any]]:
    """Up to 24 months ending with the latest reading, oldest first, each {month, value, kind}.

    A month without a reading is in the window with value None (a gap, never a zero).
    `kind` is "current" for the billing period's months (the latest month when the period
    has no reading), "last_year" for the same month a year before the latest current one.
    """
    if not usage:
        return []
    values = {_month(item.month): item.value for item in usage}
    latest = max(values)
    first = max(min(values), _add_months(latest, -23))
    months = []
    month = first
    while month <= latest:
        months.append(month)
        month = _add_months(month, 1)
    first_of_period, last_of_period = period_start.replace(day=1), period_end.replace(day=1)
    period = {m for m in months if first_of_period <= m <= last_of_period and m in values}
    current = period or {latest}
    last_year = _add_months(max(current), -12)
    return [
        {"month": m, "value": values.get(m),
         "kind": "current" if m in current else "last_year" if m == last_year and m in values else ""}
        for m in months
    ]


@lru_cache(maxsize=4096)
def _month_name(locale: Locale, month: date, pattern: str) -> str:
    # The same months come back in every bill: Babel formats each once per locale.
    return format_date(month, format=pattern, locale=locale)


def with_texts(window: list[dict[str, Any]], fmt: Any) -> list[dict[str, Any]]:
    """Each month of the window with its names ("Oct", "Oct 2026") and value, formatted once."""
    return [
        {**slot, "short": _month_name(fmt.locale, slot["month"], "MMM"),
         "long": _month_name(fmt.locale, slot["month"], "MMM yyyy"),
         "text": fmt.number(slot["value"]) if slot["value"] is not None else None}
        for slot in window
    ]


def consumption_chart(window: list[dict[str, Any]], data: BillData, fmt: Any,
                      primary: str) -> ConsumptionChart | None:
    """The chart of the window, every text formatted; None without a reading."""
    readings = [slot["value"] for slot in window if slot["value"] is not None]
    if not readings:
        return None
    unit = data.unit
    comparison = data.comparison
    lines = []
    if comparison and comparison.similar_homes is not None:
        lines.append(Line(float(comparison.similar_homes), "similar", fmt.gettext(
            "Similar homes: %(value)s %(unit)s", value=fmt.number(comparison.similar_homes), unit=unit)))
    if comparison and comparison.efficient_homes is not None:
        lines.append(Line(float(comparison.efficient_homes), "efficient", fmt.gettext(
            "Efficient homes: %(value)s %(unit)s", value=fmt.number(comparison.efficient_homes), unit=unit)))
    highest = max([*readings, *(Decimal(str(line.value)) for line in lines)])
    top, ticks = nice_ticks(highest)
    bars = []
    for slot in window:
        month = slot["month"]
        bars.append(Bar(
            label=slot["short"],
            year=str(month.year),
            # Every month up to a year; beyond, each quarter's first month (and the marked ones).
            labelled=len(window) <= 12 or month.month in (1, 4, 7, 10),
            value=float(slot["value"]) if slot["value"] is not None else None,
            kind=slot["kind"] if slot["value"] is not None else "",
            value_text=slot["text"] or "",
        ))
    kinds = {bar.kind for bar in bars}
    legend = [("current", fmt.gettext("This period"))]
    if "last_year" in kinds:
        legend.append(("last_year", fmt.gettext("Same month last year")))
    legend += [(line.kind, line.label) for line in lines]
    return ConsumptionChart(
        bars=tuple(bars), lines=tuple(lines),
        ticks=tuple((float(tick), fmt.number(tick)) for tick in ticks), top=float(top),
        legend=tuple(legend),
        title=fmt.gettext("Consumption per month (%(unit)s)", unit=unit),
        description=chart_description(window, lines, fmt, unit),
        primary=primary, unit=unit,
    )


def chart_description(window: list[dict[str, Any]], lines: list[Line], fmt: Any, unit: str) -> str:
    """The chart's text alternative: every month's figure, the marks, the comparison."""
    parts = []
    for slot in window:
        label = slot["long"]
        if slot["value"] is None:
            parts.append(fmt.gettext("%(month)s: no reading", month=label))
            continue
        text = f"{label}: {slot['text']}"
        if slot["kind"] == "current":
            text += " " + fmt.gettext("(this period)")
        elif slot["kind"] == "last_year":
            text += " " + fmt.gettext("(same month last year)")
        parts.append(text)
    sentence = fmt.gettext("Consumption per month (%(unit)s)", unit=unit) + ": " + "; ".join(parts) + "."
    for line in lines:
        sentence += " " + line.label + "."
    # Alt text is attribute text: plain spaces (MJML mangles a no-break space inside one).
    return plain_spaces(sentence)


def compose(enriched: Enriched, context: dict[str, Any]) -> Composed:
    assert isinstance(enriched.request, BillRequest)
    data = enriched.request.data
    fmt, currency = enriched.fmt, data.currency
    totals = compute_totals(((c.amount, c.vat_rate) for c in data.charges), currency)
    due = fmt.date(data.due_date) if data.due_date else None
    payment = payment_view(data, totals.gross, fmt, due)
    window = with_texts(usage_window(data.usage, data.period.start, data.period.end), fmt)
    chart = consumption_chart(window, data, fmt, enriched.brand.colors["primary"])
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
            {"description": c.description, "sku": None, "quantity": None, "unit_price": None, "image": None,
             "amount": fmt.money(c.amount, currency), "vat_rate": fmt.percent(c.vat_rate)}
            for c in data.charges
        ],
        "totals": totals_view(totals, currency, fmt),
        "payment": payment,
        "usage": [
            {"month": _month_text(slot["month"]), "label": slot["long"],
             "value": slot["text"] if slot["value"] is not None else fmt.gettext("no reading"),
             "amount": float(slot["value"]) if slot["value"] is not None else None,
             "current": slot["kind"] == "current", "last_year": slot["kind"] == "last_year"}
            for slot in window
        ],
        "usage_summary": usage_summary(data.usage, fmt),
        # The chart: the draw stage adds what the channels show of it (`svg` inline for the
        # web page, `svg_print` for the PDF, `png` for email).
        "chart": {"spec": chart, "svg": None, "svg_print": None, "alt": chart.description,
                  "title": chart.title, "png": None} if chart else None,
        "tips_qr": None,
        "comparison": {
            "similar_homes": fmt.number(data.comparison.similar_homes)
            if data.comparison.similar_homes is not None else None,
            "efficient_homes": fmt.number(data.comparison.efficient_homes)
            if data.comparison.efficient_homes is not None else None,
        } if data.comparison else None,
        "tips_url": data.tips_url,
    }
    bill = context["bill"]
    context.update(parties(bill["seller"], bill["buyer"], fmt))
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
    preheader = sentences(
        fmt.gettext("Your bill for %(period)s is ready.", period=context["bill"]["period"]),
        fmt.gettext("Due %(date)s", date=due) if due else None,
        context["bill"]["usage_summary"],
    )
    context["headline"] = fmt.gettext("Your %(commodity)s bill", commodity=context["bill"]["commodity"])
    context["intro"] = fmt.gettext("Your bill for %(period)s is ready.", period=context["bill"]["period"])
    context["buttons"] = pay_buttons(payment, fmt)
    context["sms"] = {"summary": fmt.gettext(
        "%(commodity)s bill %(number)s: %(amount)s", **values)}
    return Composed("bill", subject, preheader, context)
