"""Render jobs: many render requests in one run, every item rendered and archived exactly
once or failed with its problem, across restarts of the service or of a worker.

    ingest    -> POST /v1/jobs: a JSON list or an NDJSON stream, into `jobs`/`job_items`
    dispatch  -> embedded (default): wake this process's runner (app/jobs/embedded.py);
                 CELERY_BROKER_URL set: send the items to the broker in chunks (scaled.py)
    work      -> claim an item, render it with the pipeline, mark it done in the message's
                 own transaction (work.py, state.py); the same code on either runner
    finish    -> the last item's transaction finishes the job and queues its webhook

The database holds every job's truth; a runner holds nothing it could lose. Deferred PDFs
(`Prefer: respond-async` on POST /v1/render) are one-item jobs of kind `pdf` (deferred.py).
Its tables (`models`) join the store's schema when the package is imported; `init_app` has the
store erase the inputs of a customer's items with them (`erasure`).
"""

from __future__ import annotations

import logging
import os
import signal
import threading

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

# `models` defines the tables on the store's metadata as it loads (app/store/schema.py).
from app.jobs import erasure, models  # noqa: F401
from app.jobs.embedded import EmbeddedRunner
from app.jobs.runners import RUNNER, celery_mode, dispatch, runner
from app.store.customers import on_erase

__all__ = ["celery_mode", "dispatch", "init_app", "runner"]

log = logging.getLogger(__name__)

def init_app(app: Flask) -> None:
    on_erase(app, erasure.erase_customer)
    app.cli.add_command(run_jobs_command)
    if app.config.get("CELERY_BROKER_URL"):
        # Celery is loaded only where a broker is configured.
        from app.jobs.scaled import Sender

        if app.config["DATABASE_URL"].startswith("sqlite"):
            log.warning("CELERY_BROKER_URL is set but the database is SQLite: workers and the web "
                        "process must share one database; use PostgreSQL (DATABASE_URL)")
        sender = Sender(app)
        app.extensions[RUNNER] = sender
        if _runs_a_server(app):
            sender.start()
        return
    embedded = EmbeddedRunner(app)
    app.extensions[RUNNER] = embedded
    if _runs_a_server(app):
        embedded.start()


def _runs_a_server(app: Flask) -> bool:
    """A web process runs the runner; tests, `flask render` and the like do not (tests
    start it themselves)."""
    if app.testing or not app.config["JOB_RUNNER"]:
        return False
    # Under `flask run --debug` the reloader's watching process serves nothing.
    if app.debug and os.environ.get("WERKZEUG_RUN_MAIN") != "true":
        return False
    context = click.get_current_context(silent=True)
    # Only the one-process development server (`flask run`) starts it here. A WSGI server
    # may run many processes and must not start one in each: `make run` (app/serve) runs
    # it once, in its background process; otherwise run `flask run-jobs` beside the server.
    return context is not None and context.info_name == "run"


@click.command("run-jobs")
@click.option("--workers", type=int, default=None, help="Pool processes (default: JOB_WORKERS, "
              "else one per core).")
@with_appcontext
def run_jobs_command(workers: int | None) -> None:
    """Run the embedded job runner in the foreground until stopped (for web processes that
    run with JOB_RUNNER=false)."""
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if celery_mode():
        raise click.ClickException("CELERY_BROKER_URL is set: Celery workers render the jobs "
                                   "(celery -A app.worker worker)")
    embedded = EmbeddedRunner(current_app._get_current_object(), workers)  # type: ignore[attr-defined]
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    embedded.start()
    while not embedded.wait_ready(1.0):
        if not embedded.running:
            raise click.ClickException("the job runner could not start its pool (see the log)")
    click.echo(f"rendering jobs with {embedded.workers} processes; Ctrl-C to stop", err=True)
    try:
        while not stopped.wait(1.0) and embedded.running:
            pass
    except KeyboardInterrupt:
        pass
    click.echo("stopping: letting what renders finish", err=True)
    embedded.stop()
