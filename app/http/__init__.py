"""The HTTP face of the service: blueprints only. Handlers bind, validate, call, answer."""

from __future__ import annotations

import contextlib

from flask import Flask, current_app, g, request
from werkzeug.exceptions import RequestEntityTooLarge

from app import logs
from app.cpu_turn import cpu_turn
from app.http import (
    actions,
    assets,
    clicks,
    customers,
    messages,
    openapi,
    pages,
    preferences,
    preview,
    problems,
    profiles,
    render,
)
from app.http import health as health_api
from app.http import jobs as jobs_api
from app.http import metrics as metrics_api
from app.http.json_provider import OrjsonProvider


def init_app(app: Flask) -> None:
    app.json = OrjsonProvider(app)
    # One log line per request, with its id (X-Request-Id); app/logs.py.
    logs.init_app(app)
    problems.init_app(app)
    pages.init_app(app)
    # After the key's check and the rate limit (before_request functions run in the order they
    # were added; auth's are in by now): a refused call takes no turn.
    app.before_request(_take_cpu_turn)
    app.teardown_request(_give_back_cpu_turn)
    for blueprint in (render.bp, messages.bp, pages.bp, actions.bp, assets.bp, openapi.bp,
                      profiles.bp, customers.bp, clicks.bp, preferences.bp, jobs_api.bp, metrics_api.bp,
                      health_api.bp):
        app.register_blueprint(blueprint)
    # The designers' gallery: answers 404 unless in debug mode or PREVIEW_ENABLED.
    app.register_blueprint(preview.bp)


def _take_cpu_turn() -> None:
    """The process's CPU turn (app/cpu_turn.py) for a view that renders, when CPU_TURN is on."""
    view = current_app.view_functions.get(request.endpoint or "")
    if not getattr(view, "takes_cpu_turn", False) or not current_app.config["CPU_TURN"]:
        return
    # The body first, outside the turn: a slow client holds up its own thread, no other. One
    # too large is refused by the view, as without a turn.
    with contextlib.suppress(RequestEntityTooLarge):
        request.get_data(cache=True)
    cpu_turn.take()
    g.cpu_turn = True


def _give_back_cpu_turn(_error: BaseException | None) -> None:
    if g.pop("cpu_turn", False):
        cpu_turn.give_back()
