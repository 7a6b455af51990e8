"""How compose writes text for every type: header lines without typeset spaces, preheaders
as sentences."""

from __future__ import annotations


def plain_spaces(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


def sentences(*parts: str | None) -> str:
    """An inbox preheader read as sentences: each part starts with a capital and ends with a
    full stop, so "1 okt 2026 tot en met 31 okt 2026 Uiterlijk te betalen op …" reads as
    "Uw factuur voor … staat klaar. Uiterlijk te betalen op 25 november 2026. …"."""
    written = []
    for part in parts:
        text = (part or "").strip()
        if text:
            text = text[0].upper() + text[1:]
            written.append(text if text[-1] in ".!?" else text + ".")
    return " ".join(written)
