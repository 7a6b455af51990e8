"""Exact money: Decimal end to end, rounded half-up to the currency's minor unit per VAT group."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from babel.numbers import get_currency_precision


@dataclass(frozen=True)
class VatGroup:
    rate: Decimal
    net: Decimal
    vat: Decimal

    @property
    def gross(self) -> Decimal:
        return self.net + self.vat


@dataclass(frozen=True)
class Totals:
    groups: list[VatGroup]
    net: Decimal
    vat: Decimal
    gross: Decimal


def minor_unit(currency: str) -> Decimal:
    """The smallest amount of a currency: 0.01 for EUR, 1 for JPY (ISO 4217)."""
    return Decimal(1).scaleb(-get_currency_precision(currency))


def quantize(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(minor_unit(currency), rounding=ROUND_HALF_UP)


def has_more_decimals_than(amount: Decimal, currency: str) -> bool:
    exponent = amount.normalize().as_tuple().exponent
    return isinstance(exponent, int) and -exponent > get_currency_precision(currency)


def compute_totals(items: Iterable[tuple[Decimal, Decimal]], currency: str) -> Totals:
    """Totals of (net amount, VAT rate) items: net and VAT rounded once per VAT rate."""
    sums: dict[Decimal, Decimal] = {}
    for amount, rate in items:
        key = rate.normalize()
        sums[key] = sums.get(key, Decimal(0)) + amount
    groups = []
    for rate in sorted(sums):
        net = quantize(sums[rate], currency)
        groups.append(VatGroup(rate=rate, net=net, vat=quantize(net * rate / 100, currency)))
    net = sum((g.net for g in groups), Decimal(0))
    vat = sum((g.vat for g in groups), Decimal(0))
    return Totals(groups=groups, net=net, vat=vat, gross=net + vat)
