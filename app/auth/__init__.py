"""Who may call the upstream API: bearer keys with scopes and brands, and a rate limit per key.

    authenticate -> before every `/v1` call and `/metrics`: `Authorization: Bearer <key>`,
                    else 401 with `WWW-Authenticate: Bearer` (nothing is read or stored)
    authorise    -> the view's scope (`@requires("render")`), else 403 naming it
    limit        -> Flask-Limiter, one window per key (RATE_LIMIT, or the key's own), else 429
    brands       -> handlers ask `may_see(brand)`: another brand's objects are simply not found

Customer-facing pages (`/m`, `/a`, `/c`, assets) carry signed tokens instead, and `/healthz`,
`/readyz` and `/openapi.json` are open.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, json, request
from flask_limiter import Limiter, RequestLimit

from app.auth import cli, keys, ratelimits
from app.auth.keys import SCOPES, Caller
from app.problems import BrandNotAllowed, Forbidden, RateLimited, Unauthorized
from app.store import session

__all__ = ["SCOPES", "Caller", "caller", "check_brand", "ensure_dev_key", "init_app", "may_see",
           "required_scope", "requires"]

F = TypeVar("F", bound=Callable[..., Any])
RECENT = "touchpoint.keys"


def requires(scope: str) -> Callable[[F], F]:
    """Declare the scope a view needs; the check itself runs before the view (`_authorise`)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope}")

    def declare(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            return view(*args, **kwargs)

        wrapper.required_scope = scope  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return declare


def required_scope(view: Callable[..., Any] | None) -> str | None:
    return getattr(view, "required_scope", None)


def caller() -> Caller:
    """The key of this request (set by `_authenticate`)."""
    return g.caller


def may_see(brand: str | None) -> bool:
    """Whether this request's key may see an object of `brand`."""
    found = g.get("caller")
    return found is None or found.may_see(brand)


def check_brand(brand: object) -> None:
    """A render for a brand the key is not bound to is refused before anything is drawn."""
    found = g.get("caller")
    if found is not None and isinstance(brand, str) and not found.may_see(brand):
        raise BrandNotAllowed(f"This key may not render for brand '{brand}'.")


def _protected() -> bool:
    """Paths that need a key, whether or not a view answers them: an unknown `/v1` path is a
    401 before it is a 404, so the API's shape is not shown to strangers."""
    return request.path.startswith("/v1/") or request.path == "/metrics"


def _authenticate() -> None:
    if not _protected():
        return
    header = request.headers.get("Authorization", "")
    scheme, _, key = header.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise Unauthorized("This call needs an API key: Authorization: Bearer <key>.")
    g.caller = _caller(key.strip())
    g.api_key_prefix = g.caller.prefix
    view = current_app.view_functions.get(request.endpoint or "")
    scope = required_scope(view)
    if view is not None and scope is None:
        # Fail closed: a /v1 view that forgot to declare its scope serves nobody.
        current_app.logger.error("%s declares no scope; refusing it", request.endpoint)
        raise Forbidden("This operation is not open to any key.")
    if scope is not None and scope not in g.caller.scopes:
        raise Forbidden(f"This key lacks the scope '{scope}'.", scope=scope)


def _caller(key: str) -> Caller:
    now = datetime.now(UTC)
    recent: keys.Recent = current_app.extensions[RECENT]
    found = recent.get(key, now)
    if found is not None:
        return found
    try:
        found = keys.authenticate(session(), key, now)
    except keys.Refused as refused:
        current_app.logger.info("refused key: %s", refused.reason)
        raise Unauthorized("The API key is unknown, revoked or expired.", invalid=True) from None
    recent.put(key, found)
    return found


# Flask-Limiter resolves these for every request, before it asks `_unlimited`.
def _rate_key() -> str:
    found = g.get("caller")
    return found.prefix if found is not None else "-"


def _rate_limit() -> str:
    found = g.get("caller")
    return (found.rate_limit if found is not None else None) or current_app.config["RATE_LIMIT"]


def _unlimited() -> bool:
    return g.get("caller") is None


def _breached(limit: RequestLimit) -> Response:
    # Whole seconds until the window lets one more in, never past the window's own length.
    retry_after = min(max(1, limit.reset_at - int(datetime.now(UTC).timestamp())),
                      limit.limit.get_expiry())
    problem = RateLimited(f"Over this key's rate limit of {limit.limit}; try again in {retry_after} s.",
                          headers={"Retry-After": str(retry_after)})
    response = Response(json.dumps(problem.as_dict()), status=429, mimetype="application/problem+json")
    response.headers.update(problem.headers)
    return response


def ensure_dev_key(app: Flask) -> tuple[Path, bool]:
    """The development key with every scope, in `<var>/dev-api-key`; made on the first start.

    Returns its path and whether it was made now. The file is readable by its owner only.
    """
    path = Path(app.config["DEV_API_KEY_FILE"])
    with app.app_context():
        db = session()
        if path.exists():
            try:
                keys.authenticate(db, path.read_text().strip(), datetime.now(UTC))
                return path, False
            except keys.Refused:
                pass  # another database, or revoked: make a new one
        _, key = keys.create(db, "development", list(SCOPES))
        db.commit()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(key + "\n")
    return path, True


def init_app(app: Flask) -> None:
    app.extensions[RECENT] = keys.Recent(app.config["AUTH_CACHE_SECONDS"])
    app.before_request(_authenticate)
    # After _authenticate (before_request functions run in the order they were added).
    limiter = Limiter(
        _rate_key, app=app, storage_uri=ratelimits.storage_uri(app.config["RATE_LIMIT_STORAGE_URI"]),
        application_limits=[_rate_limit], application_limits_exempt_when=_unlimited,
        on_breach=_breached, strategy="moving-window", key_prefix="touchpoint",
    )
    app.extensions["touchpoint.limiter"] = limiter
    app.cli.add_command(cli.keys_group)
