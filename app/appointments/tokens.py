"""The signed links of `/a/<token>/reschedule` and `/a/<token>/cancel`, and their forms' CSRF tokens.

An action token names one message, sealed (opaque: app/links.py), and when it stops working
(the appointment's start: a meeting that has begun cannot be moved from a link). It is signed
with SECRET_KEY (old keys in SECRET_KEY_FALLBACKS still verify) under its own salt, so a `/m/`
token is no action token. Tampered: 404 page; expired: 410 page. Tokens sent before sealing
(`{"m": "msg_…"}` in clear) still open until WEB_LINK_MAX_AGE retires them.

The forms use the signed double-submit pattern (OWASP, `SignedForms` in app/links.py): the
page sets a random cookie and puts a signed token binding that cookie to this message and
this action in the form. A POST must bring both, matching; a form from another message's
page, or none, is refused.
"""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app

from app.links import SignedForms, open_sealed, seal, sign, unsign
from app.problems import Gone, NotFound

PURPOSE = "appointment"
# The reschedule and cancel forms' CSRF tokens (app/links.py).
FORMS = SignedForms(purpose="appointment-form", cookie="tp_form")


def action_token(message_id: str, expires_at: datetime) -> str:
    return sign(PURPOSE, {"s": seal(PURPOSE, message_id), "e": int(expires_at.timestamp())})


def read_action_token(token: str, now: datetime | None = None) -> str:
    """The message id an action token names; NotFound when tampered with, Gone when expired."""
    payload = unsign(PURPOSE, token, current_app.config["WEB_LINK_MAX_AGE"])
    if not isinstance(payload, dict) or not isinstance(payload.get("e"), int):
        raise NotFound("This link is not valid.")
    if isinstance(payload.get("s"), str):
        message_id, _ = open_sealed(PURPOSE, payload["s"])
    elif isinstance(payload.get("m"), str):  # sent before sealing
        message_id = payload["m"]
    else:
        raise NotFound("This link is not valid.")
    if (now or datetime.now(UTC)).timestamp() >= payload["e"]:
        raise Gone("This link has expired.")
    return message_id
