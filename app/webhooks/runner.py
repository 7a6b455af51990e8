"""The delivery runner: a thread that sends due webhooks, woken at once when one is queued.

The outbox is in the database, so a runner holds nothing worth losing: after a restart the
next runner finds what is still pending. Any number of runners may run (threads in several
web processes, `flask deliver-webhooks`); each row is leased before it is sent.
"""

from __future__ import annotations

import logging

from flask import Flask

from app.loop import BackgroundLoop
from app.webhooks.delivery import deliver_due

log = logging.getLogger(__name__)


class Runner(BackgroundLoop):
    """start/stop/wake/running/run come from the loop; a round is `run_once`. A round that
    fails (a database hiccup) is logged and the runner goes on: the rows wait for the next."""

    def __init__(self, app: Flask, interval: float) -> None:
        super().__init__("touchpoint-webhooks", self.run_once, interval, at_start=True, logger=log)
        self.app = app

    def run_once(self) -> None:
        with self.app.app_context():
            report = deliver_due()
        if report.attempted:
            log.info("webhooks: %d delivered, %d to retry, %d failed",
                     len(report.delivered), len(report.retrying), len(report.failed))
