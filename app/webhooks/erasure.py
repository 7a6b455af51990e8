"""The webhook deliveries about a customer's messages, erased with them
(app/store/customers.py `erase_customer`)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete
from sqlalchemy.orm import Session

from app.store.ids import chunks
from app.webhooks.models import WebhookDelivery


def erase_customer(db: Session, customer_id: str, message_ids: Sequence[str]) -> None:
    """Deliveries about the customer's messages, or made by them (a customer's action)."""
    for chunk in chunks(message_ids):
        db.execute(delete(WebhookDelivery).where(WebhookDelivery.message_id.in_(chunk)))
        db.execute(delete(WebhookDelivery).where(WebhookDelivery.result_message_id.in_(chunk)))
