"""The next-best-offer decision: candidates, scored and ordered, every rule enforced, traced.

Input: a Catalogue, the customer's Facts, the message type, `now`, and when each offer was
shown to this customer before (from the archive). Output: a Decision, the blocks to show with
the reason each was chosen and every other candidate with the rule that left it out. Pure.

Candidates come from the catalogue's indexes, so the work grows with what the customer did,
not with the size of the catalogue:
- complements of products bought within the catalogue's `recent_days` (`complements:<sku>`),
  scored higher the more recent the purchase;
- the customer's interests (`interest:<id>`);
- life events the customer gave that an offer's audience names (`life_event:<type>`);
- the brand's defaults (`brand_default`).
An offer's `priority` is added to its score; ties keep the catalogue's order.

The rules, checked in this order; the first that applies is the reason in the trace:
`unsubscribed:<date>` (the customer switched this brand's blocks off: every block, every kind),
`owned` (unless the offer is a refill), `topic_off:<topic>`, `open_ticket` (promotions and
satisfaction surveys), `no_marketing_consent` (promotions), `unknown_fact:<event>` and
`stale_fact:<event>` (an audience condition needs the fact known and current),
`frequency_cap`, and `limit` once the message has its N blocks.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta

from app.brands.catalogue import Catalogue, Offer
from app.message.enriched import Decision
from app.personalise.facts import Facts

SCORE_COMPLEMENT = 60.0
SCORE_RECENCY = 20.0  # added in full for a purchase today, nothing at `recent_days`
SCORE_LIFE_EVENT = 50.0
SCORE_INTEREST = 40.0
SCORE_DEFAULT = 20.0


def decide(catalogue: Catalogue, facts: Facts, message_type: str, now: datetime,
           shown: Mapping[str, Sequence[datetime]] | None = None) -> Decision:
    offers, priorities = catalogue.offers, catalogue.priorities
    reasons, scores = _candidates(catalogue, facts, now.date())
    # Ranked best first: (-score, catalogue order) sorts as tuples, without a key function.
    ranked = sorted((-(scores[reason] + priorities[position]), position, reason)
                    for position, reason in reasons.items())
    limit = catalogue.blocks_for(message_type)
    exclusion = _Rules(facts, now, shown or {}).exclusion
    decision = Decision()
    blocks, suppressed = decision.blocks, decision.suppressed
    for _score, position, reason in ranked:
        offer = offers[position]
        excluded = exclusion(offer)
        if excluded is None:
            if len(blocks) < limit:
                blocks.append((offer, reason))
                continue
            excluded = "limit"
        suppressed.append((offer.id, excluded))
    return decision


def _candidates(catalogue: Catalogue, facts: Facts, today: date) -> tuple[dict[int, str], dict[str, float]]:
    """Each candidate's best source, {position in the catalogue: reason}, and each reason's score."""
    reasons: dict[int, str] = {}
    scores: dict[str, float] = {}
    if catalogue.by_complement:
        window = catalogue.recent_days
        cutoff = (today - timedelta(days=window)).isoformat()
        recent = []
        for sku, day in facts.last_bought.items():
            if day >= cutoff and sku in catalogue.by_complement:
                age = max(0, (today - date.fromisoformat(day)).days)
                recent.append((SCORE_COMPLEMENT + SCORE_RECENCY * max(0.0, 1 - age / window), sku))
        # Oldest first, so the most recent purchase an offer complements is written last and kept
        # (same day: the last sku by name). One C-level merge per sku, however many offers.
        recent.sort()
        for score, sku in recent:
            scores[f"complements:{sku}"] = score
            reasons.update(catalogue.complement_reasons[sku])

    def consider(positions: Sequence[int], score: float, reason: str) -> None:
        scores[reason] = score
        for position in positions:
            current = reasons.get(position)
            if current is None or score > scores[current]:
                reasons[position] = reason

    # Sorted: the same profile gives the same trace on every run (sets have no fixed order).
    for event in sorted(facts.life_events):
        consider(catalogue.by_life_event.get(event, ()), SCORE_LIFE_EVENT, f"life_event:{event}")
    for interest in sorted(facts.interests):
        consider(catalogue.by_interest.get(interest, ()), SCORE_INTEREST, f"interest:{interest}")
    consider(catalogue.defaults, SCORE_DEFAULT, "brand_default")
    return reasons, scores


class _Rules:
    """Every rule, for one customer at one moment; `exclusion` says which keeps an offer out."""

    def __init__(self, facts: Facts, now: datetime, shown: Mapping[str, Sequence[datetime]]) -> None:
        self.facts = facts
        self.now = now
        self.shown = shown
        self._oldest_current: dict[int, str] = {}  # within_days -> the oldest current date

    def exclusion(self, offer: Offer) -> str | None:
        """The rule that keeps `offer` from this customer, or None when every rule allows it."""
        facts = self.facts
        if facts.unsubscribed_on:
            return f"unsubscribed:{facts.unsubscribed_on[:10]}"
        if offer.product is not None and not offer.refill and offer.product in facts.last_bought:
            return "owned"
        if facts.topics_off and offer.topics:
            for topic in offer.topics:
                if topic in facts.topics_off:
                    return f"topic_off:{topic}"
        promotion = offer.kind == "promotion"
        if facts.open_ticket and (promotion or offer.survey):
            return "open_ticket"
        if promotion and not facts.marketing:
            return "no_marketing_consent"
        for condition in offer.audience:
            day = facts.life_events.get(condition.life_event)
            if day is None:
                return f"unknown_fact:{condition.life_event}"
            if day < self._oldest(condition.within_days):
                return f"stale_fact:{condition.life_event}"
        if offer.cap is not None:
            since = self.now - timedelta(days=offer.cap.days)
            if sum(1 for when in self.shown.get(offer.id, ()) if when >= since) >= offer.cap.max:
                return "frequency_cap"
        return None

    def _oldest(self, within_days: int) -> str:
        oldest = self._oldest_current.get(within_days)
        if oldest is None:
            oldest = (self.now.date() - timedelta(days=within_days)).isoformat()
            self._oldest_current[within_days] = oldest
        return oldest

