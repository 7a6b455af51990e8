"""Email: mobile-first HTML from compiled MJML, its own plain-text part, and a complete .eml.

The HTML links images at absolute, content-addressed PNG URLs (what the answer's `html`
shows and what a sender that hosts images uses); the .eml carries the same images as CID
parts in multipart/related, so it can be sent as it is by any SMTP library.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, formataddr, make_msgid
from typing import TYPE_CHECKING

from app.channels import ChannelOutput, File, plain
from app.store import artifacts
from app.templating import render as render_template

if TYPE_CHECKING:
    from app.pipeline.compose import Composed
    from app.pipeline.enrich import Enriched

NAME = "email"
# Headers are folded only past RFC 5322's hard limit: CPython's folder otherwise moves a long
# Subject whole onto a continuation line, which parsers read back with a leading space.
# Bodies are quoted-printable, so the message is 7-bit clean for any SMTP server.
POLICY = SMTP.clone(max_line_length=998)
# Gmail clips a message whose HTML is over 102 KB (102 * 1024 bytes).
GMAIL_CLIP_BYTES = 102 * 1024


def render_html(message: Composed) -> str:
    return render_template(f"email/{message.type}/email.mjml", {**message.context, "channel": "email"})


def render_text(message: Composed) -> str:
    text = plain(render_template(f"templates/{message.type}/email.txt",
                                 {**message.context, "channel": "text"}))
    return re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"


def build_eml(message: Composed, enriched: Enriched, html: str, text: str,
              attachments: list[File], calendar: File | None) -> bytes:
    brand = enriched.brand
    mail = EmailMessage(policy=POLICY)
    mail["Subject"] = message.subject
    mail["From"] = formataddr((brand.name, brand.email_from))
    recipient = message.context["recipient"]
    if recipient["email"]:
        mail["To"] = formataddr((recipient["name"] or "", recipient["email"]))
    mail["Date"] = format_datetime(enriched.now)
    mail["Message-ID"] = make_msgid(idstring=enriched.message_id, domain=brand.email_from.split("@")[-1])
    mail["Content-Language"] = enriched.locale_tag
    mail["X-Touchpoint-Message"] = enriched.message_id

    mail.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    base = f"{enriched.public_base_url}/assets/"
    images: dict[str, str] = {}

    def to_cid(match: re.Match[str]) -> str:
        digest = match.group(1)
        images.setdefault(digest, make_msgid(idstring=digest[:16], domain="touchpoint")[1:-1])
        return f"cid:{images[digest]}"

    html_cid = re.sub(re.escape(base) + r"([0-9a-f]{64})\.png", to_cid, html)
    mail.add_alternative(html_cid, subtype="html", charset="utf-8", cte="quoted-printable")
    html_part = mail.get_payload()[-1]
    store = artifacts()
    for digest, cid in images.items():
        html_part.add_related(
            store.asset_path(digest, "png").read_bytes(), maintype="image", subtype="png",
            cid=f"<{cid}>", filename=f"{digest[:12]}.png", disposition="inline",
        )
    if calendar is not None:
        # iMIP (RFC 6047): the invite as an alternative with its method, so clients offer
        # accept and decline; also attached as a file below.
        method = "CANCEL" if b"METHOD:CANCEL" in calendar.data else "REQUEST"
        mail.add_alternative(calendar.data.decode(), subtype="calendar", charset="utf-8",
                             cte="quoted-printable", params={"method": method})
    for attachment in attachments:
        maintype, _, subtype = attachment.content_type.partition(";")[0].partition("/")
        mail.add_attachment(attachment.data, maintype=maintype, subtype=subtype,
                            filename=attachment.name)
    return mail.as_bytes()


def render(message: Composed, enriched: Enriched, done: dict[str, ChannelOutput]) -> ChannelOutput:
    html = render_html(message)
    text = render_text(message)
    warnings = []
    size = len(html.encode())
    if size > GMAIL_CLIP_BYTES:
        warnings.append(f"email HTML is {size} bytes; Gmail clips messages over {GMAIL_CLIP_BYTES}")
    attachments: list[File] = []
    listed = []
    if "pdf" in done:
        pdf = done["pdf"].files[0]
        name = f"{message.type}-{_document_number(message)}.pdf"
        attachments.append(File(name, "application/pdf", pdf.data))
        listed.append({"filename": name, "content_type": "application/pdf",
                       "url": enriched.links["api_pdf"]})
    calendar = done["ics"].files[0] if "ics" in done else None
    if calendar is not None:
        attachments.append(File("invite.ics", "application/ics", calendar.data))
        listed.append({"filename": "invite.ics", "content_type": "application/ics",
                       "url": enriched.links["api_ics"]})
    eml = build_eml(message, enriched, html, text, attachments, calendar)
    if not message.context["recipient"]["email"]:
        warnings.append("the recipient has no email address; email.eml has no To header")
    output = {
        "subject": message.subject,
        "preheader": message.preheader,
        "html": html,
        "text": text,
        "bytes": size,
        "attachments": listed,
        "eml_url": enriched.links["api_eml"],
    }
    return ChannelOutput(output, files=[
        File("email.html", "text/html; charset=utf-8", html.encode()),
        File("email.txt", "text/plain; charset=utf-8", text.encode()),
        File("email.eml", "message/rfc822", eml),
    ], warnings=warnings)


def _document_number(message: Composed) -> str:
    part = message.context.get(message.type) or {}
    number = str(part.get("number") or part.get("id") or "document")
    return re.sub(r"[^A-Za-z0-9._-]+", "-", number)
