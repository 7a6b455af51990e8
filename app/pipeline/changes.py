"""A customer's change to an appointment (app/appointments/actions.py), rendered and committed.

Input: a `Change` (the render request with the change made, and the customer's action).
Output: the new message's id, once the message, its appointment's new state, the note on the
message acted from and the webhook to upstream are stored in one transaction.
"""

from __future__ import annotations

from app.appointments.actions import Change, settle
from app.appointments.problems import AppointmentChanged, SlotTaken
from app.appointments.state import customer_records
from app.pipeline import commit, render_message


def render_change(change: Change) -> str:
    """The `rescheduled` or `cancelled` message, stored; a race lost at commit is answered from
    the state that won (AlreadyDone, StalePage)."""
    try:
        rendered = render_message(change.document, now=change.now, action=change.action)
        assert rendered.appointment is not None  # the document is an appointment's
        answer = commit(rendered, *(record for record in customer_records(rendered.appointment)
                                    if record is not None))
    except (AppointmentChanged, SlotTaken):
        settle(change.action)
        raise
    return str(answer["id"])
