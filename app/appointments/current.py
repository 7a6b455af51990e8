"""An appointment as it now stands, seen from one of its messages (for `/m/` and `/a/` pages)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import select

from app.appointments.models import Appointment, AppointmentMessage, SlotBooking
from app.appointments.state import utc_key
from app.store import session


@dataclass
class Current:
    appointment: Appointment
    # The message the customer opened, and the newest one about the appointment.
    opened: AppointmentMessage
    latest: AppointmentMessage | None

    @property
    def superseded(self) -> bool:
        """The appointment changed after the opened message was made."""
        return self.opened.sequence < self.appointment.sequence and self.latest is not None \
            and self.latest.message_id != self.opened.message_id

    @property
    def shown(self) -> AppointmentMessage:
        """The message whose card shows the appointment as it now stands."""
        return self.latest if self.superseded and self.latest is not None else self.opened

    @property
    def cancelled(self) -> bool:
        return self.appointment.status == "cancelled"

    def started(self, now: datetime) -> bool:
        starts_at = self.appointment.starts_at
        return (starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=UTC)) <= now


def current_for(message_id: str) -> Current | None:
    """None when the message is not about an appointment we keep."""
    db = session()
    opened = db.get(AppointmentMessage, message_id)
    if opened is None:
        return None
    appointment = db.get(Appointment, (opened.brand, opened.appointment_id), populate_existing=True)
    if appointment is None:  # pragma: no cover - written in one transaction with the message
        return None
    latest = db.get(AppointmentMessage, appointment.message_id) if appointment.message_id else None
    return Current(appointment, opened, latest)


def appointment_messages(message_id: str) -> list[str]:
    """Every message about the same appointment as `message_id`, oldest first (the invite's
    SEQUENCE, then when made); `[message_id]` for a message that is no appointment's."""
    opened = session().get(AppointmentMessage, message_id)
    if opened is None:
        return [message_id]
    return list(session().scalars(
        select(AppointmentMessage.message_id)
        .where(AppointmentMessage.brand == opened.brand,
               AppointmentMessage.appointment_id == opened.appointment_id)
        .order_by(AppointmentMessage.sequence, AppointmentMessage.created_at)
    ))


def free_slots(current: Current, now: datetime) -> list[dict[str, str]]:
    """The slots the customer may take now: offered, still ahead, not the appointment's own
    time, and not booked by another appointment of the same advisor."""
    row = current.appointment
    zone = ZoneInfo(row.timezone)
    booked = set(session().scalars(
        select(SlotBooking.starts_at).where(SlotBooking.brand == row.brand,
                                            SlotBooking.resource == row.resource,
                                            SlotBooking.appointment_id != row.appointment_id)
    ))
    free = []
    for slot in row.slots:
        starts = datetime.fromisoformat(slot["start"]).replace(tzinfo=zone)
        if starts <= now or slot["start"] == row.start or utc_key(slot["start"], row.timezone) in booked:
            continue
        free.append({"start": slot["start"], "end": slot["end"]})
    return sorted(free, key=lambda slot: slot["start"])
