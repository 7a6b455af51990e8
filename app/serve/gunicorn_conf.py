"""The web processes' settings: gunicorn, started by the launcher (`python -m app.serve`).

    gunicorn -c python:app.serve.gunicorn_conf

Why gunicorn: the maintained, pre-fork WSGI server that every Flask deployment guide names,
pure Python (nothing to compile), with the graceful stop this service needs (SIGTERM: stop
accepting, finish what is in flight within `graceful_timeout`). Rendering is CPU-bound and
Python holds one core per process, so there is one process per core (WEB_CONCURRENCY); each
runs a few threads (`gthread`, WEB_THREADS) so a request waiting (on SQLite's lock, a file, a
pending PDF's wait) does not leave its core idle, and so connections are kept alive.

The web processes run no job or webhook runner (the launcher's background process does) and
do not upgrade the schema (the launcher did, once, before starting them).
"""

from __future__ import annotations

import gc
import os
from typing import Any

from gunicorn import glogging

# Gunicorn reads every module-level name that is one of its settings (`config` is one).
from app.config import load as _load_settings
from app.logs import logconfig_dict as _logconfig_dict
from app.serve.balance import ConnectionShares, ProcessShare

_settings = _load_settings()

wsgi_app = "app:create_app()"
proc_name = "touchpoint-web"
_host = _settings["HOST"]
bind = [f"[{_host}]:{_settings['PORT']}" if ":" in _host else f"{_host}:{_settings['PORT']}"]
workers = _settings["WEB_CONCURRENCY"] or os.cpu_count() or 1
worker_class = "gthread"
# 4 by default, measured with bench.load on 2 cores (2,000 email renders, 16 clients): CPU per
# render is the same with 1, 2 or 4 threads (10.3, 9.4, 9.1 ms), the throughput best with 4.
# More threads lengthen the store stage's wall time (SQLite has one writer, and a thread that
# holds its lock can wait for the GIL), so this is a default to measure again, not a law.
threads = _settings["WEB_THREADS"]
graceful_timeout = int(_settings["GRACEFUL_TIMEOUT"])  # gunicorn takes whole seconds
# A worker whose main loop is silent this long is killed and replaced. Renders run in the
# worker's threads, not in that loop, so this bounds a hung process, not a long PDF.
timeout = 60
keepalive = 5
# Each worker listens on a socket of its own (SO_REUSEPORT; gunicorn >= 27 binds per worker),
# and the kernel spreads new connections over them. On one shared socket, the worker that
# wakes first accepts everything that is waiting: measured with bench.load, all 16 kept-alive
# connections of a burst landed on one of two workers, which then queued them on its threads
# (and its one core, for Python) while the other worker idled.
reuse_port = True
# ...and a kept-alive connection stays with the process it was handed to: a process that holds
# more than its share answers with `Connection: close`, so that its client is handed out again
# (app/serve/balance.py; the hooks below).
_connection_shares = ConnectionShares(slots=max(8, 2 * workers))
# Each worker builds its own app after the fork: no database connection or thread is shared
# across processes.
preload_app = False
# The workers' heartbeat files on tmpfs where there is one: a slow disk cannot stall them.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# No control socket (gunicorn >= 24 opens one in $HOME by default): nothing here uses it, and
# two services on one machine would share its path.
control_socket_disable = True
# One line per request comes from the app (app/logs.py), with its id and key prefix.
accesslog = None
logconfig_dict = _logconfig_dict(_settings["LOG_FORMAT"], _settings["LOG_LEVEL"])


class _Logger(glogging.Logger):
    """gunicorn's logger without its access log. Given a `logconfig_dict`, gunicorn counts
    the access log as on and builds every request's fields, only for the empty handler list
    to drop the line: about 3 % of a render's CPU."""

    def access(self, resp: Any, req: Any, environ: Any, request_time: Any) -> None:
        return None


logger_class = _Logger


def post_worker_init(worker: Any) -> None:
    """A web process has built its app and serves from now on. Each listens on a socket of its
    own, so /readyz answering says only that one is up: this line names each.

    What the app is built of (modules, compiled templates, fonts: about 170,000 objects) lives
    as long as the process, so `gc.freeze()` takes it out of the garbage collector's view.
    Else each full collection walks all of it with the interpreter held: in one process making
    2,000 email renders, one such pause of 92 to 107 ms, waited out by every request in flight
    in that process. Frozen: 1 to 3 ms."""
    gc.freeze()
    worker.log.info("web process %s ready", worker.pid)


def pre_fork(_server: Any, worker: Any) -> None:
    """In the master, before each web process is forked: its slot in the connection table
    (on the worker object, which the master keeps and the forked process inherits)."""
    worker.connection_share = ProcessShare(_connection_shares, _connection_shares.claim())


def pre_request(worker: Any, request: Any) -> None:
    """In a web process, before each request: publish the connections it holds, and close
    this one after its answer when that is more than its share (app/serve/balance.py)."""
    share = getattr(worker, "connection_share", None)
    held = getattr(worker, "nr_conns", None)  # gthread's count of its open connections
    if share is not None and held is not None and share.close_one(worker.pid, held):
        request.must_close = True
        request.closes_for_share = True


def post_request(worker: Any, request: Any, _environ: Any, _response: Any) -> None:
    """After each answer: a connection closed for the share is no longer counted on."""
    if getattr(request, "closes_for_share", False):
        worker.connection_share.closed()


def child_exit(_server: Any, worker: Any) -> None:
    """A worker is gone: its slot in the connection table is free again, and its live
    metrics leave /metrics (prometheus multiprocess mode)."""
    share = getattr(worker, "connection_share", None)
    if share is not None:
        share.release()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # The gunicorn master loads only its settings; prometheus_client only where it is used.
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
