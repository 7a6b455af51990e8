"""The links of `/p/<token>` (preference centre) and `/u/<token>` (one-click unsubscribe), and
the preference centre's CSRF tokens.

Each link names one message, sealed under a purpose of its own (opaque: app/links.py), so it
shows neither the message nor the customer, and a `/m/` or `/p/` token is no `/u/` token. The
message says who the customer is, for which brand and in which language. Tampered: 404 page;
expired (PREFERENCE_LINK_MAX_AGE): 410 page; a customer since erased has no message left: 404.

The preference centre's form, and the undo of an unsubscribe, use the signed double-submit
pattern of the appointment pages (OWASP, `SignedForms` in app/links.py): a random cookie,
and in the form a signed token binding it to this message. The one-click POST to
`/u/<token>` has neither, as RFC 8058 requires: a mail client sends it without cookies, and
the link itself is the proof.
"""

from __future__ import annotations

from flask import current_app

from app.links import SignedForms, absolute, sign_message, unsign_message
from app.problems import NotFound

PREFERENCES = "preferences"
UNSUBSCRIBE = "unsubscribe"
# The preference centre's and the undo's CSRF tokens (app/links.py).
FORMS = SignedForms(purpose="preferences-form", cookie="tp_prefs")


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
