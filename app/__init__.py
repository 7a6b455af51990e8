"""Touchpoint: one render request in, a message a customer can act on out, in every channel.

`create_app()` sets the defaults, reads the configuration, and joins each part of the
service through its `init_app(app)`. The story of a render is in `app/pipeline/__init__.py`.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from app import config


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__, instance_relative_config=False)
    app.config.from_mapping(config.load(test_config))
    app.extensions[config.FACTORY] = create_app

    # Here, not at the top: `import app.<part>` (a pool process, the Celery worker, a test) loads
    # that part alone, not every part as the factory does.
    from app import appointments, auth, brands, cli, http, jobs, retention, store, templating, webhooks

    # Every part is imported by now, so the store's metadata holds each part's tables.
    store.init_app(app)
    # Before every other part that answers requests: /v1 needs a key.
    auth.init_app(app)
    brands.init_app(app)
    templating.init_app(app)
    http.init_app(app)
    cli.init_app(app)
    webhooks.init_app(app)
    appointments.init_app(app)
    # Render jobs: the embedded runner (started here when serving) or the Celery sender.
    jobs.init_app(app)
    retention.init_app(app)
    return app
