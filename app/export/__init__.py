"""Subject access and portability (GDPR articles 15 and 20): everything stored about one
customer, as one ZIP, streamed (`GET /v1/customers/{customer_id}/export`).

    README.txt               what each file holds, in the customer's language
    profile.json             the profile as stored (absent for a key that may not read profiles)
    messages/<id>/message.json   the message's row: the request as accepted, the answer
                                 document (its personalisation trace included), the envelope,
                                 and its artifacts' rows
    messages/<id>/<artifact>     every stored file of the message (email, page, PDF, invite, …)
    actions.json             what the customer did after each message: offer clicks,
                             reschedules, cancellations, preference changes (`message_events`)
    personalisation.json     each message's decision: the blocks shown with why, and every
                             other candidate with the rule that kept it out
    preference_changes.json  the audit of the customer's preference changes
    offers_shown.json, appointments.json, webhooks.json, job_items.json: the other rows that
                             name the customer (frequency caps, appointments with their history
                             and booked slots, events sent upstream about them, job inputs)

Rows are written as stored, column by column (an action's detail as the object it holds,
as the archive and `/activity` show it). A key bound to brands gets only what its brands'
messages hold, as in the archive. Nothing is built in memory: the standard library's zipfile
writes into a pipe that a generator empties after every entry and every chunk of a file
(an unseekable stream, so zipfile writes data descriptors), and rows are read a message at a
time. No third-party streaming-ZIP library is needed for that.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import LargeBinary, or_, select, tuple_

from app.appointments.models import Appointment, AppointmentChange, AppointmentMessage, SlotBooking
from app.i18n import Formatter, parse_locale
from app.jobs.models import JobItem
from app.store import session
from app.store.archive import answer_of, artifact_source
from app.store.customers import note_detail
from app.store.models import Artifact, Message, Note, OfferShown, PreferenceChange, Profile
from app.webhooks.models import WebhookDelivery

CHUNK = 64 * 1024
ID_CHUNK = 500


@dataclass(frozen=True)
class Export:
    """What one export holds, found before the first byte is sent (so a 404 is still possible)."""

    customer_id: str
    brands: frozenset[str] | None
    with_profile: bool
    profile: dict[str, Any] | None
    message_ids: list[str]
    language: str

    @property
    def empty(self) -> bool:
        return self.profile is None and not self.message_ids


def find(customer_id: str, brands: frozenset[str] | None, with_profile: bool) -> Export:
    db = session()
    profile_row = db.get(Profile, customer_id) if with_profile else None
    query = select(Message.id, Message.locale).where(Message.customer_id == customer_id) \
        .order_by(Message.created_at, Message.id)
    if brands is not None:
        query = query.where(Message.brand.in_(sorted(brands)))
    rows = list(db.execute(query))
    profile = _row(profile_row) if profile_row is not None else None
    tag = (profile_row.data.get("locale") if profile_row is not None else None) or \
          (rows[-1].locale if rows else None) or "en"
    language = (parse_locale(tag) or parse_locale("en")).language  # type: ignore[union-attr]
    return Export(customer_id, brands, with_profile, profile, [row.id for row in rows], language)


class _Pipe(io.RawIOBase):
    """An unseekable sink: what zipfile writes waits here until the generator takes it."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def stream(export: Export) -> Iterator[bytes]:
    """The ZIP's bytes, a piece at a time."""
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, mode="w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("README.txt", readme(export.language, export.with_profile))
        yield pipe.take()
        if export.profile is not None:
            archive.writestr("profile.json", _json(export.profile))
            yield pipe.take()
        for message_id in export.message_ids:
            yield from _message(archive, pipe, message_id)
        for name, rows in _tables(export):
            archive.writestr(name, _json(rows))
            yield pipe.take()
    yield pipe.take()


def _message(archive: zipfile.ZipFile, pipe: _Pipe, message_id: str) -> Iterator[bytes]:
    db = session()
    message = db.get(Message, message_id)
    if message is None:  # erased or purged since the export began
        return
    stored = db.scalars(select(Artifact).where(Artifact.message_id == message_id)
                        .order_by(Artifact.name)).all()
    # The message's row, with its answer whole (as GET /v1/messages/{id} gives it) and its
    # artifacts' rows (name, type, size, SHA-256 of each file).
    row = {**_row(message), "document": answer_of(message),
           "artifacts": [_row(artifact) for artifact in stored]}
    archive.writestr(f"messages/{message_id}/message.json", _json(row))
    yield pipe.take()
    for artifact in stored:
        where = artifact_source(artifact)
        if isinstance(where, Path) and not where.is_file():
            continue
        with (where.open("rb") if isinstance(where, Path) else io.BytesIO(where)) as source, \
                archive.open(f"messages/{message_id}/{artifact.name}", "w") as target:
            while chunk := source.read(CHUNK):
                target.write(chunk)
                yield pipe.take()
        yield pipe.take()
    db.expunge_all()  # one message's rows at a time in memory


def _tables(export: Export) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    db = session()
    ids = export.message_ids
    brands = sorted(export.brands) if export.brands is not None else None

    def by_messages(model: Any, column: Any, row: Callable[[Any], dict[str, Any]] = _row
                    ) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start:start + ID_CHUNK]
            found += [row(r) for r in db.scalars(select(model).where(column.in_(chunk)))]
        return found

    yield "actions.json", sorted(by_messages(Note, Note.message_id, _action_row),
                                 key=lambda r: (r["created_at"], r["id"]))
    yield "personalisation.json", _decisions(ids)
    changes = select(PreferenceChange).where(PreferenceChange.customer_id == export.customer_id)
    if brands is not None:
        changes = changes.where(PreferenceChange.brand.in_(brands))
    yield "preference_changes.json", [_row(r) for r in db.scalars(changes.order_by(PreferenceChange.id))]
    shown = select(OfferShown).where(OfferShown.customer_id == export.customer_id)
    if brands is not None:
        shown = shown.where(OfferShown.brand.in_(brands))
    yield "offers_shown.json", [_row(r) for r in db.scalars(shown.order_by(OfferShown.shown_at))]
    yield "appointments.json", _appointments(export.customer_id, brands)
    yield "webhooks.json", by_messages(WebhookDelivery, WebhookDelivery.message_id)
    items = select(JobItem).where(JobItem.message_id.in_(ids)) if ids else None
    if brands is None:
        recipient = JobItem.request[("recipient", "customer_id")].as_string()
        items = select(JobItem).where(or_(recipient == export.customer_id,
                                          *([JobItem.message_id.in_(ids)] if ids else [])))
    job_items = [_row(r) for r in db.scalars(items)] if items is not None else []
    yield "job_items.json", job_items


def _decisions(message_ids: list[str]) -> list[dict[str, Any]]:
    db = session()
    found = []
    for start in range(0, len(message_ids), ID_CHUNK):
        rows = db.execute(select(Message.id, Message.brand, Message.created_at, Message.document)
                          .where(Message.id.in_(message_ids[start:start + ID_CHUNK])))
        for row in rows:
            trace = (row.document or {}).get("personalisation") or {"blocks": [], "suppressed": []}
            found.append({"message_id": row.id, "brand": row.brand, "created_at": _plain(row.created_at),
                          **trace})
    return sorted(found, key=lambda decision: decision["created_at"])


def _appointments(customer_id: str, brands: list[str] | None) -> list[dict[str, Any]]:
    db = session()
    query = select(Appointment).where(Appointment.customer_id == customer_id)
    if brands is not None:
        query = query.where(Appointment.brand.in_(brands))
    found = []
    for appointment in db.scalars(query):
        key = (appointment.brand, appointment.appointment_id)

        def of(model: Any, key: tuple[str, str] = key) -> list[dict[str, Any]]:
            return [_row(r) for r in db.scalars(select(model).where(
                tuple_(model.brand, model.appointment_id) == key))]

        found.append({**_row(appointment), "changes": of(AppointmentChange),
                      "messages": of(AppointmentMessage), "booked_slots": of(SlotBooking)})
    return found


def _row(row: Any) -> dict[str, Any]:
    """A stored row, column by column, as stored; bytes are left out (an artifact's, kept in its
    row, are the file beside it in the ZIP)."""
    return {column.name: _plain(getattr(row, column.key)) for column in row.__mapper__.columns
            if not isinstance(column.type, LargeBinary)}


def _action_row(note: Note) -> dict[str, Any]:
    return {**_row(note), "detail": note_detail(note)}


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, indent=2, sort_keys=True, default=_plain) + "\n"


def readme(language: str, with_profile: bool) -> str:
    fmt = Formatter(parse_locale(language) or parse_locale("en"))  # type: ignore[arg-type]
    files = [
        ("profile.json", fmt.gettext("Your profile: your details, consents and preferences.")),
        ("messages/", fmt.gettext("Every message we made for you, each in a folder with its files "
                                  "(email, web page, PDF, calendar invite, text message).")),
        ("actions.json", fmt.gettext("What you did after a message: links opened, appointments "
                                     "moved or cancelled, preferences changed.")),
        ("personalisation.json", fmt.gettext("For each message, the suggestions we showed you and "
                                             "why, and the ones we left out and why.")),
        ("preference_changes.json", fmt.gettext("Every change to what you receive: what, when and "
                                                "from which message.")),
        ("offers_shown.json", fmt.gettext("Which suggestions you saw and when, so that we do not "
                                          "show them too often.")),
        ("appointments.json", fmt.gettext("Your appointments, with their history.")),
        ("webhooks.json", fmt.gettext("What we told the company about your actions.")),
        ("job_items.json", fmt.gettext("The requests that made your messages in bulk.")),
    ]
    lines: list[str] = [
        fmt.gettext("Your data"), "",
        fmt.gettext("This archive holds everything we store about you, as we store it."), "",
    ]
    lines += [f"{name}: {text}" for name, text in files if with_profile or name != "profile.json"]
    lines += ["", fmt.gettext("The files are JSON, a format any computer can read, so you can take "
                              "your data elsewhere.")]
    return "\n".join(lines) + "\n"
