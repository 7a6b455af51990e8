"""Stage 3, enrich: what the request implies but does not say.

Input: a valid RenderRequest and what the load step read (the brand, the stored profile).
Output: an Enriched bundle (app/message/enriched.py): the brand, the recipient's profile
(stored, then overridden by inline fields for this message only), the locale and its
formatter, the message id and every link, and images made safe. Reads nothing from the
database and writes nothing: a request's new picture (an advisor's photo) travels in
`assets` until commit stores it.

The pipeline then adds the appointment's plan and the personalisation with
`dataclasses.replace`, as new values: no stage changes an Enriched it was given.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from babel import Locale

from app.brands import Brand
from app.i18n import Formatter, parse_locale
from app.message.enriched import Enriched
from app.problems import FieldError, collect
from app.schemas import AppointmentRequest, RenderRequest
from app.store.artifacts import ArtifactStore
from app.visuals.drawn import Asset
from app.visuals.images import ImageRejected, portrait


def merge_profile(stored: dict[str, Any] | None, request: RenderRequest) -> dict[str, Any]:
    inline = request.recipient.model_dump(mode="json", exclude_unset=True)
    merged = {**(stored or {}), **inline}
    # An unsubscribe the customer made (one click, or the preference centre) holds even when a
    # request sends its own `preferences`: RFC 8058 asks that it be honoured, whatever upstream's
    # copy says until it has heard of it (the webhook). The request's own entries win per brand.
    kept = ((stored or {}).get("preferences") or {}).get("unsubscribed")
    if kept and "preferences" in inline:
        preferences = dict(merged["preferences"] or {})
        preferences["unsubscribed"] = {**kept, **(preferences.get("unsubscribed") or {})}
        merged["preferences"] = preferences
    return merged


def resolve_locale(request: RenderRequest, profile: dict[str, Any], brand: Brand) -> Locale:
    for tag in (request.locale, profile.get("locale"), brand.locale, "en"):
        if tag and (locale := parse_locale(tag)):
            return locale
    raise AssertionError("'en' is always a supported locale")  # pragma: no cover


def enrich(
    request: RenderRequest,
    *,
    brand: Brand,
    stored_profile: dict[str, Any] | None,
    message_id: str,
    links: dict[str, str],
    channels: list[str],
    now: datetime,
    assets: ArtifactStore,
    config: dict[str, Any],
) -> Enriched:
    profile = merge_profile(stored_profile, request)
    locale = resolve_locale(request, profile, brand)
    images, pictures = _advisor_photo(request, assets, config)
    warnings: list[str] = []
    if request.recipient.customer_id and stored_profile is None:
        warnings.append(
            f"no stored profile for customer '{request.recipient.customer_id}'; "
            "only the inline recipient fields were used"
        )
    return Enriched(
        request=request, brand=brand, locale=locale, fmt=Formatter(locale),
        profile=profile, message_id=message_id, links=links, channels=channels, now=now,
        public_base_url=config["PUBLIC_BASE_URL"], images=images, warnings=warnings,
        assets=pictures,
    )


def _advisor_photo(request: RenderRequest, assets: ArtifactStore,
                   config: dict[str, Any]) -> tuple[dict[str, dict[str, Any]], tuple[Asset, ...]]:
    """The advisor's photo as the templates show it, and the picture to store at commit if new."""
    advisor = request.data.advisor if isinstance(request, AppointmentRequest) else None
    if advisor is None or not advisor.photo:
        return {}, ()
    try:
        stored, asset = portrait(
            advisor.photo, assets,
            max_bytes=config["MAX_IMAGE_BYTES"], max_pixels=config["MAX_IMAGE_PIXELS"],
        )
    except ImageRejected as exc:
        collect([FieldError("data.advisor.photo", str(exc))])
        return {}, ()
    view = stored.view(config["PUBLIC_BASE_URL"], advisor.name)
    return {"advisor_photo": view}, (asset,) if asset is not None else ()
