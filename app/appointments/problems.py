"""What can go wrong when an appointment changes, one class per failure (RFC 9457 on the API,
an HTML page on the customer's pages)."""

from __future__ import annotations

from app.problems import Problem


class AppointmentChanged(Problem):
    """Someone else changed the appointment while this change was being made."""

    status, title, slug = 409, "Appointment changed meanwhile", "appointment-changed"


class SlotTaken(Problem):
    status, title, slug = 409, "Slot already taken", "slot-taken"


class SlotUnavailable(Problem):
    """The slot is not one the customer was offered, or its time has passed."""

    status, title, slug = 409, "Slot not available", "slot-unavailable"


class AppointmentClosed(Problem):
    """Cancelled, already begun, or no longer in the archive: nothing to change online."""

    status, title, slug = 409, "Appointment can no longer be changed", "appointment-closed"
