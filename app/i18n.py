"""Locales, translations and formatting.

Fixed texts come from gettext catalogues (`translations/<lang>/LC_MESSAGES/messages.po`),
compiled in memory at first use, so there is no build step and no binary in the repo.
Dates, times, numbers and money are formatted by Babel for the message's locale.
"""

from __future__ import annotations

import gettext as gettext_module
import io
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import phonenumbers
from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime, format_interval, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent

from app.config import ROOT

LANGUAGES = ("en", "nl", "fr", "de")
TRANSLATIONS_DIR = ROOT / "translations"


@lru_cache(maxsize=256)
def parse_locale(tag: str) -> Locale | None:
    """A supported Babel locale for a BCP 47 tag (`nl-BE`), or None.

    One Locale object per tag, shared: the formatting caches below are keyed by it, and a
    lookup that finds the very object it holds skips Babel's Locale comparison (Python code,
    about a hundred times a bill when each render had its own object)."""
    try:
        locale = Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError, TypeError):
        return None
    return locale if locale.language in LANGUAGES else None


@dataclass(frozen=True)
class PhoneNumber:
    text: str  # as the reader's country writes it
    href: str  # a tel: URI (RFC 3966) that dials it from anywhere


@lru_cache(maxsize=1024)
def phone_number(value: str, region: str | None) -> PhoneNumber:
    """A phone number written one way wherever it appears, by libphonenumber's rules: as the
    reader's country writes its own numbers (`region`, the territory of the message's locale:
    "09 123 45 67" in Belgium), in international form for any other country's numbers or when
    the locale names no country ("+32 9 123 45 67"). A number it cannot read stays as given.
    """
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        parsed = None
    if parsed is None or not phonenumbers.is_possible_number(parsed):
        return PhoneNumber(value, "tel:" + "".join(c for c in value if c in "+0123456789"))
    formats = phonenumbers.PhoneNumberFormat
    same_country = region is not None and phonenumbers.region_code_for_number(parsed) == region
    text = phonenumbers.format_number(parsed, formats.NATIONAL if same_country else formats.INTERNATIONAL)
    return PhoneNumber(text, "tel:" + phonenumbers.format_number(parsed, formats.E164))


def locale_tag(locale: Locale) -> str:
    return f"{locale.language}-{locale.territory}" if locale.territory else locale.language


def N_(message: str) -> str:
    """Marks a string for translation where it is defined; translated where it is shown."""
    return message


@lru_cache(maxsize=16)
def translations(language: str, directory: Path = TRANSLATIONS_DIR) -> gettext_module.NullTranslations:
    po_path = directory / language / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return gettext_module.NullTranslations()
    with po_path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext_module.GNUTranslations(buffer)


def reload_translations() -> None:
    translations.cache_clear()


@lru_cache(maxsize=4096)
def _money(locale: Locale, currency: str, amount: str) -> str:
    """Babel's currency formatting, remembered: a bill says the same few amounts (its unit
    prices, a subscription's fee) again and again, and each call walks the locale's data.
    Keyed by the amount's text, since 4.20 and 4.2 are equal as Decimals but read differently.
    """
    return format_currency(Decimal(amount), currency, locale=locale, decimal_quantization=False)


@lru_cache(maxsize=4096)
def _number(locale: Locale, value: str, digits: int | None) -> str:
    """Babel's number formatting, remembered as `_money` is: a bill's chart and table say
    up to 24 readings, its axis the same round ticks, and readings repeat between customers."""
    if digits is None:
        return format_decimal(Decimal(value), locale=locale)
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal(value), format=pattern, locale=locale)


@lru_cache(maxsize=1024)
def _percent(locale: Locale, value: str) -> str:
    # A few VAT rates, said in every line of every invoice.
    return format_percent(Decimal(value) / 100, locale=locale, decimal_quantization=False)


@lru_cache(maxsize=4096)
def _date(locale: Locale, value: date, style: str) -> str:
    # A bill run's messages share their issue date, due date and period.
    return format_date(value, format=style, locale=locale)


class Formatter:
    """Everything a message needs to say numbers, money and moments in one locale."""

    def __init__(self, locale: Locale) -> None:
        self.locale = locale
        self.language = locale.language
        self._t = translations(locale.language)

    def gettext(self, message: str, **values: object) -> str:
        text = self._t.gettext(message)
        return text % values if values else text

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        text = self._t.ngettext(singular, plural, n)
        return text % {"num": n, **values}

    def phone(self, value: str) -> PhoneNumber:
        return phone_number(value, self.locale.territory)

    def money(self, amount: Decimal, currency: str) -> str:
        """An amount at its own precision, padded to the currency's minor unit.

        Never rounds: totals arrive rounded half-up (money.py), and a unit price of
        25.005 must read 25,005, or its line would not multiply out on paper.
        """
        return _money(self.locale, currency, str(amount))

    def number(self, value: Decimal | int, digits: int | None = None) -> str:
        return _number(self.locale, str(value), digits)

    def percent(self, value: Decimal) -> str:
        """A rate as the locale writes it ("21%", "21 %"), never rounded: VAT can be 5.5 %."""
        return _percent(self.locale, str(value))

    def date(self, value: date, style: str = "long") -> str:
        return _date(self.locale, value, style)

    def time(self, value: datetime, style: str = "short") -> str:
        return format_time(value, format=style, locale=self.locale, tzinfo=value.tzinfo)

    def time_range(self, start: datetime, end: datetime) -> str:
        """"14:30–15:15", "2:30 – 3:15 PM", "14:30–15:15 Uhr": the locale's own interval form.

        Its thin spaces become narrow no-break ones, so a range never wraps in two.
        """
        skeleton = "hm" if "h" in self.locale.time_formats["short"].pattern else "Hm"
        text = format_interval(start, end, skeleton, locale=self.locale, tzinfo=start.tzinfo)
        return text.replace("\u2009", "\u202f")

    def datetime(self, value: datetime, style: str = "long") -> str:
        return format_datetime(value, format=style, locale=self.locale, tzinfo=value.tzinfo)

    def weekday_date(self, value: date) -> str:
        return format_date(value, format="full", locale=self.locale)
