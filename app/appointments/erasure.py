"""A customer's appointments erased with them (app/store/customers.py `erase_customer`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select, tuple_
from sqlalchemy.orm import Session

from app.appointments.models import Appointment, AppointmentChange, AppointmentMessage, SlotBooking
from app.store.ids import chunks


def erase_customer(db: Session, customer_id: str, message_ids: Sequence[str]) -> None:
    """The customer's appointments (their state, history, booked slots and the views of them)
    and the views of any appointment from the customer's messages."""
    held = [tuple(row) for row in db.execute(select(Appointment.brand, Appointment.appointment_id)
                                             .where(Appointment.customer_id == customer_id))]
    for keys in chunks(held):
        for table in (AppointmentChange, AppointmentMessage, SlotBooking, Appointment):
            db.execute(delete(table).where(tuple_(table.brand, table.appointment_id).in_(keys)))
    for chunk in chunks(message_ids):
        db.execute(delete(AppointmentMessage).where(AppointmentMessage.message_id.in_(chunk)))
