"""What a customer receives and why, and their changes to it: read, compared, written, told.

A page (`/p/<token>`, `/u/<token>`) opens from one message: the message names the customer,
the brand and the language. What the page shows is the stored profile (what the next render
reads); a message whose recipient was given inline only shows that message's fields.

A change is written in one transaction: the profile (only if nobody wrote it since it was
read; otherwise read again and redone), an audit entry (`preference_changes`: what changed,
when, from which message, how), a note on the message (its activity), and the Standard
Webhooks event `profile.preferences_changed` on the durable outbox, for upstream's CRM, the
source of truth. A change that changes nothing writes nothing.

What the customer controls, per brand:
- `suggestions`: the personal blocks in this brand's messages (off: `preferences.unsubscribed`
  holds the moment, for this brand; the engine then keeps every block out, traced
  `unsubscribed:<date>`). One-click unsubscribe switches it off.
- `marketing`: their consent to promotions (`consents.marketing`).
- `topics`: each topic of the brand's catalogue (`preferences.topics_off`).
- `channels`: where upstream may reach them (`preferences.channels`; absent: every channel).
Invoices, bills and appointment changes are always sent: they are not a preference.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import current_app

from app.brands import Brand
from app.problems import NotFound, Problem
from app.store import archive, customers, session
from app.store.models import Note, PreferenceChange
from app.webhooks import delivery

EVENT = "profile.preferences_changed"
# The channels a customer may choose for what is not transactional.
CHANNELS = ("email", "sms")
SOURCES = ("preference_centre", "one_click", "undo")
ATTEMPTS = 20


class ChangeConflict(Problem):
    """The profile changed under every attempt to write the customer's change."""

    status, title, slug = 409, "Profile busy", "profile-busy"


@dataclass(frozen=True)
class Subject:
    """Whose preferences a page shows: from the message its link names."""

    message_id: str
    customer_id: str | None
    brand: Brand
    locale: str
    reference: str | None
    inline: dict[str, Any]  # the message's inline recipient fields


@dataclass(frozen=True)
class State:
    """What the customer receives from this brand, as the page shows it."""

    suggestions: bool
    unsubscribed_on: str | None
    marketing: bool
    topics_off: frozenset[str]
    channels: tuple[str, ...] | None  # None: every channel


def subject_of(message_id: str) -> Subject:
    message = archive.get_message(message_id)
    if message is None:  # purged, or its customer erased
        raise NotFound("This message no longer exists.")
    recipient = dict((message.request or {}).get("recipient") or {})
    brand = current_app.extensions["touchpoint.brands"].get(message.brand)
    return Subject(message.id, message.customer_id, brand, message.locale, message.reference,
                   {key: value for key, value in recipient.items() if key != "customer_id"})


def profile_of(subject: Subject) -> tuple[dict[str, Any], str | None]:
    """(the profile the page shows, its ETag; None when none is stored): the stored one, else
    the message's inline fields."""
    if subject.customer_id:
        stored = customers.get_profile(subject.customer_id)
        if stored is not None:
            return dict(stored.data), stored.etag
    return copy.deepcopy(subject.inline), None


def _writable(subject: Subject) -> tuple[dict[str, Any], str | None]:
    """(what a change starts from, its ETag): the stored profile; for a customer without one,
    nothing (a change stores only the preferences, never the message's inline fields); for a
    message without a customer, its inline fields (nothing is stored then)."""
    if not subject.customer_id:
        return copy.deepcopy(subject.inline), None
    stored = customers.get_profile(subject.customer_id)
    return (dict(stored.data), stored.etag) if stored is not None else ({}, None)


def state_of(profile: dict[str, Any], brand: str) -> State:
    preferences = profile.get("preferences") or {}
    unsubscribed = (preferences.get("unsubscribed") or {}).get(brand)
    channels = preferences.get("channels")
    return State(
        suggestions=unsubscribed is None,
        unsubscribed_on=unsubscribed,
        marketing=(profile.get("consents") or {}).get("marketing") is True,
        topics_off=frozenset(preferences.get("topics_off") or ()),
        channels=tuple(channels) if channels is not None else None,
    )


# --------------------------------------------------------------------------- changes


def from_form(brand: Brand, form: Any, now: datetime) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """The preference centre's form as a change of the profile. Unchecked boxes are not sent:
    what the form does not name is off. Topics of other brands' catalogues stay as they were."""
    suggestions = form.get("suggestions") == "on"
    marketing = form.get("marketing") == "on"
    topics_on = set(form.getlist("topic")) & set(brand.offers.topic_list)
    channels = [channel for channel in CHANNELS if channel in form.getlist("channel")]

    def change(profile: dict[str, Any]) -> dict[str, Any]:
        profile = set_suggestions(brand.id, suggestions, now)(profile)
        consents = profile.get("consents") or {}
        if marketing or consents.get("marketing") is True:  # unknown stays unknown when left off
            profile["consents"] = {**consents, "marketing": marketing}
        preferences = profile["preferences"]
        kept = set(preferences.get("topics_off") or ()) - set(brand.offers.topic_list)
        preferences["topics_off"] = sorted(kept | (set(brand.offers.topic_list) - topics_on))
        before = preferences.get("channels")
        # Every channel ticked where none was chosen before: still none chosen (all).
        if not (before is None and channels == list(CHANNELS)):
            preferences["channels"] = channels
        return profile

    return change


def set_suggestions(brand: str, on: bool, now: datetime) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """Switch the brand's personal blocks on or off (off keeps the first moment it was)."""

    def change(profile: dict[str, Any]) -> dict[str, Any]:
        profile = copy.deepcopy(profile)
        preferences = profile.setdefault("preferences", {})
        unsubscribed = dict(preferences.get("unsubscribed") or {})
        if on:
            unsubscribed.pop(brand, None)
        else:
            unsubscribed.setdefault(brand, _iso(now))
        if unsubscribed:
            preferences["unsubscribed"] = unsubscribed
        else:
            preferences.pop("unsubscribed", None)
        return profile

    return change


def differences(before: dict[str, Any], after: dict[str, Any], brand: str) -> dict[str, Any]:
    """What changed, by field: {"consents.marketing": {"from": true, "to": false}, …}."""
    old, new = state_of(before, brand), state_of(after, brand)
    found: dict[str, Any] = {}
    if old.unsubscribed_on != new.unsubscribed_on:
        found[f"preferences.unsubscribed.{brand}"] = {"from": old.unsubscribed_on, "to": new.unsubscribed_on}
    if (before.get("consents") or {}).get("marketing") != (after.get("consents") or {}).get("marketing"):
        found["consents.marketing"] = {"from": (before.get("consents") or {}).get("marketing"),
                                       "to": new.marketing}
    if old.topics_off != new.topics_off:
        found["preferences.topics_off"] = {"from": sorted(old.topics_off), "to": sorted(new.topics_off)}
    if old.channels != new.channels:
        found["preferences.channels"] = {"from": list(old.channels) if old.channels is not None else None,
                                         "to": list(new.channels) if new.channels is not None else None}
    return found


def apply(subject: Subject, change: Callable[[dict[str, Any]], dict[str, Any]], source: str,
          now: datetime) -> dict[str, Any]:
    """Write the customer's change with its audit, note and webhook; answer what changed
    (empty: nothing did, and nothing was written)."""
    assert source in SOURCES
    for _ in range(ATTEMPTS):
        before, etag = _writable(subject)
        session().rollback()  # the read is done: the write is a transaction of its own
        after = change(before)
        changed = differences(before, after, subject.brand.id)
        if not changed:
            return {}
        _records(subject, after, changed, source, now)
        if not subject.customer_id:  # nothing stored to change: the audit and upstream hear of it
            session().commit()
            return changed
        if customers.write_profile_with(subject.customer_id, after, etag):
            return changed
    raise ChangeConflict("The profile changes too often to save this change; try again.")


def _records(subject: Subject, after: dict[str, Any], changed: dict[str, Any], source: str,
             now: datetime) -> None:
    """The rows of the change's transaction, added to the session (committed with the profile)."""
    db = session()
    db.add(PreferenceChange(customer_id=subject.customer_id, brand=subject.brand.id,
                            message_id=subject.message_id, source=source, changes=changed,
                            created_at=now))
    db.add(Note(message_id=subject.message_id, kind="preferences_changed",
                detail=json.dumps({"source": source, "changes": changed}, sort_keys=True),
                created_at=now))
    url = subject.brand.raw.get("profile_webhook_url") or current_app.config["PROFILE_WEBHOOK_URL"]
    if url:
        delivery.enqueue(db, message_id=subject.message_id, result_message_id=None, url=url,
                         event_type=EVENT, data=event_data(subject, after, changed, source, now),
                         now=now)


def event_data(subject: Subject, after: dict[str, Any], changed: dict[str, Any], source: str,
               now: datetime) -> dict[str, Any]:
    state = state_of(after, subject.brand.id)
    return {
        "customer_id": subject.customer_id,
        "brand": subject.brand.id,
        "reference": subject.reference,
        "source": source,
        "source_message_id": subject.message_id,
        "changes": changed,
        "preferences": {
            "suggestions": state.suggestions,
            "unsubscribed_at": state.unsubscribed_on,
            "marketing": state.marketing,
            "topics_off": sorted(state.topics_off),
            "channels": list(state.channels) if state.channels is not None else None,
        },
        "changed_at": _iso(now),
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
