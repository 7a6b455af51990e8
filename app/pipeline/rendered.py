"""The value a render ends with: everything `commit` stores, made before anything is stored.

`render_message` returns it; nothing in it has been written yet. `commit` (commit.py) takes
it, with the records its caller names, into one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy.orm import Session

from app import logs
from app.appointments.state import AppointmentRecord
from app.channels import ChannelOutput
from app.store.artifacts import File
from app.visuals.drawn import Asset


class Record(Protocol):
    """Something stored in a message's transaction, written after the message row."""

    def write(self, db: Session) -> None: ...


@dataclass(frozen=True)
class Rendered:
    message_id: str
    # The request as it came (stored with the message, for a customer's later change).
    request: Any
    # The answer document (CONTRACT.md): what the caller answers and GET /v1/messages gives.
    answer: dict[str, Any]
    customer_id: str | None
    brand: str
    # Each channel's output, with the files to store as the message's artifacts.
    outputs: dict[str, ChannelOutput]
    # An appointment's new state (app/appointments/state.py), None for other types.
    appointment: AppointmentRecord | None
    # The milliseconds of each stage so far; commit adds its own and logs the line.
    clock: logs.Stopwatch
    # Pictures drawn for it and not stored yet (app/visuals/drawn.py): commit stores them first.
    assets: tuple[Asset, ...] = ()

    @property
    def records(self) -> tuple[Record, ...]:
        """What the message itself brings into its transaction, written before the caller's."""
        return (self.appointment,) if self.appointment is not None else ()

    @property
    def files(self) -> list[File]:
        """Every channel's files: the message's artifacts."""
        return [file for output in self.outputs.values() for file in output.files]

    @property
    def envelope(self) -> dict[str, Any] | None:
        """The email's envelope, stored with the message for its .eml; None without an email."""
        return self.outputs["email"].envelope if "email" in self.outputs else None
