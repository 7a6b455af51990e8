"""The customer moves or cancels an appointment: checked here, then rendered and stored.

    check      -> the appointment is open, the page is not stale, the slot is free
    document   -> the newest render request of the appointment, with the change made: a
                  `Change` value (`reschedule`, `cancel`)
    render     -> app/pipeline/changes.py: the `rescheduled` or `cancelled` message (same UID,
                  SEQUENCE + 1), with its appointment's new state and booked slot, committed
                  with the note on the message acted from and the webhook to upstream
                  (`customer_records`, app/appointments/state.py)
    answer     -> the new message's id, for the confirmation page (its web page); a race
                  lost at commit is answered from the state that won (`settle`)

The checks give the customer a clear answer early; the database decides for real (a unique
SEQUENCE per appointment, a unique booking per slot, a conditional update of the state), so
a double submit or a race between two customers can never book twice.
A double submit of the same choice is not an error: it answers the change already made.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from app.appointments.current import Current, current_for, free_slots
from app.appointments.problems import AppointmentChanged, AppointmentClosed, SlotTaken, SlotUnavailable
from app.appointments.state import CustomerAction
from app.problems import NotFound
from app.store import archive


class AlreadyDone(Exception):
    """The change asked for is the state already (a double submit): show it, change nothing."""

    def __init__(self, message_id: str) -> None:
        super().__init__(message_id)
        self.message_id = message_id


class StalePage(AppointmentChanged):
    """The page was made before the appointment changed; it carries the state as it now is."""

    def __init__(self, current: Current) -> None:
        super().__init__("The appointment changed after this page was opened.")
        self.current = current


@dataclass(frozen=True)
class Change:
    """A customer's change, ready to render: the render request with the change made, and the
    action its appointment's record carries."""

    document: dict[str, Any]
    action: CustomerAction
    now: datetime


def load(message_id: str) -> Current:
    current = current_for(message_id)
    if current is None:
        raise NotFound("This message is not about an appointment that can be changed.")
    return current


def reschedule(message_id: str, slot_start: str, expected_sequence: int, now: datetime) -> Change:
    """Move the appointment to the offered slot starting at `slot_start`: the change to render."""
    current = load(message_id)
    row = current.appointment
    _check_open(current, now, done_if_cancelled=False)
    _check_fresh(current, expected_sequence,
                 same_intent=row.start == slot_start and row.changed_by == "customer")
    offered = {slot["start"]: slot for slot in row.slots}
    if slot_start not in offered:
        raise SlotUnavailable("This time is not one of the times offered.")
    slot = offered[slot_start]
    if slot not in free_slots(current, now):
        if datetime.fromisoformat(slot_start).replace(tzinfo=ZoneInfo(row.timezone)) <= now:
            raise SlotUnavailable("This time has passed.")
        raise SlotTaken("Someone else took this time a moment ago.")
    action = CustomerAction("rescheduled", message_id, expected_sequence,
                            {"start": row.start, "end": row.end, "status": row.status}, dict(slot))

    def change(data: dict[str, Any]) -> None:
        data["stage"] = "rescheduled"
        data["start"], data["end"] = slot["start"], slot["end"]

    return _change(current, action, change, now, keep_slot=slot_start)


def cancel(message_id: str, expected_sequence: int, now: datetime) -> Change:
    """Cancel the appointment: the change to render."""
    current = load(message_id)
    row = current.appointment
    _check_open(current, now, done_if_cancelled=True)
    _check_fresh(current, expected_sequence, same_intent=False)
    action = CustomerAction("cancelled", message_id, expected_sequence,
                            {"start": row.start, "end": row.end, "status": row.status})

    def change(data: dict[str, Any]) -> None:
        data["stage"] = "cancelled"

    return _change(current, action, change, now)


def _check_open(current: Current, now: datetime, done_if_cancelled: bool) -> None:
    row = current.appointment
    if current.cancelled:
        if done_if_cancelled and row.message_id:
            raise AlreadyDone(row.message_id)
        raise AppointmentClosed("This appointment is cancelled.")
    if current.started(now):
        raise AppointmentClosed("This appointment has begun; it can no longer be changed online.")
    if row.message_id is None:
        raise AppointmentClosed("This appointment is no longer in our records.")
    if not row.callback_url:
        # Upstream's newest request gave nowhere to tell it: a change would go unheard.
        raise AppointmentClosed("This appointment can no longer be changed online.")


def _check_fresh(current: Current, expected_sequence: int, same_intent: bool) -> None:
    row = current.appointment
    if expected_sequence == row.sequence:
        return
    if same_intent and row.message_id:
        raise AlreadyDone(row.message_id)
    raise StalePage(current)


def _change(current: Current, action: CustomerAction, change: Any, now: datetime,
            keep_slot: str | None = None) -> Change:
    """The change made to the newest request about the appointment."""
    row = current.appointment
    source = archive.get_message(row.message_id) if row.message_id else None
    if source is None:
        raise AppointmentClosed("This appointment is no longer in our records.")
    document = copy.deepcopy(source.request)
    data = document["data"]
    change(data)
    data["sequence"] = row.sequence + 1
    if data.get("reschedule") is not None:
        # What is still on offer: ahead of the new time's render, less the slot just taken.
        data["reschedule"]["slots"] = [s for s in free_slots(current, now) if s["start"] != keep_slot]
    if document.get("channels"):
        # The confirmation page is the new message's web page, with the new invite.
        asked = document["channels"]
        document["channels"] = [*asked, *(name for name in ("web", "ics") if name not in asked)]
    return Change(document, action, now)


def settle(action: CustomerAction) -> None:
    """After a race the checks could not see was lost at commit (AppointmentChanged, SlotTaken):
    AlreadyDone when the state that won is what the customer asked for, else StalePage. Returns
    (the caller raises what it caught) when the appointment did not change meanwhile."""
    fresh = load(action.message_id)
    if fresh.appointment.sequence == action.expected_sequence:
        return
    won = fresh.appointment
    if won.message_id and (
        (action.kind == "cancelled" and fresh.cancelled)
        or (action.slot is not None and won.start == action.slot["start"] and not fresh.cancelled)
    ):
        raise AlreadyDone(won.message_id) from None
    raise StalePage(fresh) from None
