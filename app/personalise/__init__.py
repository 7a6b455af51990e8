"""Stage 4, personalise: which offers this customer sees in this message, and why the others not.

Input: an Enriched bundle (the brand's offer catalogue, the customer's profile, the message
type and `now`) and when each offer was shown to the customer before (counted from the archive,
for frequency caps). Output: a Personalisation: the blocks as the `offers` component renders
them (in the message's language, with tracked links) and the trace for the answer's
`personalisation`, stored with the message. Pure: no I/O.

    catalogue.py  the brand's offers.json, checked at load (file and line for every problem)
    facts.py      what the profile says, read once; nothing inferred
    engine.py     candidates, scores, the rules, the trace
    links.py      the signed `/c/<token>` click links
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from app.personalise.engine import Decision, decide
from app.personalise.facts import read_facts
from app.personalise.links import offer_link

if TYPE_CHECKING:
    from app.personalise.catalogue import Offer
    from app.pipeline.enrich import Enriched

__all__ = ["Personalisation", "decide", "personalise"]


@dataclass
class Personalisation:
    decision: Decision = field(default_factory=Decision)
    # What the `offers` component renders: {id, kind, title, text, cta, url, price, image}.
    offers: list[dict[str, Any]] = field(default_factory=list)

    def trace(self) -> dict[str, list[dict[str, str]]]:
        """The answer's `personalisation` (CONTRACT.md)."""
        return {
            "blocks": [{"offer": offer.id, "reason": reason} for offer, reason in self.decision.blocks],
            "suppressed": [{"offer": offer, "reason": reason}
                           for offer, reason in self.decision.suppressed],
        }


def personalise(enriched: Enriched, shown: Mapping[str, Sequence[datetime]] | None = None) -> Personalisation:
    catalogue = enriched.brand.offers
    if not catalogue.offers:
        return Personalisation()
    decision = decide(catalogue, read_facts(enriched.profile), enriched.request.type, enriched.now, shown)
    return Personalisation(decision, [offer_view(offer, enriched) for offer, _ in decision.blocks])


def offer_view(offer: Offer, enriched: Enriched) -> dict[str, Any]:
    """One block as the templates see it, in the message's language."""
    language = enriched.locale.language
    title = offer.title[language]
    return {
        "id": offer.id,
        "kind": offer.kind,
        "title": title,
        "text": offer.text[language],
        "cta": offer.cta[language] if offer.cta else enriched.fmt.gettext("Find out more"),
        "url": offer_link(enriched.message_id, offer.id),
        "price": enriched.fmt.money(*offer.price) if offer.price else None,
        "image": {**offer.image, "alt": title} if offer.image else None,
    }
