"""Signed, expiring, opaque links for customers: `/m/<token>` and friends.

Tokens are itsdangerous timed signatures, salted per purpose, over the message id *sealed*:
encrypted with AES-SIV (`cryptography`) under a key derived from SECRET_KEY per purpose
(HKDF), so a link says nothing about the message it opens, and a link forwarded to someone
opens that customer page only (its token is no token of another purpose). Sealing is
deterministic: one message has one link per purpose, and a changed byte fails the signature
(404) before anything is decrypted; an expired one is a 410. Keys rotate: `SECRET_KEY` signs
and seals, and every key in `SECRET_KEY_FALLBACKS` still verifies and opens.

Links sent before sealing carry the id in clear (`msg_….<ts>.<sig>`); they are still
accepted, with their signature and age checked as before, until WEB_LINK_MAX_AGE retires
them (400 days after they were made).

The forms on those pages (reschedule, cancel, preferences, undo an unsubscribe) carry a
signed double-submit token (OWASP): `SignedForms`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import Request, Response, current_app
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer

from app.problems import Gone, NotFound, Problem


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
    return _signer_of((*(config.get("SECRET_KEY_FALLBACKS") or []), config["SECRET_KEY"]), purpose)


@lru_cache(maxsize=64)
def _signer_of(keys: tuple[str, ...], purpose: str) -> TimestampSigner:
    # A message signs three or four links: one signer per key set and purpose, made once.
    return TimestampSigner(list(keys), salt=f"touchpoint.{purpose}")


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


# --------------------------------------------------------------------------- sealed ids

# `msg_` and 26 Crockford base32 characters (app/store/ids.py): packed into 16 bytes, so a
# sealed id is short (links go into SMS texts, where every character counts).
_PACKABLE = re.compile(r"([a-z]{1,8})_([0-9a-hjkmnp-tv-z]{26})")
_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
# Crockford's digits as the ones `int(…, 32)` reads (0-9, then a-v): the same values.
_AS_BASE32 = str.maketrans(_ALPHABET, "0123456789abcdefghijklmnopqrstuv")
_PACKED, _RAW = 1, 0


@lru_cache(maxsize=64)
def _cipher(secret: str, purpose: str) -> AESSIV:
    key = HKDF(algorithm=hashes.SHA256(), length=64, salt=None,
               info=f"touchpoint.seal.{purpose}".encode()).derive(secret.encode())
    return AESSIV(key)


def _pack(message_id: str) -> bytes:
    match = _PACKABLE.fullmatch(message_id)
    if match is None or match.group(1) != "msg":
        raw = message_id.encode()
        return bytes([_RAW, len(raw)]) + raw
    value = int(match.group(2).translate(_AS_BASE32), 32)
    return bytes([_PACKED]) + value.to_bytes(17, "big")[1:]


def _unpack(data: bytes) -> tuple[str, bytes]:
    """(message id, what follows it)."""
    if data[:1] == bytes([_PACKED]) and len(data) >= 17:
        value, chars = int.from_bytes(data[1:17], "big"), []
        for _ in range(26):
            value, index = divmod(value, 32)
            chars.append(_ALPHABET[index])
        return "msg_" + "".join(reversed(chars)), data[17:]
    if data[:1] == bytes([_RAW]) and len(data) >= 2:
        end = 2 + data[1]
        return data[2:end].decode(), data[end:]
    raise ValueError("not a sealed id")


def seal(purpose: str, message_id: str, extra: str = "") -> str:
    """The message id (and `extra`) encrypted for `purpose`: URL-safe, and opaque."""
    sealed = _cipher(current_app.config["SECRET_KEY"], purpose).encrypt(
        _pack(message_id) + extra.encode(), None)
    return base64.urlsafe_b64encode(sealed).decode().rstrip("=")


def open_sealed(purpose: str, sealed: str) -> tuple[str, str]:
    """(message id, extra) of a sealed value; NotFound when it is none of ours."""
    config = current_app.config
    try:
        data = base64.urlsafe_b64decode(sealed + "=" * (-len(sealed) % 4))
    except (binascii.Error, ValueError):
        raise NotFound("This link is not valid.") from None
    for secret in (config["SECRET_KEY"], *(config.get("SECRET_KEY_FALLBACKS") or [])):
        try:
            message_id, extra = _unpack(_cipher(secret, purpose).decrypt(data, None))
            return message_id, extra.decode()
        except (InvalidTag, ValueError, UnicodeDecodeError):
            continue
    raise NotFound("This link is not valid.")


def sign_message(purpose: str, message_id: str, extra: str = "") -> str:
    """A short, opaque token for one message (and `extra`): sealed, timestamped, signed."""
    return sign_id(purpose, seal(purpose, message_id, extra))


def unsign_message(purpose: str, token: str, max_age: int, separator: str = "~") -> tuple[str, str]:
    """(message id, extra) of a token of `sign_message`, or of one sent before sealing
    (`<id><separator><extra>` in clear); NotFound when tampered with, Gone when expired."""
    value = unsign_id(purpose, token, max_age)
    try:
        return open_sealed(purpose, value)
    except NotFound:
        if not value.startswith("msg_"):  # signed by us, yet neither form: never made here
            raise
    message_id, _, extra = value.partition(separator)
    return message_id, extra


def absolute(path: str) -> str:
    return f"{current_app.config['PUBLIC_BASE_URL']}{path}"


SHORT_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def short_code(message_id: str) -> str:
    """The message's short SMS link code: 12 letters and digits (71 bits) of an HMAC of its id
    under the secret key, so no one can guess another message's from their own, and the
    archive can store it without being told (`archive.add_message`). No `-` or `_`: a phone
    that links the URL in a text could leave one at the end out of the link."""
    digest = hmac.new(current_app.config["SECRET_KEY"].encode(), f"touchpoint.short:{message_id}".encode(),
                      hashlib.sha256).digest()
    number, code = int.from_bytes(digest[:16]), []
    for _ in range(12):
        number, digit = divmod(number, len(SHORT_ALPHABET))
        code.append(SHORT_ALPHABET[digit])
    return "".join(code)


def message_links(message_id: str) -> dict[str, str]:
    """Every URL a message shows, known before anything is rendered."""
    token = sign_message("web", message_id)
    api = f"/v1/messages/{message_id}"
    return {
        "web": absolute(f"/m/{token}"),
        # The hosted page again, behind a code a dozen characters long, for the SMS: a signed
        # link of about ninety characters would make a typical text two segments (twice the price).
        "short": absolute(f"/s/{short_code(message_id)}"),
        # The customer's preference centre and one-click unsubscribe (app/preferences): the
        # message sealed under purposes of their own, so its customer and brand stay unsaid.
        "preferences": absolute(f"/p/{sign_message('preferences', message_id)}"),
        "unsubscribe": absolute(f"/u/{sign_message('unsubscribe', message_id)}"),
        "pdf": absolute(f"/m/{token}/document.pdf"),
        "ics": absolute(f"/m/{token}/invite.ics"),
        "api_pdf": absolute(f"{api}/document.pdf"),
        "api_ics": absolute(f"{api}/invite.ics"),
        "api_eml": absolute(f"{api}/email.eml"),
    }


# --------------------------------------------------------------------------- forms

CSRF_FIELD = "csrf"


class FormRefused(Problem):
    """A POST of a customer page's form without its CSRF token, or with another page's."""

    status, title, slug = 403, "Form refused", "form-refused"


@dataclass(frozen=True)
class SignedForms:
    """Signed double-submit CSRF tokens for the forms of one kind of customer page: a random
    cookie (`cookie`), and in the form a token signed under `purpose` that binds the cookie to
    the message (sealed: the page shows no message id) and to the form's `action`. Tokens and
    cookies live APPOINTMENT_FORM_MAX_AGE seconds."""

    purpose: str
    cookie: str

    def cookie_of(self, request: Request) -> str:
        """The browser's form cookie, or a new one to set."""
        value = request.cookies.get(self.cookie, "")
        return value if 20 <= len(value) <= 64 and value.replace("-", "").replace("_", "").isalnum() \
            else secrets.token_urlsafe(24)

    def token(self, cookie: str, message_id: str, action: str = "") -> str:
        return sign(self.purpose, self._payload(cookie, message_id, action))

    def _payload(self, cookie: str, message_id: str, action: str) -> dict[str, str]:
        return {"c": cookie, "s": seal(self.purpose, message_id), "a": action}

    def set_cookie(self, response: Response, cookie: str, path: str) -> None:
        """The form cookie, for the pages' own path (`/a/`, `/p/`, `/u/`)."""
        secure = current_app.config["PUBLIC_BASE_URL"].startswith("https://")
        response.set_cookie(self.cookie, cookie, max_age=current_app.config["APPOINTMENT_FORM_MAX_AGE"],
                            path=path, secure=secure, httponly=True, samesite="Strict")

    def check(self, request: Request, message_id: str, action: str = "") -> None:
        """Refuse a POST whose form token is missing, forged, stale, or made for another page."""
        token = request.form.get(CSRF_FIELD, "")
        cookie = request.cookies.get(self.cookie, "")
        if not token or not cookie:
            raise FormRefused("The form was sent without its security token.")
        try:
            payload: Any = unsign(self.purpose, token, current_app.config["APPOINTMENT_FORM_MAX_AGE"])
        except Gone as exc:
            raise FormRefused("The page was open too long.") from exc
        except NotFound as exc:
            raise FormRefused("The form's security token is not valid.") from exc
        if payload != self._payload(cookie, message_id, action):
            raise FormRefused("The form was made for another page.")
