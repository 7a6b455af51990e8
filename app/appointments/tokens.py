"""The signed links of `/a/<token>/reschedule` and `/a/<token>/cancel`, and their forms' CSRF tokens.

An action token names one message, sealed (opaque: app/links.py), and when it stops working
(the appointment's start: a meeting that has begun cannot be moved from a link). It is signed
with SECRET_KEY (old keys in SECRET_KEY_FALLBACKS still verify) under its own salt, so a `/m/`
token is no action token. Tampered: 404 page; expired: 410 page. Tokens sent before sealing
(`{"m": "msg_…"}` in clear) still open until WEB_LINK_MAX_AGE retires them.

The forms use the signed double-submit pattern (OWASP): the page sets a random cookie and
puts a signed token binding that cookie to this message and this action in the form. A POST
must bring both, matching; a form from another message's page, or none, is refused.
"""

from __future__ import annotations

import secrets
from datetime import UTC, datetime
from typing import Any

from flask import Request, Response, current_app

from app.links import open_sealed, seal, sign, unsign
from app.problems import Gone, NotFound, Problem

PURPOSE = "appointment"
CSRF_PURPOSE = "appointment-form"
CSRF_COOKIE = "tp_form"
CSRF_FIELD = "csrf"


class FormRefused(Problem):
    """A POST without the page's CSRF token, or with another page's."""

    status, title, slug = 403, "Form refused", "form-refused"


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


def form_cookie(request: Request) -> str:
    """The browser's form cookie, or a new one to set."""
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum() \
        else secrets.token_urlsafe(24)


def form_token(cookie: str, message_id: str, action: str) -> str:
    # Sealed too: the form is on the page, and the page shows no message id.
    return sign(CSRF_PURPOSE, _form_payload(cookie, message_id, action))


def _form_payload(cookie: str, message_id: str, action: str) -> dict[str, str]:
    return {"c": cookie, "s": seal(CSRF_PURPOSE, message_id), "a": action}


def set_form_cookie(response: Response, cookie: str) -> None:
    secure = current_app.config["PUBLIC_BASE_URL"].startswith("https://")
    response.set_cookie(CSRF_COOKIE, cookie, max_age=current_app.config["APPOINTMENT_FORM_MAX_AGE"],
                        path="/a/", secure=secure, httponly=True, samesite="Strict")


def check_form(request: Request, message_id: str, action: str) -> None:
    """Refuse a POST whose form token is missing, forged, stale, or made for another page."""
    token = request.form.get(CSRF_FIELD, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    if not token or not cookie:
        raise FormRefused("The form was sent without its security token.")
    try:
        payload: Any = unsign(CSRF_PURPOSE, token, current_app.config["APPOINTMENT_FORM_MAX_AGE"])
    except Gone as exc:
        raise FormRefused("The page was open too long.") from exc
    except NotFound as exc:
        raise FormRefused("The form's security token is not valid.") from exc
    if payload != _form_payload(cookie, message_id, action):
        raise FormRefused("The form was made for another page.")
