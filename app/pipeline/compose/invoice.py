"""Compose an invoice: what was bought, what it costs with VAT, how to pay.

The `invoice` part of the context: `number`, `issue_date`, `due_date`, `currency`,
`seller`, `buyer` (name, address_lines, vat_id, iban, bic), `lines` (description, sku,
quantity, unit_price, vat_rate, amount), `totals` (vat_groups, net, vat, gross),
`payment` (see billing.payment_view), `order` (number, tracking_url, track_label) or None.
Each line has `image` ({url, width, height, alt}) when the brand's catalogue has the sku.
`items`, `totals` and `payment` are also at the top of the context, where the line-items
and totals components read them for invoices and bills alike.
"""

from __future__ import annotations

from typing import Any

from app.message.composed import Composed
from app.message.enriched import Enriched
from app.money import compute_totals, quantize
from app.pipeline.compose.billing import (
    facts,
    parties,
    party_view,
    pay_buttons,
    payment_view,
    totals_view,
)
from app.pipeline.compose.words import sentences
from app.schemas import InvoiceRequest


def compose(enriched: Enriched, context: dict[str, Any]) -> Composed:
    assert isinstance(enriched.request, InvoiceRequest)
    data = enriched.request.data
    fmt, currency = enriched.fmt, data.currency
    totals = compute_totals(
        ((line.quantity * line.unit_price, line.vat_rate) for line in data.lines), currency
    )
    due = fmt.date(data.due_date) if data.due_date else None
    payment = payment_view(data, totals.gross, fmt, due)
    language = enriched.locale.language
    products = enriched.brand.products
    lines = [
        {
            "description": line.description,
            "sku": line.sku,
            "quantity": fmt.number(line.quantity),
            "unit_price": fmt.money(line.unit_price, currency),
            "vat_rate": fmt.percent(line.vat_rate),
            "amount": fmt.money(quantize(line.quantity * line.unit_price, currency), currency),
            # The catalogue's picture of the product, when the brand has one for this sku.
            "image": products[line.sku].view(language)["image"]
            if line.sku in products and products[line.sku].image else None,
        }
        for line in data.lines
    ]
    order = None
    if data.order and (data.order.number or data.order.tracking_url):
        order = {"number": data.order.number, "tracking_url": data.order.tracking_url,
                 "track_label": fmt.gettext("Track your delivery")}
    context["invoice"] = {
        "number": data.number,
        "issue_date": fmt.date(data.issue_date),
        "due_date": due,
        "currency": currency,
        "seller": party_view(data.seller),
        "buyer": party_view(data.buyer),
        "lines": lines,
        "totals": totals_view(totals, currency, fmt),
        "payment": payment,
        "order": order,
    }
    invoice = context["invoice"]
    context.update(parties(invoice["seller"], invoice["buyer"], fmt))
    context["facts"] = facts(
        (fmt.gettext("Invoice number"), data.number),
        (fmt.gettext("Invoice date"), invoice["issue_date"]),
        (fmt.gettext("Due date"), due),
        (fmt.gettext("Order number"), data.order.number if data.order else None),
    )
    context.update(items=lines, totals=invoice["totals"], payment=payment,
                   document_title=fmt.gettext("Invoice %(number)s", number=data.number))
    values = {"number": data.number, "brand": enriched.brand.name, "amount": payment["amount"]}
    subject = (
        fmt.gettext("Invoice %(number)s from %(brand)s: %(amount)s due %(due)s", due=due, **values)
        if due else fmt.gettext("Invoice %(number)s from %(brand)s: %(amount)s", **values)
    )
    items = fmt.ngettext("%(num)d item", "%(num)d items", len(lines))
    preheader = sentences(
        fmt.gettext("%(items)s, %(amount)s including VAT", items=items, amount=payment["amount"]),
        fmt.gettext("Due %(date)s", date=due) if due else None)
    context["headline"] = fmt.gettext("Your invoice %(number)s", number=data.number)
    context["intro"] = fmt.gettext("Thank you for your order. Here is your invoice.")
    context["buttons"] = pay_buttons(payment, fmt)
    if order and order["tracking_url"]:
        context["buttons"].append({"kind": "track", "label": order["track_label"],
                                   "url": order["tracking_url"]})
    context["sms"] = {"summary": fmt.gettext(
        "Invoice %(number)s: %(amount)s", number=data.number, amount=payment["amount"])}
    return Composed("invoice", subject, preheader, context)
