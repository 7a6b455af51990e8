"""Stage 1, validate: the request as a model, plus the checks no schema can make.

Input: the JSON document. Output: a RenderRequest. Every problem found is collected and
raised once as InvalidRequest, each naming its field.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from app.brands import BrandRegistry
from app.channels import channel_errors
from app.i18n import LANGUAGES, parse_locale
from app.money import compute_totals, has_more_decimals_than
from app.payments import payment_errors
from app.problems import FieldError, InvalidRequest, collect
from app.schemas import (
    AppointmentRequest,
    BillRequest,
    InvoiceRequest,
    RenderRequest,
    parse_render_request,
)
from app.schemas.bill import usage_problems


def validate(document: Any, brands: BrandRegistry, now: datetime) -> RenderRequest:
    try:
        request = parse_render_request(document)
    except InvalidRequest as problem:
        # Name a wrong brand, locale or channel too, so the caller hears of every bad field at once.
        collect([*problem.errors, *_check_names(document, brands, {e.path for e in problem.errors})])
        raise
    errors = _check_brand(request.brand, brands)
    errors += channel_errors(request.type, request.channels)
    errors += _check_locale("locale", request.locale)
    errors += _check_locale("recipient.locale", request.recipient.locale)
    if isinstance(request, AppointmentRequest):
        errors += check_appointment(request, now)
    elif isinstance(request, InvoiceRequest | BillRequest):
        errors += _check_money(request)
    collect(errors)
    return request


def _check_brand(brand: str, brands: BrandRegistry) -> list[FieldError]:
    try:
        brands.check(brand)  # only the name: the load step loads the brand, once
    except InvalidRequest as problem:
        return list(problem.errors)
    return []


def _check_names(document: Any, brands: BrandRegistry, named: set[str]) -> list[FieldError]:
    """Brand, locale and channel errors of a document the schema refused, for fields it did
    not name."""
    if not isinstance(document, dict):
        return []
    recipient = document.get("recipient")
    fields = {
        "brand": document.get("brand"),
        "locale": document.get("locale"),
        "recipient.locale": recipient.get("locale") if isinstance(recipient, dict) else None,
    }
    errors = []
    for path, value in fields.items():
        if isinstance(value, str) and path not in named:
            errors += _check_brand(value, brands) if path == "brand" else _check_locale(path, value)
    if not any(path.startswith("channels") for path in named):
        kind = document.get("type")
        errors += channel_errors(kind if isinstance(kind, str) else None, document.get("channels"))
    return errors


def _check_locale(path: str, tag: str | None) -> list[FieldError]:
    if tag is None or parse_locale(tag) is not None:
        return []
    return [FieldError(path, f"'{tag}' is not a supported locale (languages: {', '.join(LANGUAGES)})")]


def local_time_problem(value: datetime, zone: ZoneInfo) -> str | None:
    """Why a wall-clock time cannot name one instant in `zone`, or None when it can."""
    first = value.replace(tzinfo=zone, fold=0)
    second = value.replace(tzinfo=zone, fold=1)
    if first.utcoffset() != second.utcoffset():
        # In a gap the round trip through UTC lands elsewhere; in an overlap it comes back.
        roundtrip = first.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
        if roundtrip != value:
            return (
                f"{value.isoformat()} does not exist in {zone.key} "
                "(clocks skip it for daylight saving time)"
            )
        return (
            f"{value.isoformat()} happens twice in {zone.key} (clocks turn back); "
            "give a time outside that hour"
        )
    return None


def check_appointment(request: AppointmentRequest, now: datetime) -> list[FieldError]:
    data = request.data
    zone = ZoneInfo(data.timezone)
    errors = []
    for name in ("start", "end"):
        problem = local_time_problem(getattr(data, name), zone)
        if problem:
            errors.append(FieldError(f"data.{name}", problem))
    if data.end <= data.start:
        errors.append(FieldError("data.end", "must be after data.start"))
    elif data.end - data.start > timedelta(days=14):
        errors.append(FieldError("data.end", "is more than 14 days after data.start"))
    end = data.end.replace(tzinfo=zone)
    if end <= now:
        errors.append(FieldError("data.end", "is in the past: the appointment is already over"))
    if data.reschedule:
        errors += _check_slots(data.reschedule.slots, zone, now)
    return errors


def _check_slots(slots: list[Any], zone: ZoneInfo, now: datetime) -> list[FieldError]:
    errors = []
    previous = None
    for index, slot in sorted(enumerate(slots), key=lambda pair: pair[1].start):
        path = f"data.reschedule.slots[{index}]"
        if slot.end <= slot.start:
            errors.append(FieldError(f"{path}.end", "must be after its start"))
        if slot.start.replace(tzinfo=zone) <= now:
            errors.append(FieldError(f"{path}.start", "is in the past"))
        for name in ("start", "end"):
            problem = local_time_problem(getattr(slot, name), zone)
            if problem:
                errors.append(FieldError(f"{path}.{name}", problem))
        if previous is not None and slot.start < previous.end:
            errors.append(FieldError(path, "overlaps another slot"))
        previous = slot
    return errors


def _check_money(request: InvoiceRequest | BillRequest) -> list[FieldError]:
    data = request.data
    currency = data.currency
    errors = []
    if isinstance(request, InvoiceRequest):
        items = [(line.quantity * line.unit_price, line.vat_rate) for line in request.data.lines]
    else:
        items = [(charge.amount, charge.vat_rate) for charge in request.data.charges]
        for index, charge in enumerate(request.data.charges):
            if has_more_decimals_than(charge.amount, currency):
                errors.append(FieldError(
                    f"data.charges[{index}].amount",
                    f"has more decimals than {currency} allows",
                ))
        if request.data.period.end < request.data.period.start:
            errors.append(FieldError("data.period.end", "must not be before data.period.start"))
        errors += [FieldError(path, message) for path, message in usage_problems(request.data)]
    errors += payment_errors(data)
    if data.due_date and data.due_date < data.issue_date:
        errors.append(FieldError("data.due_date", "must not be before data.issue_date"))
    if data.totals is None:
        return errors
    computed = compute_totals(items, currency)
    for name in ("net", "vat", "gross"):
        given = getattr(data.totals, name)
        if has_more_decimals_than(given, currency):
            errors.append(FieldError(f"data.totals.{name}", f"has more decimals than {currency} allows"))
        elif given != getattr(computed, name):
            errors.append(FieldError(
                f"data.totals.{name}",
                f"is {given} but the lines add up to {getattr(computed, name)} "
                f"(difference {given - getattr(computed, name)})",
            ))
    return errors
