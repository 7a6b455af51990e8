"""Stage 4, personalise: which offers this customer sees in this message, and why the others not.

Input: an Enriched bundle (the brand's offer catalogue, loaded with the brand by
app/brands/catalogue.py, the customer's profile, the message type and `now`) and when each
offer was shown to the customer before (counted from the archive, for frequency caps).
Output: a Personalisation: the blocks as the `offers` component renders them (in the
message's language, with tracked links) and the trace for the answer's `personalisation`,
stored with the message. Pure: no I/O.

    facts.py      what the profile says, read once; nothing inferred
    engine.py     candidates, scores, the rules, the trace
    links.py      the signed `/c/<token>` click links
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any

from babel.dates import format_date, format_skeleton

from app.brands.catalogue import Offer
from app.message.enriched import Enriched, Personalisation
from app.personalise.engine import decide
from app.personalise.facts import Facts, read_facts
from app.personalise.links import offer_link

__all__ = ["decide", "personalise"]


def personalise(enriched: Enriched, shown: Mapping[str, Sequence[datetime]] | None = None) -> Personalisation:
    catalogue = enriched.brand.offers
    if not catalogue.offers:
        return Personalisation()
    facts = read_facts(enriched.profile, enriched.brand.id)
    decision = decide(catalogue, facts, enriched.request.type, enriched.now, shown)
    return Personalisation(decision, [offer_view(offer, enriched, why_line(reason, facts, enriched))
                                      for offer, reason in decision.blocks])


def why_line(reason: str, facts: Facts, enriched: Enriched) -> str:
    """The block's reason, said to the customer: drawn from the trace's reason and the fact it
    names (a purchase's product and month), never from anything inferred."""
    fmt = enriched.fmt
    kind, _, value = reason.partition(":")
    if kind == "complements" and value in facts.last_bought:
        product = enriched.brand.products.get(value)
        name = product.name_in(enriched.locale.language) if product else value
        day = date.fromisoformat(facts.last_bought[value])
        # "in October" within the last year, "in October 2025" before.
        if (enriched.now.date() - day).days < 300:
            month = format_date(day, format="MMMM", locale=enriched.locale)
        else:
            month = format_skeleton("yMMMM", day, locale=enriched.locale)
        return fmt.gettext("Because you bought %(product)s in %(month)s.", product=name, month=month)
    if kind == "interest":
        return fmt.gettext("Because you told us what interests you.")
    if kind == "life_event":
        return fmt.gettext("Because of a moment in your life you shared with us.")
    return fmt.gettext("We suggest this to every customer of %(brand)s.", brand=enriched.brand.name)


def offer_view(offer: Offer, enriched: Enriched, why: str = "") -> dict[str, Any]:
    """One block as the templates see it, in the message's language, with why it is shown."""
    language = enriched.locale.language
    title = offer.title[language]
    return {
        "id": offer.id,
        "kind": offer.kind,
        "title": title,
        "text": offer.text[language],
        "why": why,
        "cta": offer.cta[language] if offer.cta else enriched.fmt.gettext("Find out more"),
        "url": offer_link(enriched.message_id, offer.id),
        "price": enriched.fmt.money(*offer.price) if offer.price else None,
        "image": {**offer.image, "alt": title} if offer.image else None,
    }
