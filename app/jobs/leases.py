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
from app.loop import BackgroundLoop
from app.store import session

log = logging.getLogger(__name__)


class Heartbeat:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.interval = float(app.config["JOB_LEASE_SECONDS"]) / 3
        self._held: dict[tuple[str, int], Claim] = {}
        self._lock = threading.Lock()
        self._loop = self._new_loop()

    def _new_loop(self) -> BackgroundLoop:
        # A beat that fails is logged and the next one tries again: the lease is three beats long.
        return BackgroundLoop("touchpoint-leases", self.beat, self.interval, logger=log)

    def hold(self, claim: Claim) -> None:
        with self._lock:
            self._held[(claim.job_id, claim.position)] = claim
            # Started on first use, in the process that renders (after any fork).
            self._loop.start()

    def drop(self, claim: Claim) -> None:
        with self._lock:
            self._held.pop((claim.job_id, claim.position), None)

    def held(self) -> list[Claim]:
        with self._lock:
            return list(self._held.values())

    def after_fork(self) -> None:
        """A forked child holds nothing and has no thread yet (nor the parent's locks)."""
        self._lock = threading.Lock()
        self._held = {}
        self._loop = self._new_loop()

    def stop(self) -> None:
        self._loop.stop()

    def beat(self) -> None:
        claims = self.held()
        if not claims:
            return
        with self.app.app_context():
            state.renew(session(), claims)
