"""GET /v1/customers/{customer_id}/messages: the customer's archive, newest first, a page at a time.

Each message with its id, type, brand, locale, created, channels, reference and the actions
taken since (offer clicks, reschedules, cancellations, paid links opened: `message_events`).
`?limit=` (1 to 100, default 20) and `?cursor=` from the previous page's `next_cursor`; the
`Link` header names the next page too (RFC 8288).
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, json, request

from app.auth import caller, requires
from app.http.profiles import check_customer_id
from app.problems import InvalidRequest
from app.store import customers

bp = Blueprint("customers", __name__)

DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def _limit() -> int:
    raw = request.args.get("limit", str(DEFAULT_LIMIT))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise InvalidRequest.at("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    return int(raw)


@bp.get("/v1/customers/<path:customer_id>/messages")
@requires("messages:read")
def customer_messages(customer_id: str) -> Response:
    check_customer_id(customer_id)
    limit = _limit()
    page = customers.customer_messages(customer_id, limit, request.args.get("cursor") or None,
                                       caller().brands)
    body = {"customer_id": customer_id, "items": page.items, "next_cursor": page.next_cursor}
    response = Response(json.dumps(body), mimetype="application/json")
    response.headers["Cache-Control"] = "no-store"
    if page.next_cursor:
        query = urlencode({"limit": limit, "cursor": page.next_cursor})
        response.headers["Link"] = f'<{request.path}?{query}>; rel="next"'
    return response
