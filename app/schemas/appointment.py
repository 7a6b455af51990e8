"""The `appointment` request: a meeting with a named person at a time and place or online."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from flask import current_app, has_app_context
from pydantic import AfterValidator, Field, StringConstraints, WithJsonSchema

from app import outbound
from app.schemas.common import (
    Email,
    HttpsUrl,
    Identifier,
    LocalDateTime,
    Model,
    Phone,
    ShortText,
    Text,
    TimeZone,
)

Stage = Literal["confirmation", "reminder", "rescheduled", "cancelled"]


class PlaceLocation(Model):
    name: ShortText
    address: Text | None = None


class OnlineLocation(Model):
    online_url: HttpsUrl
    name: ShortText | None = None


class Advisor(Model):
    name: ShortText
    role: ShortText | None = None
    # A `data:` URI or the id of a stored asset; never a URL to fetch.
    photo: Annotated[str, StringConstraints(max_length=8_000_000)] | None = None
    phone: Phone | None = None
    email: Email | None = None


class Organizer(Model):
    name: ShortText
    email: Email


class Slot(Model):
    start: LocalDateTime
    end: LocalDateTime


def _callback_url(value: str) -> str:
    """Where upstream hears of a reschedule or cancel: https, or http only where the service
    runs with WEBHOOK_ALLOW_HTTP (development and tests), to a host on the public internet
    (a receiver on 127.0.0.1 only where OUTBOUND_ALLOW_HOSTS names it)."""
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise ValueError("is not a URL") from exc
    allow_http = has_app_context() and bool(current_app.config.get("WEBHOOK_ALLOW_HTTP"))
    if parts.scheme != "https" and not (parts.scheme == "http" and allow_http):
        raise ValueError("must be an https:// URL (http:// only where the service runs with "
                         "WEBHOOK_ALLOW_HTTP, for development)")
    if not parts.hostname or parts.username is not None or parts.password is not None:
        raise ValueError("must name a host, without user name or password")
    if parts.fragment:
        raise ValueError("must not have a #fragment")
    # Resolved now, and again when a delivery connects (app/outbound.py).
    outbound.check_url(value)
    return value


CallbackUrl = Annotated[
    str, StringConstraints(max_length=2000), AfterValidator(_callback_url),
    WithJsonSchema({"type": "string", "format": "uri", "maxLength": 2000, "pattern": "^https?://",
                    "description": "https:// (http:// only where WEBHOOK_ALLOW_HTTP is set), to a host "
                                   "on the public internet: a loopback, private, link-local, "
                                   "multicast or reserved address is refused. "
                                   "Receives Standard Webhooks `appointment.rescheduled` and "
                                   "`appointment.cancelled` events."}),
]


class Reschedule(Model):
    slots: list[Slot] = Field(default_factory=list, max_length=50)
    callback_url: CallbackUrl | None = None


class AppointmentData(Model):
    appointment_id: Identifier
    stage: Stage = "confirmation"
    title: ShortText
    # Local wall-clock times; `timezone` says where. An offset in the string is refused.
    start: LocalDateTime
    end: LocalDateTime
    timezone: TimeZone
    location: PlaceLocation | OnlineLocation
    advisor: Advisor | None = None
    organizer: Organizer | None = None
    prepare: list[Text] = Field(default_factory=list, max_length=30)
    reschedule: Reschedule | None = None
    sequence: Annotated[int, Field(ge=0, le=10_000)] = 0
