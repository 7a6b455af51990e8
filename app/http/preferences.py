"""The customer's preference centre (`/p/<token>`) and one-click unsubscribe (`/u/<token>`).

Handlers bind, check, call app/preferences and answer HTML. A tampered link answers the 404
page, an expired one the 410 page (app/http/pages.py), as every customer link does.

- `GET /p/<token>`: what the customer receives from the brand and why; a form (CSRF: signed
  double submit). `POST` saves it and shows the page again with "saved" (200).
- `POST /u/<token>` with `List-Unsubscribe=One-Click` (RFC 8058): the brand's personal blocks
  off, with no cookie and no CSRF token (a mail client sends it blind; the signed link is the
  proof); a second POST changes nothing; 200 either way. The same URL with `undo` and the
  page's CSRF token switches them on again.
- `GET /u/<token>`: a page, and never a change (link scanners fetch URLs): unsubscribed, it
  says since when and offers the undo; otherwise it asks, with a button that POSTs the above.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, request

from app import webhooks
from app.http.actions import PAGE_HEADERS
from app.links import FormRefused
from app.preferences import centre, pages
from app.preferences.tokens import FORMS, PREFERENCES, UNSUBSCRIBE, preferences_url, read_token
from app.templating import render

bp = Blueprint("preferences", __name__)

ONE_CLICK = ("List-Unsubscribe", "One-Click")


def now() -> datetime:
    """The clock of these pages (tests move it)."""
    return datetime.now(UTC)


def _page(template: str, context: dict[str, Any], cookie: str | None, path: str,
          status: int = 200) -> Response:
    response = Response(render(f"templates/pages/{template}.html", context), status=status,
                        mimetype="text/html")
    response.headers.update(PAGE_HEADERS)
    if cookie is not None:
        FORMS.set_cookie(response, cookie, path)
    return response


def _form(action: str, message_id: str) -> tuple[dict[str, str], str]:
    cookie = FORMS.cookie_of(request)
    return {"action": action, "csrf": FORMS.token(cookie, message_id)}, cookie


def _centre(token: str, message_id: str, subject: centre.Subject, notice: str | None = None,
            status: int = 200) -> Response:
    profile, _ = centre.profile_of(subject)
    form, cookie = _form(f"/p/{token}", message_id)
    context = pages.preferences_context(subject, centre.state_of(profile, subject.brand.id), form, notice)
    return _page("preferences", context, cookie, "/p/", status)


@bp.get("/p/<token>")
def preferences_page(token: str) -> Response:
    message_id = read_token(PREFERENCES, token)
    return _centre(token, message_id, centre.subject_of(message_id))


@bp.post("/p/<token>")
def preferences_submit(token: str) -> Response:
    message_id = read_token(PREFERENCES, token)
    subject = centre.subject_of(message_id)
    try:
        FORMS.check(request, message_id)
    except FormRefused:
        return _centre(token, message_id, subject, notice="refused", status=403)
    changed = centre.apply(subject, centre.from_form(subject.brand, request.form, now()),
                           "preference_centre", now())
    if changed:
        webhooks.wake()
    return _centre(token, message_id, subject, notice="saved" if changed else "unchanged")


def _unsubscribe_page(token: str, message_id: str, subject: centre.Subject, done: bool = False,
                      status: int = 200) -> Response:
    profile, _ = centre.profile_of(subject)
    form, cookie = _form(f"/u/{token}", message_id)
    context = pages.unsubscribe_context(subject, centre.state_of(profile, subject.brand.id), form,
                                        preferences_url=preferences_url(message_id), done=done)
    return _page("unsubscribe", context, cookie, "/u/", status)


@bp.get("/u/<token>")
def unsubscribe_page(token: str) -> Response:
    message_id = read_token(UNSUBSCRIBE, token)
    return _unsubscribe_page(token, message_id, centre.subject_of(message_id))


@bp.post("/u/<token>")
def unsubscribe_submit(token: str) -> Response:
    message_id = read_token(UNSUBSCRIBE, token)
    subject = centre.subject_of(message_id)
    if request.form.get("undo"):
        # Switching suggestions on again is a page's form, not a mail client's one click.
        try:
            FORMS.check(request, message_id)
        except FormRefused:
            return _unsubscribe_page(token, message_id, subject, status=403)
        changed = centre.apply(subject, centre.set_suggestions(subject.brand.id, True, now()), "undo", now())
        if changed:
            webhooks.wake()
        return _unsubscribe_page(token, message_id, subject, done=True)
    if request.form.get(ONE_CLICK[0]) != ONE_CLICK[1]:
        return _unsubscribe_page(token, message_id, subject, status=400)
    # RFC 8058: no cookie, no CSRF token; idempotent (a second POST changes nothing).
    changed = centre.apply(subject, centre.set_suggestions(subject.brand.id, False, now()),
                           "one_click", now())
    if changed:
        webhooks.wake()
    return _unsubscribe_page(token, message_id, subject, done=True)
