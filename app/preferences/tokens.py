"""The links of `/p/<token>` (preference centre) and `/u/<token>` (one-click unsubscribe), and
the preference centre's CSRF tokens.

Each link names one message, sealed under a purpose of its own (opaque: app/links.py), so it
shows neither the message nor the customer, and a `/m/` or `/p/` token is no `/u/` token. The
message says who the customer is, for which brand and in which language. Tampered: 404 page;
expired (PREFERENCE_LINK_MAX_AGE): 410 page; a customer since erased has no message left: 404.

The preference centre's form, and the undo of an unsubscribe, use the signed double-submit
pattern of the appointment pages (OWASP): a random cookie, and in the form a signed token
binding it to this message. The
one-click POST to `/u/<token>` has neither, as RFC 8058 requires: a mail client sends it
without cookies, and the link itself is the proof.
"""

from __future__ import annotations

import secrets
from typing import Any

from flask import Request, Response, current_app

from app.links import absolute, seal, sign, sign_message, unsign, unsign_message
from app.problems import Gone, NotFound, Problem

PREFERENCES = "preferences"
UNSUBSCRIBE = "unsubscribe"
CSRF_PURPOSE = "preferences-form"
CSRF_COOKIE = "tp_prefs"
CSRF_FIELD = "csrf"


class FormRefused(Problem):
    """A POST of the preference centre without its CSRF token, or with another page's."""

    status, title, slug = 403, "Form refused", "form-refused"


def preferences_url(message_id: str) -> str:
    return absolute(f"/p/{sign_message(PREFERENCES, message_id)}")


def unsubscribe_url(message_id: str) -> str:
    return absolute(f"/u/{sign_message(UNSUBSCRIBE, message_id)}")


def read_token(purpose: str, token: str) -> str:
    """The message id a `/p/` or `/u/` token names; NotFound when tampered, Gone when expired."""
    message_id, extra = unsign_message(purpose, token, current_app.config["PREFERENCE_LINK_MAX_AGE"])
    if extra or not message_id.startswith("msg_"):
        raise NotFound("This link is not valid.")
    return message_id


def form_cookie(request: Request) -> str:
    """The browser's form cookie, or a new one to set."""
    value = request.cookies.get(CSRF_COOKIE, "")
    return value if 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum() \
        else secrets.token_urlsafe(24)


def _payload(cookie: str, message_id: str) -> dict[str, str]:
    # Sealed: the form is on the page, and the page shows no message id.
    return {"c": cookie, "s": seal(CSRF_PURPOSE, message_id)}


def form_token(cookie: str, message_id: str) -> str:
    return sign(CSRF_PURPOSE, _payload(cookie, message_id))


def set_form_cookie(response: Response, cookie: str, path: str) -> None:
    """The form cookie, for the page's own path (`/p/` or `/u/`)."""
    secure = current_app.config["PUBLIC_BASE_URL"].startswith("https://")
    response.set_cookie(CSRF_COOKIE, cookie, max_age=current_app.config["APPOINTMENT_FORM_MAX_AGE"],
                        path=path, secure=secure, httponly=True, samesite="Strict")


def check_form(request: Request, message_id: str) -> None:
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
    if payload != _payload(cookie, message_id):
        raise FormRefused("The form was made for another page.")
