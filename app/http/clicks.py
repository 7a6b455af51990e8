"""`/c/<token>`: a tracked offer link. Records the click on the message, then redirects.

The token signs the message id and the offer id. The destination is the offer's URL as the
brand's catalogue says now (the brand's website if the offer was since removed): never a URL
from the request, so this is no open redirect. Only GET records a click: a HEAD from a link
checker does not count. A tampered link answers the 404 page, an expired one the 410 page.
"""

from __future__ import annotations

from flask import Blueprint, Response, current_app, redirect, request

from app.http.pages import error_page
from app.personalise.links import read_offer_token
from app.problems import Gone, NotFound
from app.store import customers

bp = Blueprint("clicks", __name__)

CLICKED = "offer_clicked"


def _language() -> str:
    return request.accept_languages.best_match(["en", "nl", "fr", "de"]) or "en"


@bp.get("/c/<token>")
def offer_click(token: str) -> Response:
    try:
        message_id, offer_id = read_offer_token(token, current_app.config["WEB_LINK_MAX_AGE"])
    except (NotFound, Gone) as problem:
        return error_page(problem.status, _language())
    brand_id = customers.message_brand(message_id)
    if brand_id is None:  # erased since
        return error_page(404, _language())
    brand = current_app.extensions["touchpoint.brands"].get(brand_id)
    offer = brand.offers.by_id.get(offer_id)
    destination = offer.url if offer is not None else brand.website
    if not destination:
        return error_page(404, _language())
    if request.method == "GET":
        customers.record_event(message_id, CLICKED, {"offer": offer_id})
    response = redirect(destination, code=302)
    response.headers["Cache-Control"] = "no-store"
    # The token stays here: the offer's site does not learn which message it came from.
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
