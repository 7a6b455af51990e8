"""What a profile says, read once into the shape the rules ask about. Nothing is inferred.

A fact the profile does not give is unknown, never false and never guessed: no gender, age or
life stage from a name, a title or a basket. Dates stay ISO strings (`2026-10-02`), which
compare in date order, so a profile with thousands of purchases is read without parsing them.
The profile is in its JSON form (as stored, and as `merge_profile` hands it on).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Facts:
    last_bought: Mapping[str, str]  # sku -> the latest purchase date; every sku ever bought
    interests: frozenset[str]
    life_events: Mapping[str, str]  # type -> the latest date the customer gave for it
    marketing: bool  # said yes to marketing; unknown is no
    open_ticket: bool
    topics_off: frozenset[str]
    # When the customer unsubscribed from this brand's personal blocks (one click, or the
    # preference centre): an ISO date-time, or None.
    unsubscribed_on: str | None = None

    def owns(self, sku: str) -> bool:
        return sku in self.last_bought


def read_facts(profile: Mapping[str, Any], brand: str | None = None) -> Facts:
    """The facts of `profile`, for a message of `brand` (whose unsubscribe applies)."""
    last_bought: dict[str, str] = {}
    for purchase in profile.get("purchases") or ():
        sku, day = purchase["sku"], purchase["date"]
        if day > last_bought.get(sku, ""):
            last_bought[sku] = day
    life_events: dict[str, str] = {}
    for event in profile.get("life_events") or ():
        kind, day = event["type"], event["date"]
        if day > life_events.get(kind, ""):
            life_events[kind] = day
    preferences = profile.get("preferences") or {}
    return Facts(
        last_bought=last_bought,
        interests=frozenset(profile.get("interests") or ()),
        life_events=life_events,
        marketing=(profile.get("consents") or {}).get("marketing") is True,
        open_ticket=any(not ticket.get("closed") for ticket in profile.get("open_tickets") or ()),
        topics_off=frozenset(preferences.get("topics_off") or ()),
        unsubscribed_on=(preferences.get("unsubscribed") or {}).get(brand) if brand else None,
    )
