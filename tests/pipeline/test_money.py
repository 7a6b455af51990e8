"""Money: Decimal end to end, rounded half-up to the currency's minor unit per VAT group."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from app.money import compute_totals, has_more_decimals_than, minor_unit


def test_totals_round_once_per_vat_rate() -> None:
    # Three lines at 21 %: 0.005 + 0.005 + 0.005 = 0.015 net, rounded once to 0.02, not 0.03.
    totals = compute_totals([(D("0.005"), D("21"))] * 3, "EUR")
    assert [(g.rate, g.net, g.vat) for g in totals.groups] == [(D("21"), D("0.02"), D("0.00"))]


def test_totals_per_group_then_summed() -> None:
    totals = compute_totals(
        [(D("21.00"), D("21")), (D("10.005"), D("6")), (D("3.333"), D("6")), (D("7"), D("0"))], "EUR"
    )
    assert [(g.rate, g.net, g.vat) for g in totals.groups] == [
        (D("0"), D("7.00"), D("0.00")),
        (D("6"), D("13.34"), D("0.80")),    # 13.338 -> 13.34; 0.8004 -> 0.80
        (D("21"), D("21.00"), D("4.41")),
    ]
    assert (totals.net, totals.vat, totals.gross) == (D("41.34"), D("5.21"), D("46.55"))


def test_half_up_not_bankers_rounding() -> None:
    assert compute_totals([(D("0.125"), D("0"))], "EUR").net == D("0.13")
    assert compute_totals([(D("10"), D("21"))], "EUR").vat == D("2.10")
    assert compute_totals([(D("2.50"), D("1"))], "EUR").vat == D("0.03")  # 0.025 -> 0.03


@pytest.mark.parametrize(("currency", "unit"), [("EUR", D("0.01")), ("JPY", D("1")), ("BHD", D("0.001"))])
def test_minor_units_follow_iso_4217(currency: str, unit: D) -> None:
    assert minor_unit(currency) == unit


def test_jpy_has_no_decimals() -> None:
    totals = compute_totals([(D("1234.5"), D("10"))], "JPY")
    assert (totals.net, totals.vat, totals.gross) == (D("1235"), D("124"), D("1359"))
    assert has_more_decimals_than(D("10.5"), "JPY")
    assert not has_more_decimals_than(D("10.50"), "EUR")
    assert has_more_decimals_than(D("10.505"), "EUR")
