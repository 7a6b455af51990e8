"""The delivery runner: a thread that sends due webhooks, woken at once when one is queued.

The outbox is in the database, so a runner holds nothing worth losing: after a restart the
next runner finds what is still pending. Any number of runners may run (threads in several
web processes, `flask deliver-webhooks`); each row is leased before it is sent.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from app.webhooks.delivery import deliver_due

log = logging.getLogger(__name__)


class Runner:
    def __init__(self, app: Flask, interval: float) -> None:
        self.app = app
        self.interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self.run, name="touchpoint-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Something was queued: look now instead of at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def run(self) -> None:
        while not self._stop.is_set():
            self.run_once()
            self._wake.wait(self.interval)
            self._wake.clear()

    def run_once(self) -> None:
        try:
            with self.app.app_context():
                report = deliver_due()
            if report.attempted:
                log.info("webhooks: %d delivered, %d to retry, %d failed",
                         len(report.delivered), len(report.retrying), len(report.failed))
        except Exception:
            # A database hiccup must not end the runner: the rows wait for the next round.
            log.exception("webhook runner round failed")
