"""An appointment's state in the database: read before a render (`plan`), written with it (`record`).

`stored_appointment` is read by the load step (app/pipeline/load.py). `plan` runs after
enrich, over what was loaded: it compares the request with the stored appointment and decides
the invite's SEQUENCE (raised when the time, place or status changes, never lowered, never
below what upstream sends) and whether the customer may move or cancel it from this message.
`appointment_record` is the new state as a value (AppointmentRecord); `commit` writes it in the
message's transaction, after the message row: the new state, the change, a booked slot. For a
customer's action, `customer_records` are the note on the message they acted from and the
webhook to upstream, which the caller (app/pipeline/changes.py) names in the same commit,
so all of it is stored with the message or none of it is.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Row, Update, bindparam, delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.sql.expression import Executable

from app.appointments.models import Appointment, AppointmentChange, AppointmentMessage, SlotBooking
from app.appointments.problems import AppointmentChanged, SlotTaken
from app.appointments.tokens import action_token
from app.links import absolute
from app.message.composed import Composed
from app.message.enriched import AppointmentPlan, Enriched
from app.schemas import AppointmentRequest
from app.store import session
from app.store.models import Note
from app.webhooks.delivery import enqueue


@dataclass(frozen=True)
class CustomerAction:
    """A change the customer made on a page, carried through the render to `record`."""

    kind: str                   # `rescheduled` or `cancelled`
    message_id: str             # the message whose link they followed
    expected_sequence: int      # the SEQUENCE their page showed
    previous: dict[str, str]    # start, end, status before the change
    slot: dict[str, str] | None = None


def utc_key(local_iso: str, zone: str) -> str:
    """A local time as the UTC instant it names, written one way (`20301204T080000Z`)."""
    moment = datetime.fromisoformat(local_iso).replace(tzinfo=ZoneInfo(zone)).astimezone(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ")


def resource_of(request: AppointmentRequest) -> str:
    """Whose time the appointment takes: its advisor's, else only its own."""
    advisor = request.data.advisor
    if advisor is not None:
        return f"advisor:{(advisor.email or advisor.name).casefold()}"
    return f"appointment:{request.data.appointment_id}"


def _significant(start: str, end: str, zone: str, status: str, location: dict[str, Any]) -> tuple:
    # What RFC 5546 counts as a change the attendee must see (time, status), and the place.
    return (start, end, zone, status, json.dumps(location, sort_keys=True))


# The statements every appointment's render runs, built once (Core, on the session's
# connection: the ORM's identity map and unit of work would cost more than the rows).
_APPOINTMENTS = Appointment.__table__
_READ = select(_APPOINTMENTS).where(_APPOINTMENTS.c.brand == bindparam("brand"),
                                    _APPOINTMENTS.c.appointment_id == bindparam("appointment_id"))
_INSERT = insert(_APPOINTMENTS)
_INSERT_CHANGE = insert(AppointmentChange.__table__)
_INSERT_MESSAGE = insert(AppointmentMessage.__table__)
_SLOTS = SlotBooking.__table__
_FREE_SLOTS = delete(_SLOTS).where(_SLOTS.c.brand == bindparam("brand"),
                                   _SLOTS.c.appointment_id == bindparam("appointment_id"))
_BOOK_SLOT = insert(_SLOTS)


@lru_cache(maxsize=8)
def _update(columns: tuple[str, ...]) -> Update:
    """The conditional UPDATE of an appointment's state, from the SEQUENCE it was read at."""
    return (update(_APPOINTMENTS)
            .where(_APPOINTMENTS.c.brand == bindparam("key_brand"),
                   _APPOINTMENTS.c.appointment_id == bindparam("key_appointment_id"),
                   _APPOINTMENTS.c.sequence == bindparam("key_sequence"))
            .values({name: bindparam(name) for name in columns}))


def stored_appointment(request: Any, brand: str) -> Row[Any] | None:
    """The appointment as stored (its columns by name), read fresh by the load step; None for
    other requests and for an appointment seen the first time."""
    if not isinstance(request, AppointmentRequest):
        return None
    return session().connection().execute(
        _READ, {"brand": brand, "appointment_id": request.data.appointment_id}).first()


def plan(enriched: Enriched, stored: Row[Any] | None,
         action: CustomerAction | None = None) -> AppointmentPlan | None:
    """The plan for an appointment's render (None for other types), from the appointment as
    stored and the customer's `action` that asks for it, if any; its warnings join the
    answer's. Pure: `stored` was read by the load step."""
    request = enriched.request
    if not isinstance(request, AppointmentRequest):
        return None
    data = request.data
    status = "cancelled" if data.stage == "cancelled" else "confirmed"
    start, end = data.start.isoformat(), data.end.isoformat()
    location = data.location.model_dump(mode="json", exclude_none=True)
    warnings: list[str] = []
    if stored is None:
        plan_ = AppointmentPlan(data.sequence, None, True, "created", status)
    else:
        now_state = _significant(start, end, data.timezone, status, location)
        was = _significant(stored.start, stored.end, stored.timezone, stored.status, stored.location)
        changed = now_state != was
        sequence = max(stored.sequence + 1 if changed else stored.sequence, data.sequence)
        if status == "cancelled" and stored.status != "cancelled":
            kind = "cancelled"
        elif (start, end, data.timezone) != (stored.start, stored.end, stored.timezone):
            kind = "rescheduled"
        else:
            kind = "updated"
        if changed and stored.changed_by == "customer" and data.sequence < stored.sequence:
            warnings.append(
                f"the customer changed appointment '{data.appointment_id}' (now {stored.status}, "
                f"{stored.start}, SEQUENCE {stored.sequence}) after data.sequence {data.sequence}; "
                f"this request changes it again (SEQUENCE {sequence})"
            )
        plan_ = AppointmentPlan(sequence, stored.sequence, changed, kind if changed else "unchanged",
                                status, warnings=warnings)
    plan_.by_customer = action is not None
    _offer_actions(plan_, enriched)
    return plan_


def _offer_actions(plan_: AppointmentPlan, enriched: Enriched) -> None:
    """Reschedule and cancel links, when upstream said where to tell it (`callback_url`) and
    the appointment has not begun. They work until it begins."""
    data = enriched.request.data  # type: ignore[union-attr]
    reschedule = data.reschedule
    starts_at = data.start.replace(tzinfo=ZoneInfo(data.timezone)).astimezone(UTC)
    if plan_.status == "cancelled" or reschedule is None or not reschedule.callback_url \
            or starts_at <= enriched.now:
        return
    token = action_token(enriched.message_id, starts_at)
    plan_.expires_at = starts_at
    if reschedule.slots:
        plan_.links["reschedule"] = absolute(f"/a/{token}/reschedule")
    plan_.links["cancel"] = absolute(f"/a/{token}/cancel")


@dataclass(frozen=True)
class AppointmentRecord:
    """An appointment's new state, as its render decided it; written in the message's transaction."""

    plan: AppointmentPlan
    request: AppointmentRequest
    brand: str
    message_id: str
    now: datetime
    # The appointment as the message shows it (its composed view), kept for older messages' pages.
    view: dict[str, Any]
    action: CustomerAction | None = None

    def write(self, db: Session) -> None:
        record(db, self)


def appointment_record(message: Composed, enriched: Enriched,
                       action: CustomerAction | None = None) -> AppointmentRecord | None:
    """The record of this message's appointment: None for anything but an appointment."""
    if enriched.appointment is None:
        return None
    assert isinstance(enriched.request, AppointmentRequest)
    return AppointmentRecord(enriched.appointment, enriched.request, enriched.brand.id,
                             enriched.message_id, enriched.now, message.context["appointment"], action)


def record(db: Session, change: AppointmentRecord) -> None:
    plan_, request, action = change.plan, change.request, change.action
    data = request.data
    brand, now = change.brand, change.now
    db.flush()  # anything the caller added first: the rows below follow the message's
    connection = db.connection()
    by = "customer" if action else "upstream"
    start, end = data.start.isoformat(), data.end.isoformat()
    if plan_.changed:
        _execute_or(connection, _INSERT_CHANGE, {
            "brand": brand, "appointment_id": data.appointment_id, "sequence": plan_.sequence,
            "kind": plan_.kind, "by": by, "status": plan_.status, "start": start, "end": end,
            "message_id": change.message_id, "created_at": now,
        }, AppointmentChanged(f"Appointment '{data.appointment_id}' changed while this request was "
                              "served; send it again."))
    state: dict[str, Any] = {
        "status": plan_.status, "start": start, "end": end, "timezone": data.timezone,
        "starts_at": data.start.replace(tzinfo=ZoneInfo(data.timezone)).astimezone(UTC),
        "location": data.location.model_dump(mode="json", exclude_none=True),
        "sequence": plan_.sequence,
        "slots": [{"start": s.start.isoformat(), "end": s.end.isoformat()}
                  for s in (data.reschedule.slots if data.reschedule else [])],
        "callback_url": data.reschedule.callback_url if data.reschedule else None,
        "resource": resource_of(request), "customer_id": request.recipient.customer_id,
        "message_id": change.message_id, "updated_at": now,
    }
    if plan_.changed:
        state["changed_by"] = by
        state["taken_slot"] = action.slot if action and action.slot else None
    if plan_.previous is None:
        _execute_or(connection, _INSERT, {
            "brand": brand, "appointment_id": data.appointment_id, "created_at": now, **state,
        }, AppointmentChanged(f"Appointment '{data.appointment_id}' was created by another request "
                              "meanwhile; send this one again."))
    else:
        # Only from the state this change was made on: the one read before rendering, which
        # for a customer's change must be the one their page showed. The conditional UPDATE
        # makes the database the judge: anything that changed it meanwhile wins, this loses.
        changed_meanwhile = AppointmentChanged(
            f"Appointment '{data.appointment_id}' changed while this request was served; send it again.")
        if action is not None and action.expected_sequence != plan_.previous:
            raise changed_meanwhile
        updated = connection.execute(_update(tuple(state)), {
            **state, "key_brand": brand, "key_appointment_id": data.appointment_id,
            "key_sequence": plan_.previous,
        })
        if updated.rowcount != 1:
            raise changed_meanwhile
    if plan_.changed:
        _book(connection, brand, request, action)
    connection.execute(_INSERT_MESSAGE, {
        "message_id": change.message_id, "brand": brand, "appointment_id": data.appointment_id,
        "sequence": plan_.sequence, "stage": data.stage, "view": change.view, "created_at": now,
    })


def _book(connection: Connection, brand: str, request: AppointmentRequest,
          action: CustomerAction | None) -> None:
    """Free the slot the appointment held through us; hold the one the customer took."""
    data = request.data
    connection.execute(_FREE_SLOTS, {"brand": brand, "appointment_id": data.appointment_id})
    if action is None or action.slot is None:
        return
    _execute_or(connection, _BOOK_SLOT, {
        "brand": brand, "resource": resource_of(request), "appointment_id": data.appointment_id,
        "starts_at": utc_key(action.slot["start"], data.timezone),
    }, SlotTaken("Someone else took this time a moment ago."))


def customer_records(change: AppointmentRecord) -> tuple[ActionNoted, WebhookQueued | None]:
    """What a customer's change adds to its message's transaction: the note on the message
    they acted from, and the webhook that tells upstream (None when upstream gave no URL)."""
    action = change.action
    assert action is not None
    request, plan_ = change.request, change.plan
    data = request.data
    event = {
        "appointment_id": data.appointment_id,
        "brand": change.brand,
        "reference": request.reference,
        "customer_id": request.recipient.customer_id,
        "status": plan_.status,
        "start": data.start.isoformat(),
        "end": data.end.isoformat(),
        "timezone": data.timezone,
        "sequence": plan_.sequence,
        "previous": action.previous,
        "message_id": change.message_id,
        "source_message_id": action.message_id,
        "acted_at": change.now.astimezone(UTC).isoformat().replace("+00:00", "Z"),
    }
    note = ActionNoted(action.message_id, action.kind, change.now, json.dumps(
        {"new_message_id": change.message_id, "sequence": plan_.sequence, "previous": action.previous,
         "start": event["start"], "end": event["end"], "status": plan_.status}, sort_keys=True))
    callback = data.reschedule.callback_url if data.reschedule else None
    webhook = WebhookQueued(action.message_id, change.message_id, callback, f"appointment.{action.kind}",
                            event, change.now) if callback else None
    return note, webhook


@dataclass(frozen=True)
class ActionNoted:
    """The archive's record of what the customer did, on the message they acted from."""

    message_id: str
    kind: str
    at: datetime
    detail: str

    def write(self, db: Session) -> None:
        db.add(Note(message_id=self.message_id, kind=self.kind, created_at=self.at, detail=self.detail))


@dataclass(frozen=True)
class WebhookQueued:
    """A Standard Webhooks delivery to upstream, queued with the change it tells of."""

    message_id: str
    result_message_id: str
    url: str
    event_type: str
    data: dict[str, Any]
    at: datetime

    def write(self, db: Session) -> None:
        enqueue(db, message_id=self.message_id, result_message_id=self.result_message_id,
                url=self.url, event_type=self.event_type, data=self.data, now=self.at)


def _execute_or(connection: Connection, statement: Executable, row: dict[str, Any],
                problem: Exception) -> None:
    """Insert `row`; a unique key taken meanwhile is `problem`."""
    try:
        connection.execute(statement, row)
    except IntegrityError as exc:
        raise problem from exc
