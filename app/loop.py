"""The background loop: one named daemon thread that runs a step now and then.

    start  -> a thread runs `setup`, then `step` every `interval` seconds, or at once when
              `wake()` is called (and at start with `at_start`)
    step   -> an exception is logged and the loop goes on (or ends, with `stop_on_error`)
    stop   -> the step in progress finishes, no other starts, `teardown` runs, and the
              caller waits for all that (up to `timeout`)

The job runner, the webhook runner, the Celery sender, the two lease heartbeats (job items,
idempotency keys) and a pool process's watch on its parent are all such a loop. It waits on
threading.Events only: no sleeps, no busy-wait. It sits below every other layer and imports
nothing from the app.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger(__name__)

Step = Callable[[], None]


def _nothing() -> None:
    pass


class BackgroundLoop:
    def __init__(self, name: str, step: Step, interval: float, *, at_start: bool = False,
                 stop_on_error: bool = False, setup: Step = _nothing, teardown: Step = _nothing,
                 logger: logging.Logger = log) -> None:
        self.name = name
        self.interval = interval
        self._on_step = step
        self._on_setup = setup
        self._on_teardown = teardown
        self._at_start = at_start
        self._stop_on_error = stop_on_error
        self._log = logger
        self._woken = threading.Event()
        self._stopping = threading.Event()
        # Two threads starting the loop at once must not start two threads.
        self._starting = threading.Lock()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Run the loop in its thread; nothing happens while it already runs."""
        with self._starting:
            if self.running:
                return
            self._stopping.clear()
            self._woken.clear()  # a stop's wake is not a reason to step at once after a restart
            self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """There is work: step now instead of at the end of the interval."""
        self._woken.set()

    def stop(self, timeout: float | None = 10.0) -> bool:
        """End the loop once the step in progress is done, and wait for it (and its teardown)
        up to `timeout` seconds. From inside a step it only asks: a thread cannot join itself.
        True when the loop's thread has ended."""
        self._stopping.set()
        self._woken.set()
        thread = self._thread
        if thread is None:
            return True
        if thread is not threading.current_thread():
            thread.join(timeout)
        return not thread.is_alive()

    def run(self) -> None:
        """The loop itself, in the calling thread (start() calls it in a thread of its own;
        a foreground command may call it directly)."""
        try:
            self._on_setup()
            if self._at_start:
                self._woken.set()
            while self._next() and self._step_once():
                pass
        except Exception:
            self._log.exception("%s stopped: it could not start", self.name)
        finally:
            self._finish()

    def _next(self) -> bool:
        """Wait for the next step: the interval, a wake or a stop. False once stopped."""
        self._woken.wait(self.interval)
        self._woken.clear()  # a wake during the step that follows is kept for the next one
        return not self._stopping.is_set()

    def _step_once(self) -> bool:
        """One step; False when it failed and the loop must end."""
        try:
            self._on_step()
            return True
        except Exception:
            if self._stop_on_error:
                self._log.exception("%s stopped: its step failed", self.name)
                return False
            self._log.exception("%s: its step failed; the next runs in %g s", self.name, self.interval)
            return True

    def _finish(self) -> None:
        try:
            self._on_teardown()
        except Exception:
            self._log.exception("%s: could not stop cleanly", self.name)
