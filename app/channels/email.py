"""Email: mobile-first HTML from compiled MJML, its own plain-text part, and an envelope.

The HTML links images at absolute, content-addressed PNG URLs (what the answer's `html`
shows and what a sender that hosts images uses).

A render makes the HTML and the text, and an envelope (subject, from, to, date, Message-ID
and which artifacts to carry) stored with the message; the complete .eml is built from
those on its first fetch (app/channels/eml.py).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

from app.channels.base import Channel, ChannelOutput, plain
from app.message.composed import Composed
from app.message.enriched import Enriched
from app.store.artifacts import File
from app.templating import render as render_template

NAME = "email"
# Gmail clips a message whose HTML is over 102 KB (102 * 1024 bytes).
GMAIL_CLIP_BYTES = 102 * 1024


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


def _file_name(message: Composed) -> str:
    """The PDF's name in the message's language ("Factuur INV-1" -> factuur-inv-1), safe in
    any mail client and file system."""
    title = message.context.get("document_title") or message.subject
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")[:80] or "document"


# Last: it attaches what the others made (the PDF, the invite).
CHANNEL = Channel(NAME, types=("appointment", "invoice", "bill"), position=1, order=90, render=render,
                  templates=("email.mjml", "email.txt"))
