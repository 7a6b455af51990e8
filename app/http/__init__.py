"""The HTTP face of the service: blueprints only. Handlers bind, validate, call, answer."""

from __future__ import annotations

from flask import Flask

from app.http import assets, messages, openapi, pages, problems, render


def init_app(app: Flask) -> None:
    problems.init_app(app)
    pages.init_app(app)
    for blueprint in (render.bp, messages.bp, pages.bp, assets.bp, openapi.bp):
        app.register_blueprint(blueprint)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}
