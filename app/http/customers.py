"""GET /v1/customers/{customer_id}/messages: the customer's archive, newest first, a page at a time;
GET /v1/customers/{customer_id}/export: everything stored about the customer, one streamed ZIP.

Each message with its id, type, brand, locale, created, channels, reference and the actions
taken since (offer clicks, reschedules, cancellations, paid links opened: `message_events`).
`?limit=` (1 to 100, default 20) and `?cursor=` from the previous page's `next_cursor`; the
`Link` header names the next page too (RFC 8288).

The export (GDPR articles 15 and 20, app/export) follows the archive's access rules: the
`messages:read` scope, and a key bound to brands gets only its brands' messages and what they
hold. The profile is in it for a key that may also read profiles (`profiles:read`). Nothing
stored (that the key may see): 404.
"""

from __future__ import annotations

from urllib.parse import urlencode

from flask import Blueprint, Response, json, request, stream_with_context

from app import export
from app.auth import caller, requires
from app.http.profiles import check_customer_id
from app.problems import InvalidRequest, NotFound
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


@bp.get("/v1/customers/<path:customer_id>/export")
@requires("messages:read")
def customer_export(customer_id: str) -> Response:
    check_customer_id(customer_id)
    who = caller()
    found = export.find(customer_id, who.brands, "profiles:read" in who.scopes)
    if found.empty:
        raise NotFound(f"Nothing is stored about customer {customer_id}.")
    response = Response(stream_with_context(export.stream(found)), mimetype="application/zip")
    response.headers["Content-Disposition"] = f'attachment; filename="{customer_id}-export.zip"'
    response.headers["Cache-Control"] = "no-store"
    return response
