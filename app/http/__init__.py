"""The HTTP face of the service: blueprints only. Handlers bind, validate, call, answer."""

from __future__ import annotations

from flask import Flask

from app import logs
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
    for blueprint in (render.bp, messages.bp, pages.bp, actions.bp, assets.bp, openapi.bp,
                      profiles.bp, customers.bp, clicks.bp, preferences.bp, jobs_api.bp, metrics_api.bp,
                      health_api.bp):
        app.register_blueprint(blueprint)
    # The designers' gallery: answers 404 unless in debug mode or PREVIEW_ENABLED.
    app.register_blueprint(preview.bp)
