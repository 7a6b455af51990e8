"""Email: mobile-first HTML from compiled MJML, its own plain-text part, and a complete .eml.

The HTML links images at absolute, content-addressed PNG URLs (what the answer's `html`
shows and what a sender that hosts images uses); the .eml carries the same images as CID
parts in multipart/related, so it can be sent as it is by any SMTP library.

A render makes the HTML and the text, and an envelope (subject, from, to, date, Message-ID
and which artifacts to carry) stored with the message. The .eml is built from those on its
first fetch and stored then: building MIME with the standard library costs ten times the
HTML render, and every part of it is already stored, so it is drawn once, when wanted.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import datetime
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr
from typing import TYPE_CHECKING, Any

from app.channels import ChannelOutput, File, plain
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.store import archive, artifacts
from app.templating import render as render_template

if TYPE_CHECKING:
    from app.store.models import Artifact, Message

NAME = "email"
# Headers are folded only past RFC 5322's hard limit: CPython's folder otherwise moves a long
# Subject whole onto a continuation line, which parsers read back with a leading space.
# Bodies are quoted-printable, so the message is 7-bit clean for any SMTP server.
POLICY = SMTP.clone(max_line_length=998)
# Gmail clips a message whose HTML is over 102 KB (102 * 1024 bytes).
GMAIL_CLIP_BYTES = 102 * 1024
EML = "email.eml"
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def render_html(message: Composed) -> str:
    return render_template(f"email/{message.type}/email.mjml", {**message.context, "channel": "email"})


def render_text(message: Composed) -> str:
    text = plain(render_template(f"templates/{message.type}/email.txt",
                                 {**message.context, "channel": "text"}))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def envelope_for(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> dict[str, Any]:
    """Everything the .eml needs besides the stored parts, fixed at render time."""
    brand = enriched.brand
    recipient = message.context["recipient"]
    carried = []
    if "pdf" in done:
        carried.append({"artifact": "document.pdf", "content_type": "application/pdf",
                        "filename": f"{_file_name(message)}.pdf"})
    if "ics" in done:
        carried.append({"artifact": "invite.ics", "content_type": "application/ics",
                        "filename": "invite.ics", "method": done["ics"].output["method"]})
    return {
        "subject": message.subject,
        "from": [brand.name, brand.email_from],
        "to": [recipient["name"] or "", recipient["email"]] if recipient["email"] else None,
        "date": enriched.now.isoformat(),
        "message_id": f"<{enriched.message_id}@{brand.email_from.split('@')[-1]}>",
        "language": enriched.locale_tag,
        "carries": carried,
        "headers": list_headers(enriched),
    }


def list_headers(enriched: Enriched) -> dict[str, str]:
    """RFC 8058 one-click unsubscribe, exactly when the message carries personal blocks:
    `List-Unsubscribe` (the /u/<token> URL, and a mailto: when the brand names an address in
    brand.json `unsubscribe_email`) and `List-Unsubscribe-Post`."""
    if not enriched.personalisation.offers:
        return {}
    targets = [f"<{enriched.links['unsubscribe']}>"]
    if address := enriched.brand.raw.get("unsubscribe_email"):
        targets.append(f"<mailto:{address}?subject=unsubscribe>")
    return {"List-Unsubscribe": ", ".join(targets),
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}


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
    store = artifacts()
    parts = {}
    for name in names:
        artifact = archive.get_artifact(message.id, name)
        if artifact is None:
            return None
        parts[name] = store.read(artifact.path)
    data = build_eml(message.envelope, message.id, parts)
    return archive.add_artifact_once(message, EML, "message/rfc822", data)


def render(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> ChannelOutput:
    html = render_html(message)
    text = render_text(message)
    warnings = []
    size = len(html.encode())
    if size > GMAIL_CLIP_BYTES:
        warnings.append(f"email HTML is {size} bytes; Gmail clips messages over {GMAIL_CLIP_BYTES}")
    envelope = envelope_for(message, enriched, done)
    if envelope["to"] is None:
        warnings.append("the recipient has no email address; email.eml has no To header")
    urls = {"document.pdf": enriched.links["api_pdf"], "invite.ics": enriched.links["api_ics"]}
    output = {
        "subject": message.subject,
        "preheader": message.preheader,
        "html": html,
        "text": text,
        "bytes": size,
        "attachments": [{"filename": c["filename"], "content_type": c["content_type"],
                         "url": urls[c["artifact"]]} for c in envelope["carries"]],
        "eml_url": enriched.links["api_eml"],
        # The headers the .eml carries besides the envelope's: List-Unsubscribe and
        # List-Unsubscribe-Post when the message has personal blocks, else none.
        "headers": envelope["headers"],
    }
    return ChannelOutput(output, files=[
        File("email.html", "text/html; charset=utf-8", html.encode()),
        File("email.txt", "text/plain; charset=utf-8", text.encode()),
    ], warnings=warnings, envelope=envelope)


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


def _file_name(message: Composed) -> str:
    """The PDF's name in the message's language ("Factuur INV-1" -> factuur-inv-1), safe in
    any mail client and file system."""
    title = message.context.get("document_title") or message.subject
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80] or "document"
