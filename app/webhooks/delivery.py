"""Queue a webhook in the caller's transaction; deliver what is due, retrying with backoff.

`enqueue` adds a row to the outbox and nothing else: the caller's commit makes it real.
`deliver_due` leases due rows one by one (a conditional UPDATE, so two runners, threads or
processes never send one row at once), POSTs each, and records the outcome: delivered on a
2xx; otherwise the next attempt after an exponential backoff with jitter, until
WEBHOOK_MAX_ATTEMPTS, then `failed`. A 410 Gone from the receiver means "stop": failed at once.
"""

from __future__ import annotations

import http.client
import json
import logging
import random
import ssl
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask import current_app
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from app import outbound
from app.store.ids import new_id
from app.webhooks import signing
from app.webhooks.models import WebhookDelivery

log = logging.getLogger(__name__)

# A lease longer than any attempt can take (the timeout), so a live runner never loses it.
LEASE = timedelta(minutes=5)
USER_AGENT = "Touchpoint-Webhooks/1"


def enqueue(db: Session, *, message_id: str, result_message_id: str | None, url: str,
            event_type: str, data: dict[str, Any], now: datetime) -> WebhookDelivery:
    payload = json.dumps({"type": event_type, "timestamp": _iso(now), "data": data},
                         ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    delivery = WebhookDelivery(
        id=new_id("evt"), message_id=message_id, result_message_id=result_message_id,
        event_type=event_type, url=url, payload=payload, status="pending", attempts=0,
        next_attempt_at=now, created_at=now,
    )
    db.add(delivery)
    return delivery


def backoff(attempts: int, rng: random.Random | None = None) -> timedelta:
    """The wait after `attempts` failed attempts: base * 2^(n-1), capped, with "equal jitter"
    (half fixed, half random), so retries of many events never arrive in step."""
    config = current_app.config
    ceiling = min(config["WEBHOOK_RETRY_MAX"], config["WEBHOOK_RETRY_BASE"] * 2 ** max(attempts - 1, 0))
    return timedelta(seconds=ceiling / 2 + (rng or random).uniform(0, ceiling / 2))


@dataclass
class Report:
    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    @property
    def attempted(self) -> int:
        return len(self.delivered) + len(self.retrying) + len(self.failed)


def deliver_due(now: datetime | None = None, *, limit: int = 100,
                rng: random.Random | None = None) -> Report:
    """Send every delivery due at `now` (default: the clock), up to `limit`."""
    report = Report()
    maker = current_app.extensions["touchpoint.db"]
    with maker() as db:
        at = now or datetime.now(UTC)
        due = db.scalars(
            select(WebhookDelivery.id)
            .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= at,
                   or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < at))
            .order_by(WebhookDelivery.next_attempt_at).limit(limit)
        ).all()
        db.commit()
        for delivery_id in due:
            at = now or datetime.now(UTC)
            if _lease(db, delivery_id, at):
                _attempt(db, delivery_id, at, rng, report)
    return report


def _lease(db: Session, delivery_id: str, at: datetime) -> bool:
    leased = db.execute(
        update(WebhookDelivery)
        .where(WebhookDelivery.id == delivery_id, WebhookDelivery.status == "pending",
               or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < at))
        .values(locked_until=at + LEASE, attempts=WebhookDelivery.attempts + 1)
    )
    db.commit()
    return leased.rowcount == 1  # type: ignore[attr-defined]


def _attempt(db: Session, delivery_id: str, at: datetime, rng: random.Random | None,
             report: Report) -> None:
    delivery = db.get(WebhookDelivery, delivery_id, populate_existing=True)
    assert delivery is not None
    status, error, retry_after = post(delivery.url, delivery.id, delivery.payload, at)
    delivery.last_status_code = status
    delivery.last_error = error[:500] if error else None
    delivery.locked_until = None
    if status is not None and 200 <= status < 300:
        delivery.status = "delivered"
        delivery.delivered_at = at
        report.delivered.append(delivery.id)
    elif status == 410 or delivery.attempts >= current_app.config["WEBHOOK_MAX_ATTEMPTS"]:
        delivery.status = "failed"
        report.failed.append(delivery.id)
        log.warning("webhook %s to %s failed for good after %d attempts: %s",
                    delivery.id, delivery.url, delivery.attempts, error or status)
    else:
        wait = max(backoff(delivery.attempts, rng), timedelta(seconds=retry_after or 0))
        delivery.next_attempt_at = at + wait
        report.retrying.append(delivery.id)
    db.commit()


def post(url: str, webhook_id: str, payload: str, at: datetime) -> tuple[int | None, str | None, int | None]:
    """One attempt: (HTTP status or None, what went wrong or None, Retry-After seconds or None).

    What went wrong is said in generic words ('connection failed', 'TLS failed', 'HTTP 503'),
    since callers read it in `/activity`: the detail (refused, timed out, which address)
    would tell them which ports of which hosts are open. The log keeps the detail. A redirect
    is an answer, not a place to send the event: http.client follows none, so it counts as a
    failed attempt."""
    body = payload.encode()
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
               **signing.headers(webhook_id, payload, at)}
    try:
        connection = outbound.connect(url, current_app.config["WEBHOOK_TIMEOUT"])
    except outbound.AddressRefused as exc:
        log.warning("webhook %s to %s refused: %s", webhook_id, url, exc)
        return None, "address not allowed", None
    except (OSError, UnicodeError, ValueError) as exc:
        log.warning("webhook %s to %s: %s: %s", webhook_id, url, type(exc).__name__, exc)
        return None, "connection failed", None
    try:
        return _exchange(connection, url, body, headers)
    except ssl.SSLError as exc:
        log.warning("webhook %s to %s: TLS: %s", webhook_id, url, exc)
        return None, "TLS failed", None
    except (OSError, http.client.HTTPException, ValueError) as exc:
        log.warning("webhook %s to %s: %s: %s", webhook_id, url, type(exc).__name__, exc)
        return None, "connection failed", None
    finally:
        connection.close()


def _exchange(connection: http.client.HTTPConnection, url: str, body: bytes,
              headers: dict[str, str]) -> tuple[int, str | None, int | None]:
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection.request("POST", target, body=body, headers=headers)
    response = connection.getresponse()
    response.read(65536)
    if 200 <= response.status < 300:
        return response.status, None, None
    retry_after = response.headers.get("Retry-After", "")
    return response.status, f"HTTP {response.status}", int(retry_after) if retry_after.isdigit() else None


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def aware(value: datetime | None) -> datetime | None:
    """SQLite hands back naive datetimes; they were written in UTC."""
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def view(delivery: WebhookDelivery) -> dict[str, Any]:
    """A delivery as `GET /v1/messages/{id}/activity` shows it."""
    return {
        "id": delivery.id,
        "type": delivery.event_type,
        "url": delivery.url,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error,
        "next_attempt_at": _iso(aware(delivery.next_attempt_at)) if delivery.status == "pending" else None,  # type: ignore[arg-type]
        "delivered_at": _iso(aware(delivery.delivered_at)) if delivery.delivered_at else None,  # type: ignore[arg-type]
        "created_at": _iso(aware(delivery.created_at)),  # type: ignore[arg-type]
        "message_id": delivery.message_id,
        "result_message_id": delivery.result_message_id,
    }


def deliveries_of(db: Session, message_ids: Sequence[str]) -> list[dict[str, Any]]:
    """The webhooks about the messages `message_ids` or that made one of them (a reschedule's
    new message), oldest first, each as `view` shows it."""
    deliveries = db.scalars(
        select(WebhookDelivery)
        .where(or_(WebhookDelivery.message_id.in_(message_ids),
                   WebhookDelivery.result_message_id.in_(message_ids)))
        .order_by(WebhookDelivery.created_at, WebhookDelivery.id)
    )
    return [view(delivery) for delivery in deliveries]
