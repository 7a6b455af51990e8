"""The embedded runner: a thread in the service feeding a pool of processes, one per core.

    thread  -> claims items from the database (lapsed leases first, then queued), keeps
               the pool twice as busy as it has processes, renews the leases of what is in
               flight, records each outcome's metrics, and wakes the webhook runner
    pool    -> spawned processes, each with its own app and WeasyPrint warmed up at start;
               they render and archive (app/jobs/work.py) and hand back how it went

Nothing is held only in memory: after a crash or a restart the next runner finds the
queued items, and the items that were rendering once their leases run out. A pool whose
process dies is rebuilt, and the items it had are given back (each attempt counts, so an
item that kills its worker every time is failed after JOB_MAX_ATTEMPTS).
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import pickle
import threading
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from flask import Flask

from app import metrics, webhooks
from app.config import FACTORY, AppFactory
from app.jobs import state, work
from app.jobs.leases import Heartbeat
from app.jobs.state import Claim
from app.loop import BackgroundLoop
from app.store import session

log = logging.getLogger(__name__)

POLL_SECONDS = 2.0


class EmbeddedRunner(BackgroundLoop):
    """start/wake/running come from the loop; its step collects what finished and claims
    more. A step that fails ends the runner (the background process then stops the service)."""

    def __init__(self, app: Flask, workers: int | None = None) -> None:
        super().__init__("touchpoint-jobs", self._step, POLL_SECONDS, at_start=True,
                         stop_on_error=True, setup=self._setup, teardown=self._shutdown, logger=log)
        self.app = app
        self.workers = workers or app.config.get("JOB_WORKERS") or os.cpu_count() or 1
        self.heartbeat = Heartbeat(app)
        self.worker_pids: list[int] = []
        self.worker_rss: list[int] = []
        self._ready = threading.Event()
        self._pool: ProcessPoolExecutor | None = None
        self._inflight: dict[Future[work.Outcome], Claim] = {}

    def wait_ready(self, timeout: float | None = None) -> bool:
        """True once every pool process has started and warmed up."""
        return self._ready.wait(timeout)

    def stop(self, timeout: float | None = 60.0) -> bool:
        """Stop claiming, let what the pool renders finish, give back what had not started."""
        stopped = super().stop(timeout)
        self.heartbeat.stop()
        return stopped

    # The thread.

    def _setup(self) -> None:
        self._start_pool()
        with self.app.app_context():
            state.forget_abandoned(session())

    def _step(self) -> None:
        self._collect()
        if self._feed():
            self.wake()  # it claimed as many as it could: there may be more

    def _start_pool(self) -> None:
        """Spawn (not fork: the service has threads) every process now and warm it up."""
        context = multiprocessing.get_context("spawn")
        # Each process answers "ready" only once all are started, so every one answers.
        everyone = context.Barrier(self.workers)
        self._pool = ProcessPoolExecutor(
            max_workers=self.workers, mp_context=context,
            initializer=_child_start,
            initargs=(self.app.extensions[FACTORY], _child_config(self.app), everyone),
        )
        # One call per process: with none idle yet, each submit spawns a process.
        ready = [self._pool.submit(_child_ready) for _ in range(self.workers)]
        answers = [future.result() for future in ready]
        self.worker_pids = [pid for pid, _ in answers]
        self.worker_rss = [rss for _, rss in answers]
        log.info("job runner: %d processes ready (%s)", self.workers,
                 ", ".join(f"pid {pid} {rss // 2**20} MB" for pid, rss in answers))
        self._ready.set()

    def _feed(self) -> int:
        free = self.workers * 2 - len(self._inflight)
        if free <= 0 or self._pool is None:
            return 0
        try:
            with self.app.app_context():
                claims = state.claim_next(session(), free)
        except Exception:
            log.exception("job runner: could not claim items")
            return 0
        for claim in claims:
            self.heartbeat.hold(claim)
            future = self._pool.submit(_child_process, claim.as_dict())
            future.add_done_callback(lambda _future: self.wake())
            self._inflight[future] = claim
        return len(claims)

    def _collect(self) -> None:
        broken = False
        finished = [f for f in self._inflight if f.done()]
        for future in finished:
            claim = self._inflight.pop(future)
            self.heartbeat.drop(claim)
            try:
                outcome = future.result()
            except BrokenProcessPool:
                broken = True
                self._give_back(claim)
                continue
            except Exception:
                log.exception("job %s item %d: the pool failed to run it", claim.job_id, claim.position)
                self._give_back(claim)
                continue
            metrics.record(outcome.observations)
        if broken:
            log.error("job runner: a pool process died; starting a new pool")
            for future, claim in list(self._inflight.items()):
                future.cancel()
                self.heartbeat.drop(claim)
                self._give_back(claim)
            self._inflight.clear()
            assert self._pool is not None
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._start_pool()
        if finished:
            # An item that ended its job queued the completion webhook: send it now.
            with self.app.app_context():
                webhooks.wake()

    def _give_back(self, claim: Claim) -> None:
        try:
            with self.app.app_context():
                state.release(session(), claim)
        except Exception:
            log.exception("could not give back job %s item %d; its lease will run out",
                          claim.job_id, claim.position)

    def _shutdown(self) -> None:
        """Let what is rendering finish; give back what had not started."""
        if self._pool is None:
            return
        for future, claim in list(self._inflight.items()):
            if future.cancel():
                self._inflight.pop(future)
                self.heartbeat.drop(claim)
                self._give_back(claim)
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._collect()
        self._pool = None


# In the pool's processes.

_child_app: Flask | None = None
_everyone: Any = None


def _child_config(app: Flask) -> dict[str, Any]:
    """The service's configuration, for the pool's own apps (what pickles of it)."""
    config = {}
    for key, value in app.config.items():
        try:
            pickle.dumps(value)
        except Exception:
            continue
        config[key] = value
    # A pool process renders; it runs no runner of its own.
    config.update(JOB_RUNNER=False, WEBHOOK_RUNNER=False)
    return config


def _child_start(create_app: AppFactory, config: dict[str, Any], everyone: Any) -> None:
    global _child_app, _everyone
    # A pool process outlives no service: killed or not, when it is gone, so is this one
    # (what it was rendering is not committed, and its lease runs out for the next runner).
    parent = os.getppid()
    BackgroundLoop("touchpoint-parent", lambda: _exit_without(parent), 1.0, logger=log).start()
    _child_app = create_app(config)
    _everyone = everyone
    work.warm_up(_child_app)


def _exit_without(parent: int) -> None:
    if os.getppid() != parent:  # the parent died: this process is someone else's child now
        os._exit(1)


def _child_ready() -> tuple[int, int]:
    # A sibling that never starts breaks the barrier; the pool says so by itself.
    with contextlib.suppress(threading.BrokenBarrierError):
        _everyone.wait(timeout=300)
    return os.getpid(), rss_bytes()


def _child_process(claim: dict[str, Any]) -> work.Outcome:
    assert _child_app is not None
    with _child_app.app_context():
        return work.process(Claim(**claim))


def rss_bytes(pid: int | None = None) -> int:
    """Resident memory of a process (Linux), in bytes."""
    try:
        with open(f"/proc/{pid or 'self'}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def drain(app: Flask, limit: int | None = None) -> int:
    """Render what is queued, here, one item at a time, until nothing is left (tests, and
    a runner-less process that must finish something). Answers how many items it ran."""
    ran = 0
    while limit is None or ran < limit:
        with app.app_context():
            claims = state.claim_next(session(), 1)
        if not claims:
            return ran
        with app.app_context():
            outcome = work.process(claims[0])
        metrics.record(outcome.observations)
        ran += 1
    return ran
