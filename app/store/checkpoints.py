"""SQLite's WAL checkpoints, taken off the request path: one thread per process copies the log
into the database file soon after writes, on a connection of its own.

SQLite in WAL mode appends every commit to `<database>-wal`, and by default the commit that
takes the log past 1,000 pages (4 MB) also copies the log into the database file and syncs it
(an automatic checkpoint), before it returns. A render writes about 16 pages (its email's HTML
is stored in its rows), so one render in 60 paid for a checkpoint, 15 to 30 ms on this
project's machine, while it held the write turn (app/store `SqliteWriters`) and every other
writer of the file waited behind it: those renders were the tail of the load test.

Here a writer only notes that it wrote (`wrote`, a dictionary update and a condition's
notify). A daemon thread of the process, started on first use (and again in a forked child),
waits `DELAY` seconds to gather the writes that follow, then runs `PRAGMA
wal_checkpoint(PASSIVE)` on a connection it opens for the purpose: a passive checkpoint copies
what no reader still needs and never waits for, or blocks, a writer, and SQLite runs it
without Python's lock, so renders go on meanwhile. Under steady writes, though, some commit
nearly always lands during the copy, and SQLite restarts the log from its start only once a
checkpoint has copied all of it: the log would keep growing. So passive passes follow one
another, each copying what came in during the one before, until that is a few pages (or
after three); then a last pass runs in the file's write turn, for the pages of the last
milliseconds (1 to a few ms, mostly its two syncs, against 15 to 30 for the whole log), and
the next writer starts the log afresh. When several processes write one file, each one's
thread checkpoints it; SQLite runs one checkpoint at a time, and a busy one is left to the
other.

The automatic checkpoint stays as a bound (`AUTOCHECKPOINT_PAGES`, set on every connection by
`engine_for`): it fires only if the log reaches 16,000 pages (64 MB), which this thread keeps it
far from, and it covers a process that writes without noting it.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

DELAY = 0.5  # seconds between the first write noted and the checkpoint that copies it
AUTOCHECKPOINT_PAGES = 16_000  # SQLite's own checkpoint, now only a bound (default 1,000)
FEW_PAGES = 64  # what the last pass, in the writers' turn, may be left to copy (a few ms)
MOST_PASSES = 3  # passive passes before that one, whatever came in
BUSY_MILLISECONDS = 1_000  # how long the checkpoint's connection waits for the file's locks


class Writers(Protocol):
    """A SQLite file's writers (app/store `SqliteWriters`): the file, and its write turn."""

    database: Path

    def held(self) -> AbstractContextManager[None]: ...


class Checkpointer:
    """The process's checkpoint thread and the files it has to checkpoint."""

    def __init__(self, delay: float = DELAY) -> None:
        self.delay = delay
        self.reset()

    def reset(self) -> None:
        """A new lock, nothing pending and no thread: at start, and in a forked child (its
        parent's thread is not there, and its lock may have been held at the fork)."""
        self._changed = threading.Condition(threading.Lock())
        self._due: dict[Path, tuple[float, Writers]] = {}  # file -> (when due, monotonic; writers)
        self._thread: threading.Thread | None = None
        self._settling = False
        self.taken = 0  # checkpoints run, failed ones too, since the start (or the fork)

    def wrote(self, writers: Writers) -> None:
        """The writers' file has new commits in its log: checkpoint it within `delay` seconds."""
        with self._changed:
            if writers.database in self._due:
                return
            self._due[writers.database] = (time.monotonic() + self.delay, writers)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="sqlite-checkpoints", daemon=True)
                self._thread.start()
            self._changed.notify()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._due:
                    self._changed.wait()
                due, writers = min(self._due.values(), key=lambda item: item[0])
                wait = due - time.monotonic()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                del self._due[writers.database]  # writes from here on are noted for the next
                self._settling = True
            try:
                settle(writers)
            except Exception:  # never the thread's end: the next write brings the next checkpoint
                log.exception("the checkpoint of %s failed", writers.database)
            finally:
                with self._changed:
                    self._settling = False
                    self.taken += 1
                    self._changed.notify_all()

    def drain(self, timeout: float) -> bool:
        """Wait until every checkpoint due has run; False if `timeout` seconds ran out first.
        For a caller that wants the log copied now (the tests)."""
        deadline = time.monotonic() + timeout
        with self._changed:
            # Due now, not after the gathering delay.
            self._due = {path: (0.0, held) for path, (_, held) in self._due.items()}
            self._changed.notify_all()
            while self._due or self._settling:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(left)
        return True


def settle(writers: Writers) -> tuple[int, int, int] | None:
    """Copy the log into the file, all of it. Passive passes beside the writers, each copying
    what came in during the one before, until that is a few pages; then one in the writers'
    turn, so nothing comes in while it copies the rest."""
    passes, log_end = 0, None
    while True:
        done = checkpoint(writers.database)
        passes += 1
        if done is None or done[0]:  # failed, or another process's checkpoint is running
            return done
        # "Complete" means up to the log's end when the pass began; commits went on meanwhile.
        came_in = done[1] - log_end if log_end is not None and done[1] >= log_end else done[1]
        if came_in <= FEW_PAGES or passes == MOST_PASSES:
            break
        log_end = done[1]
    with writers.held():
        return checkpoint(writers.database)


def checkpoint(database: Path) -> tuple[int, int, int] | None:
    """A passive checkpoint of `database`: (busy, pages in the log, pages copied), as SQLite
    answers it; None when the file is gone or the checkpoint failed (logged, never raised: the
    commits are safe in the log, and the next checkpoint copies them)."""
    if not database.exists():
        return None
    try:  # mode=rw: a file removed meanwhile (a test's folder) is not made again, empty
        connection = sqlite3.connect(f"{database.resolve().as_uri()}?mode=rw", uri=True,
                                     timeout=BUSY_MILLISECONDS / 1000, isolation_level=None)
    except sqlite3.Error:
        log.warning("could not open %s for a checkpoint", database, exc_info=True)
        return None
    try:
        row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return (int(row[0]), int(row[1]), int(row[2])) if row is not None else None
    except sqlite3.Error:
        log.warning("the checkpoint of %s failed", database, exc_info=True)
        return None
    finally:
        connection.close()


checkpointer = Checkpointer()
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=checkpointer.reset)
