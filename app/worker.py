"""The Celery app of the scaled-out job runner: `celery -A app.worker worker`.

Configured from the environment like the service (CELERY_BROKER_URL, CELERY_QUEUE,
DATABASE_URL on PostgreSQL, ARTIFACT_DIR shared with the web processes). Its one task is
thin: it claims items and renders them with the code the embedded runner uses
(app/jobs/scaled.py, app/jobs/work.py). WeasyPrint is imported here, before the pool
processes fork, and each process lays a small document out when it starts, so the first
item pays for neither.
"""

from __future__ import annotations

import weasyprint  # noqa: F401 - imported once, before the pool forks

from app import create_app
from app.jobs.scaled import worker_app

# A worker renders; web processes deliver the webhooks its jobs queue.
flask_app = create_app({"JOB_RUNNER": False, "WEBHOOK_RUNNER": False})
if not flask_app.config.get("CELERY_BROKER_URL"):
    raise RuntimeError("set CELERY_BROKER_URL (redis://… or amqp://…) to run a worker")
if flask_app.config["DATABASE_URL"].startswith("sqlite"):
    raise RuntimeError("a Celery worker shares its database with the web processes: set DATABASE_URL "
                       "to PostgreSQL (postgresql://…)")

# `celery -A app.worker` finds the Celery app by this name.
app = worker_app(flask_app)
