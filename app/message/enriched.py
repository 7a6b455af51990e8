"""Stage 3's value: the request with what it implies (brand, profile, locale, links, images),
then the appointment's plan (app/appointments/state.py) and the offers chosen for the customer
(app/personalise), each added by the pipeline as a new value."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from babel import Locale

from app.brands import Brand
from app.brands.catalogue import Offer
from app.i18n import Formatter, locale_tag
from app.schemas import RenderRequest
from app.visuals.drawn import Asset


@dataclass
class AppointmentPlan:
    """What an appointment's render does (app/appointments/state.py `plan`): its invite's
    SEQUENCE, the kind of change, and the customer's reschedule and cancel links."""

    sequence: int
    # The stored SEQUENCE this render starts from; None for an appointment seen the first time.
    previous: int | None
    changed: bool
    kind: str
    status: str
    links: dict[str, str] = field(default_factory=dict)
    expires_at: datetime | None = None
    warnings: list[str] = field(default_factory=list)
    # The customer made this change on a page (not upstream): the message says so.
    by_customer: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """The offer engine's choice (app/personalise/engine.py): the blocks to show, each with
    its reason, and every other candidate with the rule that left it out."""

    blocks: list[tuple[Offer, str]] = field(default_factory=list)
    suppressed: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class Personalisation:
    """Stage 4's part of the message: the blocks as the templates show them, and the trace."""

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


@dataclass(frozen=True)
class Enriched:
    request: RenderRequest
    brand: Brand
    locale: Locale
    fmt: Formatter
    profile: dict[str, Any]
    message_id: str
    links: dict[str, str]
    channels: list[str]
    now: datetime
    public_base_url: str
    images: dict[str, dict[str, Any]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    # An appointment's SEQUENCE and action links (app/appointments/state.py), else None.
    appointment: AppointmentPlan | None = None
    # A request's pictures made safe and not stored yet (the advisor's photo): commit stores them.
    assets: tuple[Asset, ...] = ()
    # The offers chosen for this customer and the trace of why (app/personalise), added after enrich.
    personalisation: Personalisation = field(default_factory=Personalisation)

    @property
    def locale_tag(self) -> str:
        return locale_tag(self.locale)
