"""Stage 3b, draw: the pictures a composed message shows, as content-addressed PNGs.

Input: the Composed message (its context says what to draw) and the channels asked for.
Output: the same context with `{url, width, height, alt}` filled in where a picture goes:
- `payment.qr`: the EPC069-12 SEPA QR code (email, web page, PDF payment slip);
- `bill.chart.png`: the consumption chart at 2x, for email only (web and PDF draw SVG);
- `bill.tips_qr`: a QR code of the tips link, for the PDF and the web page.

Each picture is drawn once per content and kept (app/visuals/drawn.py): a message that
shows pictures already drawn costs a look-up, not a drawing. A picture that cannot be
drawn is left out with a warning; the message still goes out, with its text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from qrcode.exceptions import DataOverflowError

from app.pipeline.compose import Composed
from app.pipeline.enrich import Enriched
from app.store.artifacts import ArtifactStore
from app.visuals.charts import HEIGHT, WIDTH, chart_png
from app.visuals.drawn import Drawn
from app.visuals.qr import QR_SHOWN, qr_png

log = logging.getLogger(__name__)


def draw(message: Composed, enriched: Enriched, store: ArtifactStore) -> None:
    context, base = message.context, enriched.public_base_url
    channels = set(enriched.channels)

    def picture(what: str, make: Callable[[], Drawn], alt: str, width: int, height: int) -> Any:
        try:
            return make().view(base, alt, width, height)
        except (OSError, ValueError, DataOverflowError) as exc:
            log.warning("could not draw the %s: %s", what, exc)
            message.warnings.append(f"could not draw the {what}; the message goes out without it")
            return None

    payment = context.get("payment")
    if payment and payment.get("epc_qr_payload") and channels & {"email", "web", "pdf"}:
        payload = payment["epc_qr_payload"]
        payment["qr"] = picture("payment QR code", lambda: qr_png(payload, store), payment["qr_alt"],
                                QR_SHOWN, QR_SHOWN)
    bill = context.get("bill")
    if not bill:
        return
    chart = bill["chart"]
    if chart and "email" in channels:
        chart["png"] = picture("consumption chart", lambda: chart_png(chart["spec"], store), chart["alt"],
                               WIDTH, HEIGHT)
    if bill["tips_url"] and channels & {"web", "pdf"}:
        url = bill["tips_url"]
        bill["tips_qr"] = picture("tips QR code", lambda: qr_png(url, store),
                                  enriched.fmt.gettext("QR code of %(url)s", url=url), QR_SHOWN, QR_SHOWN)
