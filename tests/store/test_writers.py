"""A SQLite file's writers take turns (app/store: SqliteWriters), across threads and processes.

Each writer below reads a counter, yields the CPU, and writes it back plus one: without the
turn, writers overlap and updates are lost; with it, every update counts.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path

from app.store import SqliteWriters

PROCESSES, THREADS, TIMES = 2, 4, 150


def _bump(writers: SqliteWriters, counter: Path) -> None:
    for _ in range(TIMES):
        with writers.turn():
            value = int(counter.read_text())
            os.sched_yield()  # let another writer run here, if anything lets it in
            counter.write_text(str(value + 1))


def _threads(writers: SqliteWriters, counter: Path) -> None:
    threads = [threading.Thread(target=_bump, args=(writers, counter)) for _ in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_writers_of_several_processes_and_threads_take_turns(tmp_path: Path) -> None:
    counter = tmp_path / "counter"
    counter.write_text("0")
    writers = SqliteWriters(tmp_path / "touchpoint.db")
    # Forked processes share the object, not the flock: each opens its own descriptor.
    context = multiprocessing.get_context("fork")
    processes = [context.Process(target=_threads, args=(writers, counter)) for _ in range(PROCESSES)]
    for process in processes:
        process.start()
    _threads(writers, counter)
    for process in processes:
        process.join(60)
        assert process.exitcode == 0
    assert int(counter.read_text()) == (PROCESSES + 1) * THREADS * TIMES
