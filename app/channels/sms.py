"""SMS: one short text with the web link, its encoding (GSM-7 or UCS-2) and segment count.

Segment arithmetic follows 3GPP TS 23.038 / 23.040: GSM-7 fits 160 septets in one
segment and 153 per segment when concatenated (extension characters take two); anything
outside the GSM-7 alphabet sends the whole text as UCS-2, 70 code units or 67 per part.
"""

from __future__ import annotations

import re

from app.channels.base import Channel, ChannelOutput, plain
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.templating import render as render_template

NAME = "sms"

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")

# Typography that Babel and translators use, said in GSM-7 instead: one no-break space
# would otherwise send the whole text as UCS-2, at less than half the characters a segment.
GSM7_SUBSTITUTES = str.maketrans({
    "\u00a0": " ", "\u202f": " ", "\u2009": " ", "\u2007": " ",
    "\u2013": "-", "\u2014": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201c": '"', "\u201d": '"', "\u201e": '"',
    "\u2026": "...", "\u00ab": '"', "\u00bb": '"',
})


def encoding_of(text: str) -> str:
    return "GSM-7" if all(c in GSM7_BASIC or c in GSM7_EXTENSION for c in text) else "UCS-2"


def segments_of(text: str) -> tuple[str, int]:
    encoding = encoding_of(text)
    if encoding == "GSM-7":
        units = sum(2 if c in GSM7_EXTENSION else 1 for c in text)
        single, multi = 160, 153
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi = 70, 67
    if units <= single:
        return encoding, 1
    return encoding, -(-units // multi)


def render(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> ChannelOutput:
    context = {**message.context, "channel": "sms"}
    text = plain(render_template(f"templates/{message.type}/sms.txt", context))
    text = text.translate(GSM7_SUBSTITUTES)
    text = re.sub(r"[ \t]+", " ", re.sub(r"\s*\n\s*", "\n", text)).strip()
    encoding, segments = segments_of(text)
    return ChannelOutput({"text": text, "segments": segments, "encoding": encoding})


# Always with the hosted page: an SMS carries a way to act, and has room only for its link.
CHANNEL = Channel(NAME, types=("appointment", "invoice", "bill"), position=5, order=10, render=render,
                  needs=("web",), templates=("sms.txt",))
