"""Helpers for the webhook tests (and the preference tests that watch upstream): the secret,
an app configured to deliver to 127.0.0.1, a customer's reschedule, the deliveries made, and a
signature checked by hand."""

from __future__ import annotations

import base64
import hashlib
import hmac
import random
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from app.webhooks.delivery import Report, deliver_due
from app.webhooks.models import WebhookDelivery
from tests.appointments.helpers import actions, appointment, open_form, render, share_templates, submit
from tests.conftest import Received

SECRET = "whsec_" + base64.b64encode(b"a 32-byte key for webhook tests!").decode()


def configure(app: Flask) -> Flask:
    app.config.update(WEBHOOK_SECRET=SECRET, WEBHOOK_ALLOW_HTTP=True, OUTBOUND_ALLOW_HOSTS=["127.0.0.1"])
    return share_templates(app)


def customer_reschedules(client: FlaskClient, callback_url: str) -> dict[str, Any]:
    """A customer moves an appointment whose upstream listens at `callback_url`."""
    document = appointment()
    document["data"]["reschedule"]["callback_url"] = callback_url
    answer = render(client, document)
    form = open_form(client, actions(answer)["reschedule"]["url"])
    assert submit(client, form, slot=form.slots[-1]).status_code == 303
    return answer


def deliveries(app: Flask) -> list[WebhookDelivery]:
    with app.extensions["touchpoint.db"]() as db:
        return list(db.query(WebhookDelivery).order_by(WebhookDelivery.created_at).all())


def deliver(app: Flask, now: datetime | None = None, seed: int = 7) -> Report:
    with app.app_context():
        return deliver_due(now, rng=random.Random(seed))


def signature_holds(received: Received, secret: str = SECRET) -> bool:
    """Standard Webhooks, by hand: v1 = base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{received.headers['webhook-id']}.{received.headers['webhook-timestamp']}.".encode()
    expected = base64.b64encode(hmac.new(key, signed + received.body, hashlib.sha256).digest()).decode()
    offered = received.headers["webhook-signature"].split(" ")
    return any(hmac.compare_digest(sig, f"v1,{expected}") for sig in offered)
