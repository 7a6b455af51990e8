"""Stage 6, draw: the pictures a composed message shows, as content-addressed PNGs.

Input: the Composed message (its context says what to draw) and the channels asked for.
Output: a new Composed message whose context has `{url, width, height, alt}` where a picture
goes (the message it was given is not changed):
- `payment.qr`: the EPC069-12 SEPA QR code (email, web page, PDF payment slip);
- `bill.chart.png`: the consumption chart at 2x, for email; `bill.chart.svg` and
  `bill.chart.svg_print`: the same chart as inline SVG markup, for the web page and the PDF;
- `bill.tips_qr`: a QR code of the tips link, for the PDF and the web page;
- `appointment.change.reschedule_qr`: a QR code of the reschedule link, for the PDF (a printed
  letter cannot be clicked).

Each picture is drawn once per content and kept (app/visuals/drawn.py): a message that
shows pictures already drawn costs a look-up, not a drawing. A new drawing is not written
here: it travels in the message's `assets`, and commit stores it. A picture that cannot be
drawn is left out with a warning; the message still goes out, with its text.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from markupsafe import Markup
from qrcode.exceptions import DataOverflowError

from app.message.composed import Composed
from app.message.enriched import Enriched
from app.store.artifacts import ArtifactStore
from app.visuals.charts import HEIGHT, PRINT, SCREEN, WIDTH, chart_drawing, chart_svg
from app.visuals.drawn import Asset, Drawn
from app.visuals.qr import QR_SHOWN, qr_drawing

log = logging.getLogger(__name__)


def draw(message: Composed, enriched: Enriched, store: ArtifactStore) -> Composed:
    """The message with its pictures in its context; `message` itself is left as it was."""
    context, base = dict(message.context), enriched.public_base_url
    channels = set(enriched.channels)
    warnings = list(message.warnings)

    assets: list[Asset] = []

    def picture(what: str, make: Callable[[], tuple[Drawn, Asset | None]], alt: str,
                width: int, height: int) -> Any:
        try:
            drawn, asset = make()
        except (OSError, ValueError, DataOverflowError) as exc:
            log.warning("could not draw the %s: %s", what, exc)
            warnings.append(f"could not draw the {what}; the message goes out without it")
            return None
        if asset is not None and asset not in assets:
            assets.append(asset)
        return drawn.view(base, alt, width, height)

    payment = context.get("payment")
    if payment and payment.get("epc_qr_payload") and channels & {"email", "web", "pdf"}:
        payload = payment["epc_qr_payload"]
        context["payment"] = {**payment, "qr": picture("payment QR code", lambda: qr_drawing(payload, store),
                                                       payment["qr_alt"], QR_SHOWN, QR_SHOWN)}
    bill = context.get("bill")
    if bill:
        context["bill"] = _bill_pictures(bill, channels, picture, enriched, store)
    change = (context.get("appointment") or {}).get("change")
    if change and change["reschedule_url"] and "pdf" in channels:
        url = change["reschedule_url"]
        qr = picture("reschedule QR code", lambda: qr_drawing(url, store),
                     enriched.fmt.gettext("QR code of the page where you choose another time"),
                     QR_SHOWN, QR_SHOWN)
        context["appointment"] = {**context["appointment"], "change": {**change, "reschedule_qr": qr}}
    return replace(message, context=context, warnings=warnings, assets=(*message.assets, *assets))


def _bill_pictures(bill: dict[str, Any], channels: set[str], picture: Callable[..., Any],
                   enriched: Enriched, store: ArtifactStore) -> dict[str, Any]:
    bill = dict(bill)
    chart = bill["chart"]
    if chart:
        # Each drawing only for a channel that shows it: an email-only bill draws no SVG.
        chart = {**chart}
        if "email" in channels:
            chart["png"] = picture("consumption chart", lambda: chart_drawing(chart["spec"], store),
                                   chart["alt"], WIDTH, HEIGHT)
        if "web" in channels:
            chart["svg"] = Markup(chart_svg(chart["spec"], SCREEN))
        if "pdf" in channels:
            chart["svg_print"] = Markup(chart_svg(chart["spec"], PRINT))
        bill["chart"] = chart
    if bill["tips_url"] and channels & {"web", "pdf"}:
        url = bill["tips_url"]
        bill["tips_qr"] = picture("tips QR code", lambda: qr_drawing(url, store),
                                  enriched.fmt.gettext("QR code of %(url)s", url=url), QR_SHOWN, QR_SHOWN)
    return bill
