"""The `appointment` request: a meeting with a named person at a time and place or online."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints

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


class Reschedule(Model):
    slots: list[Slot] = Field(default_factory=list, max_length=50)
    callback_url: Annotated[str, StringConstraints(max_length=2000)] | None = None


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
