"""The background process: the service's runners, exactly once per machine.

    python -m app.serve.background      (the launcher starts it; it is not meant for a terminal)

    jobs      -> the embedded job runner and its pool (JOB_RUNNER), or with CELERY_BROKER_URL
                 the Celery sender, which sends what a web process could not
    webhooks  -> the webhook runner (WEBHOOK_RUNNER)
    wake      -> a Unix socket the web processes wake both through (wake.py)
    retention -> the purge of what is past its age (app/retention.py), at start and daily
    sweep     -> artifact folders no row names, left by a killed process (app/store/artifacts.py),
                 at start, once ARTIFACT_SWEEP_GRACE later, and daily

SIGTERM or SIGINT: the job runner stops claiming, lets what its pool is rendering finish and
gives back what had not started; then the process exits 0. It exits 1 if a runner dies, so
the launcher stops the service rather than serve without it.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

from flask import Flask

from app import create_app, jobs, logs, retention, wake
from app.store import artifacts, session
from app.store.artifacts import sweep

log = logging.getLogger(__name__)

CHECK_SECONDS = 1.0
PURGE_EVERY = 24 * 3600.0


def runners(app: Flask) -> dict[str, Any]:
    """What this process runs, by the name web processes wake it with."""
    chosen: dict[str, Any] = {}
    if app.config["JOB_RUNNER"]:
        chosen["jobs"] = jobs.runner(app)
    if app.config["WEBHOOK_RUNNER"]:
        chosen["webhooks"] = app.extensions["touchpoint.webhooks"]
    return chosen


def _wakers(running: dict[str, Any]) -> dict[str, Any]:
    # The Celery sender has nothing to wake: web processes send to the broker themselves.
    return {name: runner.wake for name, runner in running.items() if hasattr(runner, "wake")}


def serve(app: Flask, stopped: threading.Event) -> int:
    running = runners(app)
    listener = wake.Listener(app.config, _wakers(running))
    listener.start()
    for runner in running.values():
        runner.start()
    log.info("background: running %s", ", ".join(f"{name} ({type(runner).__name__})"
                                                 for name, runner in running.items()) or "nothing")
    died = []
    started = time.monotonic()
    sweeps, next_purge = sweep_times(started, app.config["ARTIFACT_SWEEP_GRACE"]), started
    next_sweep = next(sweeps)
    while not stopped.wait(CHECK_SECONDS):
        died = [name for name, runner in running.items() if not runner.running]
        if died:
            log.error("background: the %s runner stopped; stopping the service", ", ".join(died))
            break
        now = time.monotonic()
        if now >= next_sweep:
            _sweep(app)
            next_sweep = next(sweeps)
        if now >= next_purge:
            _purge(app)
            next_purge = now + PURGE_EVERY
    listener.stop()
    for name, runner in running.items():
        log.info("background: stopping %s (what is in flight finishes)", name)
        runner.stop()
    return 1 if died else 0


def sweep_times(started: float, grace: float) -> Iterator[float]:
    """When the sweep runs: at start; once `grace` later, since the sweep at start leaves the
    folders younger than the grace (for all it knows, renders in flight), and a process killed
    just before the start left young ones; then daily."""
    yield started
    at = started + grace
    while True:
        yield at
        at += PURGE_EVERY


def _purge(app: Flask) -> None:
    """One retention pass; a failure is logged and tried again the next day."""
    try:
        with app.app_context():
            purged = retention.purge(session())
        log.info("retention: purged %s", purged.summary() or "nothing")
    except Exception:
        log.exception("retention: the purge failed; it runs again in a day")


def _sweep(app: Flask) -> None:
    """Remove what a killed process left on disk; a failure is logged and tried again the next day."""
    try:
        with app.app_context():
            swept = sweep(session(), artifacts(), app.config["ARTIFACT_SWEEP_GRACE"])
        log.info("sweep: removed %s", swept.summary())
    except Exception:
        log.exception("sweep: the artifact sweep failed; it runs again in a day")


def main() -> int:
    app = create_app()
    logs.configure(app.config["LOG_FORMAT"], app.config["LOG_LEVEL"])
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    return serve(app, stopped)


if __name__ == "__main__":
    sys.exit(main())
