"""The CPU turn: in a web process, one render at a time runs; the others wait their turn.

A web process serves several requests at once on its threads (gunicorn's gthread) because
some of them wait: a PDF is laid out in the sandbox's child process, and the thread that asked
for it only waits. But Python runs one thread at a time, and hands the interpreter from one
running thread to the next every 5 ms. Four renders in one process then each took about four
times as long, and worse: a render holding the SQLite file's write turn (app/store
`SqliteWriters`) was made to wait 5 ms at a time while the others ran, and every writer of the
file, in every process, waited with it. Under load that was the tail: on 2 cores, the store
stage took 8 to 12 ms at the median and 33 to 41 ms at the 99th percentile, for 0.5 ms of work.

So a render takes its process's CPU turn for its request (after the key, the rate limit and
the reading of its body, which a slow client may drag out; until its answer is built) and
gives it up while it waits on something outside the process (`waiting`: the PDF's child).
The others wait on a lock, not for the interpreter: the render that runs is not interrupted,
and the next starts when it is done. What does not render (reads, pages, /healthz) takes no
turn and runs beside it as before. The turn is per process: the processes of a machine run
side by side, one per core.

It sits below every other layer and imports nothing from the app: the HTTP layer takes the
turn for views marked `takes_cpu_turn`, the sandbox gives it up while it waits.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

F = TypeVar("F", bound=Callable[..., object])


class CpuTurn:
    """A first-come, first-served lock that knows which thread holds it, so that `waiting`
    can hand it on. First come, first served: a plain lock lets a thread that comes back for
    it take it ahead of one that has waited, and under load some waited for many renders."""

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Free, held by no thread, no one waiting: at start, and in a forked child (a thread
        of the parent that held it or waited for it is not there)."""
        self._mutex = threading.Lock()
        self._waiting: deque[tuple[int, threading.Lock]] = deque()
        self._holder: int | None = None

    def take(self) -> None:
        """Wait for the turn and hold it (a thread that holds it already just keeps it)."""
        me = threading.get_ident()
        with self._mutex:
            if self._holder == me:
                return
            if self._holder is None:
                self._holder = me
                return
            handed = threading.Lock()
            handed.acquire()
            self._waiting.append((me, handed))
        handed.acquire()  # released by `give_back`, which made this thread the holder

    def give_back(self) -> None:
        """Hand the turn to the thread that has waited longest, or free it; a thread that does
        not hold the turn has nothing to give."""
        with self._mutex:
            if self._holder != threading.get_ident():
                return
            if self._waiting:
                self._holder, handed = self._waiting.popleft()
                handed.release()
            else:
                self._holder = None

    def held(self) -> bool:
        return self._holder == threading.get_ident()

    def queued(self) -> int:
        """How many threads wait for the turn now."""
        return len(self._waiting)

    @contextmanager
    def waiting(self) -> Iterator[None]:
        """Around a wait on another process: the turn goes to the next render meanwhile, and
        comes back (after that render) before the caller goes on. Without the turn, nothing."""
        if not self.held():
            yield
            return
        self.give_back()
        try:
            yield
        finally:
            self.take()


cpu_turn = CpuTurn()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=cpu_turn.reset)


def takes_cpu_turn(view: F) -> F:
    """Mark a view whose requests take the CPU turn (app/http takes it for them)."""
    view.takes_cpu_turn = True  # type: ignore[attr-defined]
    return view
