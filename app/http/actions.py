"""The customer's reschedule and cancel pages (`/a/<token>/...`), and what was done per message.

Handlers bind, check, call app/appointments and answer. A POST that changes something
redirects (303) to the new message's web page: the confirmation, with the new invite.
A double submit redirects there too; a stale page, a slot just taken or a passed time
shows the page again, as it now stands, with a notice (409).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, json, redirect, request

from app import webhooks
from app.appointments import actions, pages
from app.appointments.current import Current, appointment_messages
from app.appointments.problems import AppointmentClosed, SlotTaken, SlotUnavailable
from app.appointments.tokens import FORMS, read_action_token
from app.auth import requires
from app.http.messages import visible_message
from app.links import FormRefused, absolute, message_links
from app.pipeline.changes import render_change
from app.store import customers, session
from app.templating import render
from app.webhooks import delivery

bp = Blueprint("appointment_actions", __name__)

# Pages with a form: not stored, not framed, no referrer (the token is in the URL).
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; img-src 'self' https: data:; "
                               "style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
                               "frame-ancestors 'none'",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}


def now() -> datetime:
    """The clock of these pages (tests move it)."""
    return datetime.now(UTC)


def _page(template: str, context: dict[str, Any], status: int = 200, cookie: str | None = None) -> Response:
    response = Response(render(f"templates/pages/{template}.html", context), status=status,
                        mimetype="text/html")
    response.headers.update(PAGE_HEADERS)
    if cookie is not None:
        FORMS.set_cookie(response, cookie, "/a/")
    return response


def _form(token: str, action: str, message_id: str, current: Current) -> tuple[dict[str, str], str]:
    cookie = FORMS.cookie_of(request)
    return {"action": f"/a/{token}/{action}", "csrf": FORMS.token(cookie, message_id, action),
            "sequence": str(current.appointment.sequence)}, cookie


def _show(token: str, action: str, message_id: str, current: Current, *, notice: str | None = None,
          chosen: str | None = None, status: int = 200) -> Response:
    at = now()
    if current.cancelled:
        return _page("closed", pages.closed_context(current, "cancelled"), status)
    if current.started(at):
        return _page("closed", pages.closed_context(current, "begun"), status)
    if not current.appointment.callback_url or current.appointment.message_id is None:
        return _page("closed", pages.closed_context(current, "offline"), status)
    form, cookie = _form(token, action, message_id, current)
    if action == "reschedule":
        context = pages.reschedule_context(current, at, form, notice, chosen)
    else:
        context = pages.cancel_context(current, form, notice)
    return _page(action, context, status, cookie)


def _redirect_to_message(message_id: str) -> Response:
    return redirect(message_links(message_id)["web"], 303)  # type: ignore[return-value]


def _refused(token: str, action: str, current: Current) -> Response:
    context = pages.base_context(current)
    context.pop("_locale")
    context["retry_url"] = absolute(f"/a/{token}/{action}")
    return _page("refused", context, 403)


def _sequence() -> int:
    value = request.form.get("sequence", "")
    return int(value) if value.isdigit() else -1


@bp.get("/a/<token>/reschedule")
def reschedule_page(token: str) -> Response:
    message_id = read_action_token(token, now())
    return _show(token, "reschedule", message_id, actions.load(message_id))


@bp.post("/a/<token>/reschedule")
def reschedule_submit(token: str) -> Response:
    message_id = read_action_token(token, now())
    current = actions.load(message_id)
    try:
        FORMS.check(request, message_id, "reschedule")
    except FormRefused:
        return _refused(token, "reschedule", current)
    slot = request.form.get("slot", "")
    if not slot:
        return _show(token, "reschedule", message_id, current, notice="choose", status=422)
    try:
        new_message = render_change(actions.reschedule(message_id, slot, _sequence(), now()))
    except actions.AlreadyDone as done:
        return _redirect_to_message(done.message_id)
    except actions.StalePage as stale:
        return _show(token, "reschedule", message_id, stale.current, notice="stale", status=409)
    except SlotTaken:
        return _show(token, "reschedule", message_id, actions.load(message_id), notice="taken", status=409)
    except SlotUnavailable:
        return _show(token, "reschedule", message_id, actions.load(message_id), notice="unavailable",
                     status=409)
    except AppointmentClosed:
        return _show(token, "reschedule", message_id, actions.load(message_id), status=409)
    webhooks.wake()
    return _redirect_to_message(new_message)


@bp.get("/a/<token>/cancel")
def cancel_page(token: str) -> Response:
    message_id = read_action_token(token, now())
    return _show(token, "cancel", message_id, actions.load(message_id))


@bp.post("/a/<token>/cancel")
def cancel_submit(token: str) -> Response:
    message_id = read_action_token(token, now())
    current = actions.load(message_id)
    try:
        FORMS.check(request, message_id, "cancel")
    except FormRefused:
        return _refused(token, "cancel", current)
    try:
        new_message = render_change(actions.cancel(message_id, _sequence(), now()))
    except actions.AlreadyDone as done:
        return _redirect_to_message(done.message_id)
    except actions.StalePage as stale:
        return _show(token, "cancel", message_id, stale.current, notice="stale", status=409)
    except AppointmentClosed:
        return _show(token, "cancel", message_id, actions.load(message_id), status=409)
    webhooks.wake()
    return _redirect_to_message(new_message)


@bp.get("/v1/messages/<message_id>/activity")
@requires("messages:read")
def activity(message_id: str) -> Response:
    """What happened after the message was made: the customer's actions and the webhooks.
    For an appointment, those of every message about it (all of its brand, as the message is):
    its whole history, from whichever of its messages is asked."""
    visible_message(message_id)
    messages = appointment_messages(message_id)
    body = {
        "id": message_id,
        "messages": messages,
        "actions": customers.message_notes(messages),
        "webhooks": delivery.deliveries_of(session(), messages),
    }
    return Response(json.dumps(body), mimetype="application/json")
