"""How a customer pays: account numbers and payment references checked, and the SEPA QR code.

Checks use python-stdnum (IBAN: ISO 13616 structure per country and ISO 7064 mod 97-10;
BIC: ISO 9362; Belgian OGM-VCS: mod 97 with 0 as 97; ISO 11649 RF creditor references),
never our own arithmetic. Each check answers None or the sentence a 422 shows for the field.

`epc_qr_payload` writes the EPC069-12 "SEPA credit transfer" QR payload (version 002,
UTF-8), or None when the standard does not allow one (not EUR, amount out of its range,
no valid IBAN). The QR code itself is drawn in app/visuals/qr.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from typing import Any

from stdnum import bic as stdnum_bic
from stdnum import iban as stdnum_iban
from stdnum import iso11649
from stdnum.be import ogm_vcs
from stdnum.exceptions import (
    InvalidChecksum,
    InvalidComponent,
    InvalidFormat,
    InvalidLength,
    ValidationError,
)

from app.problems import FieldError

# Belgian structured communication as printed: +++090/9337/55493+++ (or *** ... ***).
_OGM_PRINTED = re.compile(r"^\s*(\+{3}|\*{3})\s*(\d{3})\s*/?\s*(\d{4})\s*/?\s*(\d{5})\s*\1\s*$")
# What reads as an attempt at an ISO 11649 reference: RF, two digits, then letters and digits.
_RF_LIKE = re.compile(r"^\s*RF\d{2}[0-9A-Za-z ]{1,30}$", re.IGNORECASE)

EPC_MIN_AMOUNT = Decimal("0.01")
EPC_MAX_AMOUNT = Decimal("999999999.99")
EPC_MAX_BYTES = 331  # EPC069-12: QR version 13 at error correction M


@lru_cache(maxsize=1024)
def iban_problem(value: str) -> str | None:
    """Why `value` is not an IBAN, or None when it is one. Remembered: a sender's own IBAN is
    on every one of its invoices, and python-stdnum looks its bank up in a registry each time."""
    try:
        # The registry of national bank codes goes stale; structure and mod 97 do not.
        stdnum_iban.validate(value, check_country=False)
    except InvalidChecksum:
        return "is not a valid IBAN: its check digits do not match (ISO 7064 mod 97)"
    except (InvalidLength, InvalidFormat):
        return "is not a valid IBAN: wrong length or characters for its country"
    except InvalidComponent:
        return "is not a valid IBAN: unknown country code"
    except ValidationError:
        return "is not a valid IBAN"
    return None


def compact_iban(value: str) -> str:
    return stdnum_iban.compact(value)


def format_iban(value: str) -> str:
    """In groups of four, as people read and type it: BE68 5390 0754 7034."""
    return stdnum_iban.format(value)


def bic_problem(value: str) -> str | None:
    try:
        stdnum_bic.validate(value)
    except ValidationError:
        return ("is not a valid BIC (ISO 9362): 4 letters, a country code, 2 letters or digits, "
                "optionally 3 more")
    return None


@dataclass(frozen=True)
class Reference:
    """A payment reference: `kind` is `ogm` (Belgian), `rf` (ISO 11649) or `text`.

    `compact` is what machines read (12 digits, or RF without spaces); `display` what people
    read and type (+++090/9337/55493+++, RF18 5390 0754 7034, or the text as given).
    """

    kind: str
    compact: str
    display: str

    @property
    def structured(self) -> bool:
        return self.kind != "text"


def reference_problem(value: str) -> str | None:
    """Why a reference that looks structured fails its check digits; free text is fine."""
    match = _OGM_PRINTED.match(value)
    if match:
        try:
            ogm_vcs.validate("".join(match.group(2, 3, 4)))
        except ValidationError:
            return ("is not a valid Belgian structured communication: "
                    "its last two digits must be the first ten modulo 97 (97 for 0)")
        return None
    if _RF_LIKE.match(value):
        try:
            iso11649.validate(value)
        except InvalidLength:
            return "is not a valid ISO 11649 RF creditor reference: too long (at most 25 characters)"
        except ValidationError:
            return "is not a valid ISO 11649 RF creditor reference: its check digits do not match (mod 97)"
        return None
    if value.strip().startswith(("+++", "***")):
        return "looks like a Belgian structured communication but is not +++123/4567/89012+++"
    return None


def parse_reference(value: str | None) -> Reference | None:
    """The reference as a Reference; call only on a value `reference_problem` accepted."""
    if not value or not value.strip():
        return None
    match = _OGM_PRINTED.match(value)
    if match:
        digits = "".join(match.group(2, 3, 4))
        return Reference("ogm", digits, f"+++{ogm_vcs.format(digits)}+++")
    if _RF_LIKE.match(value):
        compact = iso11649.compact(value)
        return Reference("rf", compact, iso11649.format(compact))
    return Reference("text", value.strip(), value.strip())


def epc_amount(amount: Decimal) -> str:
    """EUR and the amount with a decimal point and at most two decimals: EUR25.41."""
    return f"EUR{amount.quantize(Decimal('0.01')):f}"


def epc_problem(currency: str, amount: Decimal, iban: str | None) -> str | None:
    """Why no EPC QR code can be drawn, or None when one can."""
    if currency != "EUR":
        return "the SEPA QR code carries euro amounts only"
    if not iban or iban_problem(iban):
        return "no valid IBAN to pay to"
    if not EPC_MIN_AMOUNT <= amount <= EPC_MAX_AMOUNT:
        return "the amount is outside the SEPA QR code's range (0.01 to 999999999.99 EUR)"
    return None


def epc_qr_payload(*, name: str, iban: str, amount: Decimal, currency: str,
                   bic: str | None = None, reference: Reference | None = None,
                   text: str | None = None) -> str | None:
    """The EPC069-12 payload (version 002, UTF-8, SCT), or None when the standard allows none.

    Fields, one a line (LF): service tag BCD, version 002, character set 1 (UTF-8),
    identification SCT, BIC (optional in version 002), beneficiary name (at most 70),
    IBAN, amount (EUR0.01 to EUR999999999.99), purpose (empty), then either the structured
    remittance (a creditor reference, at most 35) or the unstructured one (at most 140),
    never both; beneficiary-to-originator information (at most 70). Trailing empty fields
    are left out, as the standard allows.
    """
    if epc_problem(currency, amount, iban):
        return None
    structured = unstructured = ""
    if reference is not None and reference.structured:
        structured = reference.compact
    elif reference is not None:
        unstructured = reference.compact[:140]
    elif text:
        unstructured = text[:140]
    fields = [
        "BCD", "002", "1", "SCT",
        bic or "",
        _one_line(name)[:70],
        compact_iban(iban),
        epc_amount(amount),
        "",
        structured,
        _one_line(unstructured),
    ]
    while fields[-1] == "":
        fields.pop()
    payload = "\n".join(fields)
    if len(payload.encode("utf-8")) > EPC_MAX_BYTES:
        return None
    return payload


def _one_line(text: str) -> str:
    return " ".join(text.split())


def payment_errors(data: Any) -> list[FieldError]:
    """Every bad account number and reference of an invoice's or bill's `data`, by field."""
    errors = []
    for role in ("seller", "buyer"):
        party = getattr(data, role)
        if party.iban and (problem := iban_problem(party.iban)):
            errors.append(FieldError(f"data.{role}.iban", problem))
        if party.bic and (problem := bic_problem(party.bic)):
            errors.append(FieldError(f"data.{role}.bic", problem))
    if data.payment and data.payment.reference and (problem := reference_problem(data.payment.reference)):
        errors.append(FieldError("data.payment.reference", problem))
    return errors
