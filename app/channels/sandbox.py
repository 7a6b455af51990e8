"""The render stage's sandbox: a function run in a warm child process, under a wall-time
and a memory limit, so one hostile document costs a child, never the serving process.

    parent -> takes an idle child of this process's small pool (starting one when none is
              idle and the pool is not full), sends it the call, and waits: at most
              `seconds` from the call (waiting for a free child counts: the limit bounds
              the answer), and only while `cancelled()` says the client is still there
    child  -> started from the forkserver (WeasyPrint already imported there), warmed up
              once; per call RLIMIT_AS is its own size now plus `megabytes`, then lifted
    limit  -> the child is killed (SIGKILL) and replaced; the caller gets PdfTimeLimit,
              PdfMemoryLimit or RenderCancelled, and nothing the child made survives

A process that is itself a child made for rendering (the embedded job runner's pool
processes, spawned by multiprocessing) does not start children of its own: `run_here` puts
the same limits on the call in place (an interval timer and RLIMIT_AS), since over a limit it
is only that pool process, not the serving one, that is at stake. `bounded` chooses.

The pool is per process (each gunicorn worker has its own): what a child holds is given
back to the system when it exits. A child is also replaced after
`CALLS_PER_CHILD` calls, or at once when a document left it `GROWTH_LIMIT` larger than it
started, so a big document's heap is given back to the system. The child's
log lines (WeasyPrint's warnings, a refused fetch) come back with the answer and are logged
here, under their own logger names.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import os
import resource
import signal
import threading
import time
from collections.abc import Callable
from multiprocessing.connection import Connection, wait
from typing import Any

from app.cpu_turn import cpu_turn
from app.problems import PdfMemoryLimit, PdfTimeLimit, RenderCancelled

log = logging.getLogger(__name__)

# Children per process: a gunicorn worker has a few threads, and each layout is CPU-bound,
# so more children than cores would only queue at the CPU while holding memory.
PROCESSES = min(2, os.cpu_count() or 1)
CALLS_PER_CHILD = 200
GROWTH_LIMIT = 48 * 2**20
# How often a waiting parent asks whether its client is still there.
CANCEL_POLL_SECONDS = 0.25
# A fresh child imports nothing new (the forkserver did) and lays out one small document.
START_SECONDS = 60.0
# Modules the forkserver imports once, so every child is forked with them loaded.
PRELOAD = ["weasyprint", "app.channels.layout"]

_context = multiprocessing.get_context("forkserver")
_context.set_forkserver_preload(PRELOAD)


class ChildFailed(RuntimeError):
    """The call raised in the child (not a limit): its type and message, for the log."""


class _Child:
    def __init__(self, warm_up: Callable[[], object] | None) -> None:
        self.conn, child_end = _context.Pipe()
        self.process = _context.Process(target=_serve, args=(child_end, warm_up), name="touchpoint-pdf",
                                        daemon=True)
        self.process.start()
        child_end.close()
        self.ready = False
        self.calls = 0

    def wait_ready(self, seconds: float) -> bool:
        if not self.ready and wait([self.conn, self.process.sentinel], seconds) and self.conn.poll():
            self.ready = self.conn.recv() == "ready"
        return self.ready

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class Sandbox:
    """A few warm children of this process; `call` runs one function in one of them. Each child
    runs `warm_up` once before its first call (by default it lays out a line of text)."""

    def __init__(self, processes: int = PROCESSES, warm_up: Callable[[], object] | None = None) -> None:
        self.processes = processes
        self.warm_up = warm_up
        self._idle: list[_Child] = []
        self._count = 0
        self._lock = threading.Condition()

    def call(self, function: Callable[..., Any], args: tuple[Any, ...], *, seconds: float,
             megabytes: int, cancelled: Callable[[], bool] | None = None) -> Any:
        deadline = time.monotonic() + seconds
        # The caller only waits from here: its process's next render may run meanwhile.
        with cpu_turn.waiting():
            child = self._take(deadline, seconds)
            healthy = False
            try:
                result, healthy = self._run(child, function, args, deadline, seconds, megabytes, cancelled)
                return result
            finally:
                self._give_back(child, healthy)

    def _run(self, child: _Child, function: Callable[..., Any], args: tuple[Any, ...], deadline: float,
             seconds: float, megabytes: int, cancelled: Callable[[], bool] | None) -> tuple[Any, bool]:
        if not child.wait_ready(START_SECONDS):
            raise ChildFailed("a PDF process did not start")
        child.conn.send((function, args, megabytes))
        child.calls += 1
        while not child.conn.poll():
            left = deadline - time.monotonic()
            if left <= 0:
                raise PdfTimeLimit(seconds)
            if cancelled is not None and cancelled():
                raise RenderCancelled("The client closed the connection; the PDF was not made.")
            wait([child.conn, child.process.sentinel], min(left, CANCEL_POLL_SECONDS))
            if not child.process.is_alive() and not child.conn.poll():
                # Killed by the kernel or aborted by a library that could not allocate
                # under RLIMIT_AS: the only limit a child dies of by itself.
                raise PdfMemoryLimit(megabytes)
        try:
            kind, value, records, growth = child.conn.recv()
        except EOFError:
            raise PdfMemoryLimit(megabytes) from None
        _relog(records)
        if kind == "memory":
            raise PdfMemoryLimit(megabytes)
        if kind == "error":
            return _raise(value), True
        return value, growth <= GROWTH_LIMIT

    def _take(self, deadline: float, seconds: float) -> _Child:
        with self._lock:
            while not self._idle and self._count >= self.processes:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise PdfTimeLimit(seconds)
                self._lock.wait(left)
            if self._idle:
                return self._idle.pop()
            self._count += 1
        try:
            return _Child(self.warm_up)
        except BaseException:
            with self._lock:
                self._count -= 1
                self._lock.notify()
            raise

    def _give_back(self, child: _Child, healthy: bool) -> None:
        if not healthy or child.calls >= CALLS_PER_CHILD or not child.process.is_alive():
            # Over a limit, cancelled or worn: this child's memory goes back to the system.
            child.kill()
            with self._lock:
                self._count -= 1
                self._lock.notify()
            return
        with self._lock:
            self._idle.append(child)
            self._lock.notify()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
            self._count -= len(idle)
        for child in idle:
            child.kill()


def _raise(value: tuple[str, str]) -> Any:
    raise ChildFailed(f"{value[0]}: {value[1]}")


def _relog(records: list[tuple[str, int, str]]) -> None:
    for name, level, message in records:
        logging.getLogger(name).log(level, "%s", message)


def bounded(function: Callable[..., Any], args: tuple[Any, ...], *, seconds: float, megabytes: int,
            cancelled: Callable[[], bool] | None = None,
            warm_up: Callable[[], object] | None = None) -> Any:
    """`function(*args)` under the limits: here in a pool process's main thread (the embedded
    runner's, or a Celery prefork worker's, which is daemonic and may not have children), else
    in a child of this process's sandbox, whose children run `warm_up` once when they start."""
    pooled = multiprocessing.parent_process() is not None or multiprocessing.current_process().daemon
    if pooled and threading.current_thread() is threading.main_thread():
        return run_here(function, args, seconds=seconds, megabytes=megabytes)
    return sandbox(warm_up).call(function, args, seconds=seconds, megabytes=megabytes, cancelled=cancelled)


class _OverTime(BaseException):
    """Raised by the timer's signal; a BaseException, so no `except Exception` swallows it."""


def run_here(function: Callable[..., Any], args: tuple[Any, ...], *, seconds: float, megabytes: int) -> Any:
    """In this process's main thread, with a timer (SIGALRM) and RLIMIT_AS for the call."""
    def over_time(signum: int, frame: object) -> None:
        raise _OverTime

    previous = signal.signal(signal.SIGALRM, over_time)
    limit, (soft, hard) = _limit_address_space(megabytes)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return function(*args)
    except _OverTime:
        raise PdfTimeLimit(seconds) from None
    except MemoryError:
        raise PdfMemoryLimit(megabytes) from None
    except Exception:
        if _peak_address_space() >= limit - 2 * 2**20:
            raise PdfMemoryLimit(megabytes) from None
        raise
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        signal.signal(signal.SIGALRM, previous)


_sandbox: Sandbox | None = None
_owner = 0
_sandbox_lock = threading.Lock()


def sandbox(warm_up: Callable[[], object] | None = None) -> Sandbox:
    """This process's sandbox (a forked process gets a new one: children are not shared); the
    first caller's `warm_up` is its children's."""
    global _sandbox, _owner
    with _sandbox_lock:
        if _sandbox is None or _owner != os.getpid():
            _sandbox, _owner = Sandbox(warm_up=warm_up), os.getpid()
            atexit.register(_sandbox.close)
        return _sandbox


# In the child.


class _Collect(logging.Handler):
    """Keeps the warnings of one call, to send back with its answer."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append((record.name, record.levelno, record.getMessage()))


def _serve(conn: Connection, warm_up: Callable[[], object] | None) -> None:
    collect = _Collect()
    logging.getLogger().addHandler(collect)
    # Fonts and the user-agent stylesheet load on the first layout: do it before any deadline.
    (warm_up or _lay_out_a_line)()
    collect.records.clear()
    started = _resident()
    conn.send("ready")
    while True:
        try:
            function, args, megabytes = conn.recv()
        except EOFError:  # the parent is gone: so is this child
            os._exit(0)
        answer = _call(function, args, megabytes)
        conn.send((*answer, collect.records, _resident() - started))
        collect.records = []
        if answer[0] == "memory":
            os._exit(0)  # a heap that ran out mid-layout is not trusted with another


def _lay_out_a_line() -> None:
    # In the child only: the web process that imports this module loads no WeasyPrint for it.
    from weasyprint import HTML

    HTML(string="<p style='font-family: sans-serif'>warm <b>up</b></p>").write_pdf()


def _limit_address_space(megabytes: int) -> tuple[int, tuple[int, int]]:
    """RLIMIT_AS at this process's size now plus `megabytes`: the process's own size
    (WeasyPrint, fonts) is not the document's. Answers the limit and the limits before."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = _address_space() + megabytes * 2**20
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    return limit, (soft, hard)


def _call(function: Callable[..., Any], args: tuple[Any, ...], megabytes: int) -> tuple[str, Any]:
    limit, (soft, hard) = _limit_address_space(megabytes)
    try:
        return "ok", function(*args)
    except MemoryError:
        return "memory", None
    except Exception as exc:
        # A C library that cannot allocate does not always say MemoryError (cffi answers a
        # SystemError, cairo an error status): having touched the limit says it.
        if _peak_address_space() >= limit - 2 * 2**20:
            return "memory", None
        return "error", (type(exc).__name__, str(exc)[:500])
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def _resident() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _peak_address_space() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmPeak:"):
                return int(line.split()[1]) * 1024
    return 0
