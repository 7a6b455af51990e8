"""This process's job runner, and handing it a job: the embedded runner (a pool of processes,
app/jobs/embedded.py) or, with CELERY_BROKER_URL, the Celery sender (scaled.py), kept in
`app.extensions` by `app.jobs.init_app`."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, current_app

from app import wake

log = logging.getLogger(__name__)

RUNNER = "touchpoint.jobs"


def runner(app: Flask | None = None) -> Any:
    """This process's runner: the EmbeddedRunner, or the Celery Sender."""
    return (app or current_app).extensions[RUNNER]


def celery_mode(app: Flask | None = None) -> bool:
    return bool((app or current_app).config.get("CELERY_BROKER_URL"))


def dispatch(job_id: str) -> None:
    """After the job's commit: hand it to whichever runner renders it."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if celery_mode(app):
        try:
            runner(app).dispatch(job_id)
        except Exception:
            # The job is stored; a worker (or this process, within a minute) sends it later.
            log.exception("job %s: could not reach the broker; it will be sent later", job_id)
        return
    embedded = runner(app)
    if embedded.running:
        embedded.wake()
    else:
        # The runner is in the background process of `make run` (app/serve): wake it there.
        wake.notify(app.config, "jobs")
