"""Stage 2, load: everything a render reads from storage, read once, before the pure stages.

Input: a valid RenderRequest. Output: a Loaded value: the brand (its data, offers and
pictures), the customer's stored profile, the appointment as stored (for an appointment's
SEQUENCE and its reschedule and cancel links), and when each of the brand's offers was shown
to the customer (for frequency caps). After this stage nothing reads the database until commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Row

from app.appointments.state import stored_appointment
from app.brands import Brand, BrandRegistry
from app.schemas import RenderRequest
from app.store import archive, customers


@dataclass(frozen=True)
class Loaded:
    brand: Brand
    # The customer's stored profile; None when the request names no customer, or an unknown one.
    profile: dict[str, Any] | None
    # The appointment as stored (its columns by name); None for other types and for an
    # appointment seen the first time.
    appointment: Row[Any] | None
    # Capped offer id -> when the customer's archived messages of this brand showed it, within
    # the longest cap's window (an offer without a cap has no history to count).
    shown: dict[str, list[datetime]]


def load(request: RenderRequest, brands: BrandRegistry, now: datetime) -> Loaded:
    brand = brands.get(request.brand)
    customer_id = request.recipient.customer_id
    return Loaded(
        brand=brand,
        profile=archive.load_profile(customer_id),
        appointment=stored_appointment(request, brand.id),
        shown=customers.offers_shown(customer_id, brand.id, brand.offers.cap_windows, now),
    )
