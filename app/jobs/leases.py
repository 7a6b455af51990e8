"""The heartbeat: renews the leases of the items this process is rendering.

A lease is JOB_LEASE_SECONDS long and renewed every third of that while its item renders,
so a live worker never loses an item however long its PDF takes, and a dead worker's items
are free again within one lease.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask

from app.jobs import state
from app.jobs.state import Claim

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.interval = float(app.config["JOB_LEASE_SECONDS"]) / 3
        self._held: dict[tuple[str, int], Claim] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def hold(self, claim: Claim) -> None:
        with self._lock:
            self._held[(claim.job_id, claim.position)] = claim
            if self._thread is None or not self._thread.is_alive():
                # Started on first use, in the process that renders (after any fork).
                self._stop.clear()
                self._thread = threading.Thread(target=self._run, name="touchpoint-leases", daemon=True)
                self._thread.start()

    def drop(self, claim: Claim) -> None:
        with self._lock:
            self._held.pop((claim.job_id, claim.position), None)

    def held(self) -> list[Claim]:
        with self._lock:
            return list(self._held.values())

    def after_fork(self) -> None:
        """A forked child holds nothing and has no thread yet."""
        self._lock = threading.Lock()
        self._held = {}
        self._thread = None

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.beat()

    def beat(self) -> None:
        claims = self.held()
        if not claims:
            return
        try:
            with self.app.app_context():
                from app.store import session

                state.renew(session(), claims)
        except Exception:
            # A missed beat is not fatal: the lease is three beats long.
            log.exception("could not renew %d job item leases", len(claims))
