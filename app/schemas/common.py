"""Building blocks shared by every request model: money, dates, parties, the recipient."""

from __future__ import annotations

import re
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache, lru_cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from babel.numbers import list_currencies
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    NaiveDatetime,
    StrictBool,
    StringConstraints,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)

# A channel's name. Which names exist, and which a message type has, is the channels' own
# registry (app/channels): the render's validate stage and the profile's writer check them, and
# the served OpenAPI lists them.
ChannelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$")]

# Decimal strings: at most 10 digits before the point and 6 after. Enough for any price,
# quantity or meter reading (ten billion), and small enough that the largest invoice (1,000
# lines of quantity times price, summed) stays within Decimal's 28 significant digits when it
# is rounded to the currency's minor unit: beyond them, rounding raises InvalidOperation.
MAX_WHOLE_DIGITS = 10
MAX_FRACTION_DIGITS = 6
_DECIMAL_RE = re.compile(rf"^[+-]?[0-9]{{1,{MAX_WHOLE_DIGITS}}}(\.[0-9]{{1,{MAX_FRACTION_DIGITS}}})?$")
_DECIMAL_SHAPE = re.compile(r"^[+-]?([0-9]+)(?:\.([0-9]+))?$")
# C0 and C1 control characters (CR, LF and TAB among them), DEL, and Unicode's line and
# paragraph separators: none belongs in a name, a number or a line of a message, and CR or LF
# in one would end an email header and start another (`Bcc:`) in what upstream sends.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_IANA_ZONES = frozenset(available_timezones())


class Model(BaseModel):
    """Every request object: unknown fields are refused, so a typo is named, not ignored."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


def _decimal_string(value: Any) -> Decimal:
    if type(value) is str and _DECIMAL_RE.match(value):  # most: one look, then the number
        return Decimal(value)
    if isinstance(value, bool | int | float):
        raise ValueError('must be a decimal string such as "4.20", not a JSON number')
    shape = _DECIMAL_SHAPE.match(value.strip()) if isinstance(value, str) else None
    if shape is None:
        raise ValueError('must be a decimal string such as "4.20"')
    whole, fraction = shape.group(1).lstrip("0"), shape.group(2) or ""
    if len(whole) > MAX_WHOLE_DIGITS:
        raise ValueError(f"has more than {MAX_WHOLE_DIGITS} digits before the decimal point")
    if len(fraction) > MAX_FRACTION_DIGITS:
        raise ValueError(f"has more than {MAX_FRACTION_DIGITS} digits after the decimal point")
    try:
        return Decimal(value.strip())  # type: ignore[union-attr]
    except InvalidOperation as exc:  # pragma: no cover - the pattern already guards this
        raise ValueError("is not a decimal number") from exc


def _one_line(value: str) -> str:
    if found := _CONTROL.search(value):
        raise ValueError(f"must be one line without control characters (U+{ord(found.group()):04X} "
                         f"at position {found.start()})")
    return value


def _non_negative(value: Decimal) -> Decimal:
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive(value: Decimal) -> Decimal:
    if value <= 0:
        raise ValueError("must be greater than zero")
    return value


def _percentage(value: Decimal) -> Decimal:
    if not Decimal(0) <= value <= Decimal(100):
        raise ValueError("must be a percentage from 0 to 100")
    return value


def _iana_zone(value: str) -> str:
    if value not in _IANA_ZONES:
        raise ValueError(f"'{value}' is not an IANA time zone such as 'Europe/Brussels'")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"'{value}' is not an IANA time zone") from exc
    return value


@cache
def _currencies() -> frozenset[str]:
    """ISO 4217 codes as Babel knows them; built once (Babel makes a new set per call)."""
    return frozenset(list_currencies())


def _currency(value: str) -> str:
    if value not in _currencies():
        raise ValueError(f"'{value}' is not an ISO 4217 currency code")
    return value


def _decimal_schema(description: str) -> WithJsonSchema:
    # What the validators accept, said in the OpenAPI document: a string, never a JSON number
    # (pydantic would otherwise describe a Decimal as "number or string").
    return WithJsonSchema({"type": "string", "pattern": _DECIMAL_RE.pattern,
                           "description": description, "examples": ["4.20"]})


Amount = Annotated[Decimal, BeforeValidator(_decimal_string), _decimal_schema("A decimal string.")]
NonNegativeAmount = Annotated[Decimal, BeforeValidator(_decimal_string), AfterValidator(_non_negative),
                              _decimal_schema("A decimal string, zero or more.")]
PositiveAmount = Annotated[Decimal, BeforeValidator(_decimal_string), AfterValidator(_positive),
                           _decimal_schema("A decimal string, greater than zero.")]
Percentage = Annotated[Decimal, BeforeValidator(_decimal_string), AfterValidator(_percentage),
                       _decimal_schema("A percentage from 0 to 100, as a decimal string.")]
# A wall-clock time without offset; the request's `timezone` says where. JSON Schema's
# `date-time` format is RFC 3339, which requires an offset, so it is not used here.
LocalDateTime = Annotated[NaiveDatetime, WithJsonSchema({
    "type": "string",
    "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?$",
    "description": "A local date-time without offset (ISO 8601); `timezone` says where.",
    "examples": ["2026-12-03T14:30:00"],
})]
TimeZone = Annotated[str, AfterValidator(_iana_zone)]
Currency = Annotated[
    str, StringConstraints(pattern=r"^[A-Z]{3}$"), AfterValidator(_currency)
]

# Text limits keep one request from asking us to lay out a novel. No text field is laid out
# over several lines (the templates write each as one run of text), so none takes a control
# character, LF included.
OneLine = AfterValidator(_one_line)
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=200), OneLine]
Text = Annotated[str, StringConstraints(min_length=1, max_length=2000), OneLine]
# The request's own reference: echoed in lists and logs.
Reference = Annotated[str, StringConstraints(max_length=200), OneLine]
HttpsUrl = Annotated[
    str, StringConstraints(max_length=2000, pattern=r"^https://[^\s/$.?#][^\s]*$")
]
Email = Annotated[
    str, StringConstraints(max_length=254, pattern=r"^[^@\s<>\"]+@[^@\s<>\"]+\.[^@\s<>\"]+$"), OneLine
]
def _phone(value: str) -> str:
    """An international number (`+32…`) must be one its country could have; a national one
    is read in the message's country when it is shown (app/i18n.py)."""
    if value.startswith("+") and not _possible(value):
        raise ValueError(f"'{value}' is not a possible phone number for its country code")
    return value


@lru_cache(maxsize=4096)
def _possible(international: str) -> bool:
    # A brand's and an advisor's numbers come with every message: libphonenumber reads each once.
    try:
        return phonenumbers.is_possible_number(phonenumbers.parse(international, None))
    except phonenumbers.NumberParseException:
        return False


Phone = Annotated[str, StringConstraints(max_length=32, pattern=r"^\+?[0-9 ()./-]{3,31}$"),
                  AfterValidator(_phone)]
Identifier = Annotated[
    str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")
]


class Party(Model):
    """A seller or a buyer on an invoice or bill."""

    name: ShortText
    address: Text | None = None
    vat_id: Annotated[str, StringConstraints(max_length=32), OneLine] | None = None
    iban: Annotated[str, StringConstraints(max_length=42), OneLine] | None = None
    bic: Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{8}([A-Z0-9]{3})?$")] | None = None
    email: Email | None = None
    # ISO 3166-1 alpha-2, for the e-invoice's postal address; left out: the VAT id's prefix.
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] | None = None


class Payment(Model):
    reference: Annotated[str, StringConstraints(max_length=140), OneLine] | None = None
    pay_url: HttpsUrl | None = None


class Totals(Model):
    net: Amount
    vat: Amount
    gross: Amount


class PersonName(Model):
    given: ShortText | None = None
    family: ShortText | None = None


def _not_in_future(value: date, info: ValidationInfo) -> date:
    # A day of slack: the customer's today may already be tomorrow in UTC. Callers may pass
    # `context={"today": ...}` to validate against another day than the server's.
    today = (info.context or {}).get("today") if isinstance(info.context, dict) else None
    if value > (today or date.today()) + timedelta(days=1):
        raise ValueError(f"{value.isoformat()} is in the future; give the day it happened")
    return value


# A day something happened: a purchase, a life event, a ticket opened or closed.
HappenedOn = Annotated[date, AfterValidator(_not_in_future)]


class Purchase(Model):
    sku: Identifier
    date: HappenedOn
    quantity: Annotated[int, Field(ge=1, le=100_000)] = 1


class LifeEvent(Model):
    type: Identifier
    date: HappenedOn


class Ticket(Model):
    id: Identifier
    opened: HappenedOn
    topic: ShortText | None = None
    closed: HappenedOn | None = None

    @model_validator(mode="after")
    def _closed_after_opened(self) -> Ticket:
        if self.closed is not None and self.closed < self.opened:
            raise ValueError("closed is before opened")
        return self


class Preferences(Model):
    channels: list[ChannelName] | None = Field(default=None, max_length=20)
    topics_off: list[Identifier] = Field(default_factory=list, max_length=100)
    # Brand id -> when the customer switched that brand's personal blocks off (one-click
    # unsubscribe or the preference centre, /u and /p); absent: not unsubscribed.
    unsubscribed: dict[Identifier, AwareDatetime] | None = Field(default=None, max_length=100)


class ProfileFields(Model):
    """What a profile may say about a customer. What it does not say is unknown."""

    name: PersonName | None = None
    email: Email | None = None
    phone: Phone | None = None
    locale: Annotated[str, StringConstraints(max_length=35)] | None = None
    timezone: TimeZone | None = None
    # true or false only: "yes", 1 or null are refused, not guessed at.
    consents: dict[Identifier, StrictBool] | None = None
    preferences: Preferences | None = None
    purchases: list[Purchase] | None = Field(default=None, max_length=10_000)
    interests: list[Identifier] | None = Field(default=None, max_length=200)
    life_events: list[LifeEvent] | None = Field(default=None, max_length=200)
    open_tickets: list[Ticket] | None = Field(default=None, max_length=200)


class Recipient(ProfileFields):
    """A stored profile by `customer_id`, inline fields, or both (inline wins, this message only)."""

    customer_id: Identifier | None = None
