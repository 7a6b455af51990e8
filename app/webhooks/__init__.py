"""Webhooks to upstream (Standard Webhooks), queued in the database and delivered durably.

    enqueue      -> a row in `webhook_deliveries`, in the transaction of what it reports
    runner       -> a thread in the web process (not under TESTING), woken on enqueue
    deliver_due  -> lease, sign, POST; delivered, or retried with backoff and jitter
    CLI          -> `flask --app app deliver-webhooks [--once]`, the same code in the foreground

Its table (`models`) joins the store's schema when the package is imported; `init_app` has the
store erase the deliveries about a customer's messages with them (`erasure`).
"""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from app import wake as background
from app.store.customers import on_erase

# `models` defines the table on the store's metadata as it loads (app/store/schema.py).
from app.webhooks import erasure, models  # noqa: F401
from app.webhooks.delivery import deliver_due
from app.webhooks.runner import Runner


def init_app(app: Flask) -> None:
    on_erase(app, erasure.erase_customer)
    runner = Runner(app, app.config["WEBHOOK_POLL_INTERVAL"])
    app.extensions["touchpoint.webhooks"] = runner
    app.cli.add_command(deliver_webhooks_command)
    if _runs_a_server(app):
        runner.start()


def _runs_a_server(app: Flask) -> bool:
    """A web process runs the thread; tests, `flask render` and the like do not."""
    if app.testing or not app.config["WEBHOOK_RUNNER"]:
        return False
    context = click.get_current_context(silent=True)
    # Only the one-process development server (`flask run`) starts it here. A WSGI server
    # may run many processes and must not start one in each: `make run` (app/serve) runs
    # it once, in its background process; otherwise run `flask deliver-webhooks` beside the server.
    return context is not None and context.info_name == "run"


def wake() -> None:
    """Tell this process's runner that a webhook was queued (after the commit)."""
    runner = current_app.extensions.get("touchpoint.webhooks")
    if runner is not None and runner.running:
        runner.wake()
    else:
        # The runner is in the background process of `make run` (app/serve): wake it there.
        background.notify(current_app.config, "webhooks")


@click.command("deliver-webhooks")
@click.option("--once", is_flag=True, help="Deliver what is due now, then exit.")
@with_appcontext
def deliver_webhooks_command(once: bool) -> None:
    """Deliver queued webhooks: what is due now (--once), or keep running until stopped."""
    if once:
        report = deliver_due()
        click.echo(f"{len(report.delivered)} delivered, {len(report.retrying)} to retry later, "
                   f"{len(report.failed)} failed")
        return
    runner = current_app.extensions["touchpoint.webhooks"]
    click.echo(f"delivering webhooks every {runner.interval:g} s; Ctrl-C to stop")
    try:
        runner.run()
    except KeyboardInterrupt:
        runner.stop()
