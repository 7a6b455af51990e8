"""Paying: IBAN, BIC and references checked by python-stdnum; the EPC069-12 QR payload field by field.

Expected payloads are written out here from the EPC069-12 guidelines (version 002), not
taken from the application: BCD / 002 / 1 (UTF-8) / SCT / BIC / name / IBAN / EUR amount /
purpose / structured remittance / unstructured remittance, one a line.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from flask.testing import FlaskClient

from app.payments import (
    EPC_MAX_BYTES,
    bic_problem,
    epc_qr_payload,
    iban_problem,
    parse_reference,
    reference_problem,
)
from tests.conftest import load_fixture

# --------------------------------------------------------------------------- the checks


@pytest.mark.parametrize("iban", ["BE68539007547034", "BE68 5390 0754 7034", "DE89370400440532013000",
                                  "NL91ABNA0417164300", "FR1420041010050500013M02606"])
def test_valid_ibans_pass(iban: str) -> None:
    assert iban_problem(iban) is None


@pytest.mark.parametrize(("iban", "words"), [
    ("BE68539007547035", "check digits"),       # one digit off: mod 97 fails
    ("BE69539007547034", "check digits"),
    ("BE98539007547", "length"),                # mod 97 holds, but Belgian IBANs have 16 characters
    ("XX07539007547034", "country"),            # mod 97 holds, but there is no country XX
    ("not an iban", "IBAN"),
])
def test_bad_ibans_are_named(iban: str, words: str) -> None:
    problem = iban_problem(iban)
    assert problem is not None and words in problem


def test_bic_is_checked() -> None:
    assert bic_problem("GKCCBEBB") is None
    assert bic_problem("GKCCBEBBXXX") is None
    assert bic_problem("GKCC12BB") is not None  # the country code must be letters


@pytest.mark.parametrize(("reference", "kind", "compact", "display"), [
    ("+++090/9337/55493+++", "ogm", "090933755493", "+++090/9337/55493+++"),
    ("***090/9337/55493***", "ogm", "090933755493", "+++090/9337/55493+++"),
    ("+++090933755493+++", "ogm", "090933755493", "+++090/9337/55493+++"),
    # 0000000097 is 0 modulo 97: the check digits are 97, not 00.
    ("+++000/0000/09797+++", "ogm", "000000009797", "+++000/0000/09797+++"),
    ("RF18539007547034", "rf", "RF18539007547034", "RF18 5390 0754 7034"),
    ("RF18 5390 0754 7034", "rf", "RF18539007547034", "RF18 5390 0754 7034"),
    ("Commande 789 – Zoë", "text", "Commande 789 – Zoë", "Commande 789 – Zoë"),
])
def test_references_are_recognised(reference: str, kind: str, compact: str, display: str) -> None:
    assert reference_problem(reference) is None
    parsed = parse_reference(reference)
    assert parsed is not None
    assert (parsed.kind, parsed.compact, parsed.display) == (kind, compact, display)


@pytest.mark.parametrize(("reference", "words"), [
    ("+++090/9337/55494+++", "modulo 97"),
    ("+++000/0000/09700+++", "modulo 97"),      # 0 must be written 97
    ("+++12/345/6789+++", "+++123/4567/89012+++"),
    ("RF19539007547034", "check digits"),
    ("RF18539007547034539007547034", "too long"),
])
def test_bad_references_are_named(reference: str, words: str) -> None:
    problem = reference_problem(reference)
    assert problem is not None and words in problem


# --------------------------------------------------------------------------- EPC069-12


def payload(**overrides: Any) -> str | None:
    values: dict[str, Any] = {"name": "Demo Coffee", "iban": "BE68539007547034", "bic": "GKCCBEBB",
                              "amount": Decimal("25.41"), "currency": "EUR",
                              "reference": parse_reference("+++090/9337/55493+++")}
    values.update(overrides)
    return epc_qr_payload(**values)


def test_payload_follows_epc069_12_field_by_field() -> None:
    fields = (payload() or "").split("\n")
    assert fields == [
        "BCD",               # service tag
        "002",               # version
        "1",                 # character set: UTF-8
        "SCT",               # identification: SEPA credit transfer
        "GKCCBEBB",          # BIC of the beneficiary's bank
        "Demo Coffee",       # beneficiary name, at most 70
        "BE68539007547034",  # IBAN, no spaces
        "EUR25.41",          # amount: EUR, a decimal point, at most 2 decimals
        "",                  # purpose (none)
        "090933755493",      # structured remittance: the Belgian structured communication
    ]                        # unstructured remittance and information: left out, trailing


def test_rf_reference_is_structured_and_free_text_is_unstructured() -> None:
    rf = (payload(reference=parse_reference("RF18 5390 0754 7034")) or "").split("\n")
    assert rf[9] == "RF18539007547034" and len(rf) == 10
    text = (payload(reference=parse_reference("Commande 789 – Zoë")) or "").split("\n")
    assert text[9] == "" and text[10] == "Commande 789 – Zoë"
    # Without any reference the document number says what the money is for.
    plain = (payload(reference=None, text="INV-1") or "").split("\n")
    assert plain[9:] == ["", "INV-1"]


def test_bic_may_be_left_out_in_version_002() -> None:
    assert (payload(bic=None) or "").split("\n")[4] == ""


@pytest.mark.parametrize(("amount", "allowed"), [
    ("0.00", False), ("0.01", True), ("999999999.99", True), ("1000000000.00", False), ("-5.00", False),
])
def test_amount_within_the_standard_limits(amount: str, allowed: bool) -> None:
    result = payload(amount=Decimal(amount))
    assert (result is not None) == allowed
    if result:
        assert result.split("\n")[7] == f"EUR{amount}"


def test_only_euro_amounts_and_valid_ibans_get_a_payload() -> None:
    assert payload(currency="JPY") is None
    assert payload(iban="BE68539007547035") is None


def test_long_names_are_cut_to_70_characters_and_the_payload_stays_small() -> None:
    name = "Ünïcödé Beneficiary " * 10
    result = payload(name=name, reference=parse_reference("x" * 140)) or ""
    assert len(result.split("\n")[5]) == 70
    assert len(result.encode("utf-8")) <= EPC_MAX_BYTES


# --------------------------------------------------------------------------- through the API


def _set(document: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    *parents, last = path.split(".")
    target: Any = document
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    if last.isdigit():
        target[int(last)] = value
    else:
        target[last] = value
    return document


INVOICE, BILL = "invoice/capsules-nl", "bill/electricity-nl"
BAD: dict[str, tuple[str, str, Any, str, str]] = {
    "iban-checksum": (INVOICE, "data.seller.iban", "BE68539007547035", "data.seller.iban", "mod 97"),
    "buyer-iban": (BILL, "data.buyer.iban", "BE00123", "data.buyer.iban", "IBAN"),
    "bic": (INVOICE, "data.seller.bic", "GKCC12BB", "data.seller.bic", "ISO 9362"),
    "ogm-check-digits": (INVOICE, "data.payment.reference", "+++090/9337/55494+++",
                         "data.payment.reference", "modulo 97"),
    "rf-check-digits": (BILL, "data.payment.reference", "RF19539007547034", "data.payment.reference",
                        "ISO 11649"),
    "currency-not-iso-4217": (INVOICE, "data.currency", "EUX", "data.currency", "ISO 4217"),
    "vat-over-100": (INVOICE, "data.lines.0.vat_rate", "100.5", "data.lines[0].vat_rate", "0 to 100"),
    "vat-negative": (INVOICE, "data.lines.0.vat_rate", "-6", "data.lines[0].vat_rate", "0 to 100"),
    "no-lines": (INVOICE, "data.lines", [], "data.lines", "at least one line"),
    "charge-decimals": (BILL, "data.charges.0.amount", "78.105", "data.charges[0].amount",
                        "more decimals than EUR"),
    "totals-decimals": (INVOICE, "data.totals.gross", "25.415", "data.totals.gross", "more decimals"),
}


@pytest.mark.parametrize(("fixture", "where", "value", "path", "words"), BAD.values(), ids=BAD.keys())
def test_bad_money_input_is_a_422_naming_the_field(
    client: FlaskClient, fixture: str, where: str, value: Any, path: str, words: str
) -> None:
    document = _set(load_fixture(fixture), where, value)
    response = client.post("/v1/render", json=document)
    assert response.status_code == 422, response.get_data(as_text=True)
    errors = response.json["errors"]
    assert [e["path"] for e in errors] == [path], errors
    assert words in errors[0]["message"]


def test_jpy_totals_with_decimals_are_refused(client: FlaskClient) -> None:
    document = load_fixture("invoice/jpy-de")
    document["data"]["totals"] = {"net": "1.5", "vat": "0", "gross": "1.5"}
    errors = client.post("/v1/render", json=document).json["errors"]
    assert {"data.totals.net", "data.totals.gross"} <= {e["path"] for e in errors}
    assert all("more decimals than JPY" in e["message"] for e in errors if e["path"] != "data.totals.vat")


def test_two_thousand_lines_meet_a_clear_limit_at_once(client: FlaskClient) -> None:
    document = load_fixture(INVOICE)
    document["data"]["lines"] = document["data"]["lines"] * 2000
    del document["data"]["totals"]
    response = client.post("/v1/render", json=document)
    assert response.status_code == 422
    [error] = response.json["errors"]
    assert error["path"] == "data.lines"
    assert "2000 lines" in error["message"] and "at most 1000" in error["message"]


# --------------------------------------------------------------------------- the pay action


def pay_action(answer: dict[str, Any]) -> dict[str, Any] | None:
    return next((a for a in answer["actions"] if a["kind"] == "pay"), None)


def test_pay_action_carries_the_epc_payload(client: FlaskClient) -> None:
    answer = client.post("/v1/render", json=load_fixture(INVOICE)).json
    action = pay_action(answer)
    assert action is not None
    assert action["url"] == "https://pay.example/inv-123"
    assert action["epc_qr_payload"] == (
        "BCD\n002\n1\nSCT\nGKCCBEBB\nDemo Coffee\nBE68539007547034\nEUR25.41\n\n090933755493")


def test_no_epc_payload_for_yen(client: FlaskClient) -> None:
    answer = client.post("/v1/render", json=load_fixture("invoice/jpy-de")).json
    action = pay_action(answer)
    assert action is None or "epc_qr_payload" not in action
    assert "BCD" not in answer["outputs"]["email"]["html"]


def test_nothing_due_means_no_pay_action_and_no_qr(client: FlaskClient) -> None:
    document = load_fixture("bill/single-month-de")
    document["data"]["charges"] = [{"description": "Einspeisevergütung", "amount": "-6.40", "vat_rate": "21"}]
    answer = client.post("/v1/render", json=document).json
    assert pay_action(answer) is None
    html = answer["outputs"]["email"]["html"]
    assert "IBAN" not in html and "BE71 0961" not in html  # no transfer details, no QR code
