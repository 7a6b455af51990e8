"""The email as a complete .eml: built from the message's stored parts on its first fetch,
and stored then as one of its artifacts.

A render stores the email's HTML and text and its envelope (subject, from, to, date,
Message-ID and which artifacts to carry, app/channels/email.py). Building MIME with the
standard library costs ten times the HTML render, and every part of it is already stored, so
it is drawn once, when wanted: a multipart/alternative with the images as CID parts in
multipart/related, the PDF attached, and for appointments the invite as an iMIP part.
"""

from __future__ import annotations

import re
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from typing import Any

from sqlalchemy.exc import IntegrityError

from app.store import archive, artifacts, session
from app.store.models import Artifact, Message

# Headers are folded only past RFC 5322's hard limit: CPython's folder otherwise moves a long
# Subject whole onto a continuation line, which parsers read back with a leading space.
# Bodies are quoted-printable, so the message is 7-bit clean for any SMTP server.
POLICY = SMTP.clone(max_line_length=998)
EML = "email.eml"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def build_eml(envelope: dict[str, Any], message_id: str, parts: dict[str, bytes]) -> bytes:
    """The complete MIME message from the envelope and the stored parts, by artifact name."""
    mail = EmailMessage(policy=POLICY)
    mail["Subject"] = _one_line(envelope["subject"])
    mail["From"] = formataddr(_pair(envelope["from"]))
    if envelope["to"]:
        mail["To"] = formataddr(_pair(envelope["to"]))
    mail["Date"] = format_datetime(datetime.fromisoformat(envelope["date"]))
    mail["Message-ID"] = _one_line(envelope["message_id"])
    mail["Content-Language"] = _one_line(envelope["language"])
    mail["X-Touchpoint-Message"] = message_id
    for name, value in (envelope.get("headers") or {}).items():  # stored before: none
        mail[name] = _one_line(value)

    mail.set_content(parts["email.txt"].decode(), subtype="plain", charset="utf-8",
                     cte="quoted-printable")
    images: dict[str, str] = {}

    def to_cid(match: re.Match[str]) -> str:
        digest = match.group(1)
        images.setdefault(digest, f"{digest[:16]}@touchpoint")
        return f"cid:{images[digest]}"

    html = re.sub(r'https?://[^"\'\s)]+/assets/([0-9a-f]{64})\.png', to_cid, parts["email.html"].decode())
    mail.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    html_part = mail.get_payload()[-1]
    store = artifacts()
    for digest, cid in images.items():
        html_part.add_related(
            store.asset_path(digest, "png").read_bytes(), maintype="image", subtype="png",
            cid=f"<{cid}>", filename=f"{digest[:12]}.png", disposition="inline",
        )
    for carried in envelope["carries"]:
        if "method" in carried:
            # iMIP (RFC 6047): the invite as an alternative with its method, so clients offer
            # accept and decline; also attached as a file below.
            mail.add_alternative(parts[carried["artifact"]].decode(), subtype="calendar",
                                 charset="utf-8", cte="quoted-printable",
                                 params={"method": carried["method"]})
    for carried in envelope["carries"]:
        maintype, _, subtype = carried["content_type"].partition("/")
        mail.add_attachment(parts[carried["artifact"]], maintype=maintype, subtype=subtype,
                            filename=carried["filename"])
    return mail.as_bytes()


def ensure_eml(message: Message) -> Artifact | None:
    """The message's .eml, built and stored on first need; None when it has no email."""
    stored = archive.get_artifact(message.id, EML)
    if stored is not None or message.envelope is None:
        return stored
    names = ["email.txt", "email.html", *(c["artifact"] for c in message.envelope["carries"])]
    parts = {}
    for name in names:
        artifact = archive.get_artifact(message.id, name)
        if artifact is None:
            return None
        parts[name] = archive.artifact_bytes(artifact)
    data = build_eml(message.envelope, message.id, parts)
    db = session()
    archive.add_artifact(db, message.id, EML, "message/rfc822", data)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()  # another request stored it first: the same file, the same row
    return archive.get_artifact(message.id, EML)


def _one_line(value: str) -> str:
    """A header value with every control character (CR and LF above all) made a space.
    Requests are refused with them (app/schemas/common.py); this holds for messages stored
    before that rule, and for any text a template adds: a header can never end early and
    start another (`Bcc:`), and the standard library's refusal of CR and LF never becomes a
    500 on every fetch of the .eml."""
    return _CONTROL.sub(" ", value)


def _pair(pair: list[str]) -> tuple[str, str]:
    name, address = pair
    return _one_line(name), _one_line(address).replace(" ", "")
