"""Signed, expiring links for customers: `/m/<token>` and friends.

Tokens are itsdangerous timed signatures over the message id, salted per purpose. Keys
rotate: `SECRET_KEY` signs, and every key in `SECRET_KEY_FALLBACKS` still verifies.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from app.problems import Gone, NotFound


def _serializer(purpose: str) -> URLSafeTimedSerializer:
    config = current_app.config
    keys = [*(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]]
    return URLSafeTimedSerializer(keys, salt=f"touchpoint.{purpose}")


def sign(purpose: str, payload: dict[str, Any]) -> str:
    return _serializer(purpose).dumps(payload)


def unsign(purpose: str, token: str, max_age: int) -> dict[str, Any]:
    """The payload of a token; NotFound when tampered with, Gone when expired."""
    try:
        return _serializer(purpose).loads(token, max_age=max_age)
    except SignatureExpired as exc:
        raise Gone("This link has expired.") from exc
    except BadSignature as exc:
        raise NotFound("This link is not valid.") from exc


def _signer(purpose: str) -> TimestampSigner:
    config = current_app.config
    keys = [*(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]]
    return TimestampSigner(keys, salt=f"touchpoint.{purpose}")


def sign_id(purpose: str, value: str) -> str:
    """A short token for one id (`msg_…`): the id, a timestamp and a signature, no JSON.

    Short because it goes into SMS texts, where every character counts.
    """
    return _signer(purpose).sign(value).decode()


def unsign_id(purpose: str, token: str, max_age: int) -> str:
    try:
        return _signer(purpose).unsign(token, max_age=max_age).decode()
    except SignatureExpired as exc:
        raise Gone("This link has expired.") from exc
    except BadSignature as exc:
        raise NotFound("This link is not valid.") from exc


def absolute(path: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}{path}"


def message_links(message_id: str) -> dict[str, str]:
    """Every URL a message shows, known before anything is rendered."""
    token = sign_id("web", message_id)
    api = f"/v1/messages/{message_id}"
    return {
        "web": absolute(f"/m/{token}"),
        "pdf": absolute(f"/m/{token}/document.pdf"),
        "ics": absolute(f"/m/{token}/invite.ics"),
        "api_pdf": absolute(f"{api}/document.pdf"),
        "api_ics": absolute(f"{api}/invite.ics"),
        "api_eml": absolute(f"{api}/email.eml"),
    }
