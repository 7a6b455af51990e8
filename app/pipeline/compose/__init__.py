"""Stage 5, compose: what the message says, as one view model every channel renders.

Input: an Enriched bundle. Output: a Composed message (app/message/composed.py): subject,
preheader and the context the templates see. Pure: no I/O, no clock but `enriched.now`.
Figures are formatted here, once, in the message's locale, so email, web, PDF, text and SMS
say the same thing.

The context every template sees:
- `type`, `lang`, `locale`, `brand` (name, colors, logo, legal, ...), `links`
- `subject`, `preheader`, `headline`, `greeting`, `intro`, `recipient`, `why_you_get_this`
- `actions`: buttons, each `{kind, label, url}`; the first is the main call to action
- `appointment` | `invoice` | `bill`: the type's own part (see the type's module)
- `items`, `totals`, `payment`: an invoice's lines or a bill's charges, for the components
- `document_title`: the title under the logo on the web page and the PDF
- `parties` (seller, buyer) and `facts` (number, dates, ...): label and value, formatted
- `legal`: the footer's line naming who sends the message: for an invoice or bill its seller
  (`data.seller`, as the From block and the e-invoice say it), else the brand's legal text
- `offers`: the blocks app/personalise chose for this customer, in the message's language:
  {id, kind, title, text, cta, url (tracked), price, image {url, width, height, alt} | None}
- `channel`: set by each channel as it renders (`email`, `web`, `pdf`, `text`, `sms`)
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from app.message.composed import Composed
from app.message.enriched import Enriched
from app.pipeline.compose import appointment, bill, invoice
from app.pipeline.compose.words import plain_spaces


def recipient_view(enriched: Enriched) -> dict[str, Any]:
    name = enriched.profile.get("name") or {}
    given, family = name.get("given"), name.get("family")
    full = " ".join(part for part in (given, family) if part) or None
    return {"given_name": given, "family_name": family, "name": full,
            "email": enriched.profile.get("email"), "phone": enriched.profile.get("phone")}


def greeting(enriched: Enriched, recipient: dict[str, Any]) -> str:
    # Never a title or a gendered form: the profile does not say, so we do not guess.
    if recipient["given_name"]:
        return enriched.fmt.gettext("Hello %(name)s,", name=recipient["given_name"])
    return enriched.fmt.gettext("Hello,")


def why_you_get_this(enriched: Enriched) -> str:
    fmt, brand = enriched.fmt, enriched.brand.name
    return {
        "appointment": fmt.gettext("You receive this message because you have an appointment "
                                   "with %(brand)s.", brand=brand),
        "invoice": fmt.gettext("You receive this invoice because you ordered from %(brand)s.",
                               brand=brand),
        "bill": fmt.gettext("You receive this bill as a customer of %(brand)s.", brand=brand),
    }[enriched.request.type]


def frame(enriched: Enriched) -> dict[str, Any]:
    """The part of the context every type shares."""
    recipient = recipient_view(enriched)
    return {
        "why_you_get_this": why_you_get_this(enriched),
        "type": enriched.request.type,
        "lang": enriched.locale.language,
        "locale": enriched.locale_tag,
        "brand": enriched.brand.view(enriched.locale.language, enriched.locale.territory),
        "links": {
            "web": enriched.links["web"] if "web" in enriched.channels else None,
            "pdf": enriched.links["pdf"] if "pdf" in enriched.channels else None,
            "ics": enriched.links["ics"] if "ics" in enriched.channels else None,
            "short": enriched.links["short"] if "sms" in enriched.channels else None,
            # Every message links the customer's preference centre ('Manage what you receive').
            "preferences": enriched.links["preferences"],
            # The SMS says it only where the brand wants it (brand.json `sms_preferences_link`).
            "sms_preferences": bool(enriched.brand.raw.get("sms_preferences_link")),
        },
        "recipient": recipient,
        "greeting": greeting(enriched, recipient),
        "reference": enriched.request.reference,
        "offers": enriched.personalisation.offers,
        "appointment": None,
        "invoice": None,
        "bill": None,
        "items": [],
        "totals": None,
        "payment": None,
        "document_title": None,
        "parties": [],
        "facts": [],
        # Who sends the message, in the footer: the brand's legal text, unless the message has
        # a seller of its own (an invoice's or bill's `data.seller`, app/pipeline/compose/billing.py).
        "legal": enriched.brand.legal_text(enriched.locale.language),
    }


def compose(enriched: Enriched) -> Composed:
    composer = {"appointment": appointment.compose, "invoice": invoice.compose,
                "bill": bill.compose}[enriched.request.type]
    composed = composer(enriched, frame(enriched))
    # Subject and preheader are header lines, not typeset text: Babel's no-break and narrow
    # spaces become plain ones, as mail clients and SMTP headers expect.
    subject, preheader = plain_spaces(composed.subject), plain_spaces(composed.preheader)
    web = enriched.links["web"]
    view_online = [{"kind": "view_online", "url": web}] if "web" in enriched.channels else []
    return replace(composed, subject=subject, preheader=preheader,
                   context={**composed.context, "subject": subject, "preheader": preheader},
                   actions=[*view_online, *composed.actions])
