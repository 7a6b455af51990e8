"""The launcher: `make run`, that is `python -m app.serve`. Start the service, keep it, stop it.

    check       -> the settings (app/config.py: production refuses what it cannot run with)
    schema      -> brought to head once, here, before any server process starts
    dev key     -> development only: `<var>/dev-api-key`, with every scope, made on first start
    start       -> gunicorn (gunicorn_conf.py) and the background process (background.py);
                   with HEALTH_PORT, the liveness probe's own port (health.py), served here
    supervise   -> SIGTERM or SIGINT: both stop gracefully, and the launcher exits 0; if either
                   dies by itself, the other is stopped and the launcher exits 1, so whatever
                   runs the launcher (systemd, a container runtime) restarts the whole service

The children run in sessions of their own: Ctrl-C at a terminal reaches the launcher only,
which turns it into the graceful SIGTERM (gunicorn takes SIGINT as "stop at once").
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

from flask import Flask

from app import create_app
from app.auth import ensure_dev_key
from app.config import ConfigError
from app.serve.health import HealthServer
from app.store.schema import SchemaNotCurrent

# Beyond the graceful timeout, how long to wait before a child that does not stop is killed.
KILL_MARGIN = 10.0
PR_SET_PDEATHSIG = 1
CHECK_SECONDS = 5.0


def main() -> int:
    try:
        # create_app brings the schema to head here, once, under the schema lock
        # (SCHEMA_AUTO_UPGRADE, app/store/schema.py); the children only check it.
        app = create_app()
    except ConfigError as error:
        for problem in error.problems:
            print(f"touchpoint: cannot start: {problem}", file=sys.stderr)
        return 2
    except SchemaNotCurrent as problem:  # SCHEMA_AUTO_UPGRADE=false and a deploy step missed
        print(f"touchpoint: cannot start: {problem}", file=sys.stderr)
        return 2
    taken = _address_taken(app.config["HOST"], int(app.config["PORT"]))
    if taken:
        print(f"touchpoint: cannot start: PORT {app.config['PORT']} on HOST {app.config['HOST']!r} "
              f"is in use by another process ({taken}); stop it or set PORT", file=sys.stderr)
        return 2
    probes = None
    if app.config["HEALTH_PORT"]:
        try:
            probes = HealthServer(app.config["HOST"], int(app.config["HEALTH_PORT"]))
        except OSError as error:
            print(f"touchpoint: cannot start: HEALTH_PORT {app.config['HEALTH_PORT']} on HOST "
                  f"{app.config['HOST']!r} cannot be listened on ({error.strerror or error}); "
                  "stop what holds it or set HEALTH_PORT", file=sys.stderr)
            return 2
    _announce_dev_key(app)
    environment = child_environment(app.config)
    children = {"web": _start(["-m", "gunicorn", "-c", "python:app.serve.gunicorn_conf"], environment)}
    if _has_background_work(app):
        children["background"] = _start(["-m", "app.serve.background"], environment)
    _announce(app, children)
    if probes is not None:
        probes.start(children)
    try:
        return supervise(children, float(app.config["GRACEFUL_TIMEOUT"]))
    finally:
        if probes is not None:
            probes.stop()


def _address_taken(host: str, port: int) -> str | None:
    """Why another process holds the address, or None. The web processes bind it with
    SO_REUSEPORT (gunicorn_conf.py), which would let a second service share it silently: a
    plain bind, with only SO_REUSEADDR (TIME_WAIT connections do not count), tells."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def _announce_dev_key(app: Flask) -> None:
    """Development: the key for trying the API, with every scope, where the README says."""
    if app.config["TOUCHPOINT_ENV"] != "development":
        return
    path, made = ensure_dev_key(app)
    said = "made now, with every scope" if made else "with every scope"
    print(f"touchpoint: development API key in {path} ({said}):\n"
          f"  curl -H \"Authorization: Bearer $(cat {path})\" …", file=sys.stderr)


def child_environment(config: Any) -> dict[str, str]:
    environment = dict(os.environ)
    # The schema is at head now: the children check it, none of them upgrades it.
    environment["SCHEMA_AUTO_UPGRADE"] = "false"
    # Every child uses the same development key file under var/ (config.load made it).
    environment.setdefault("TOUCHPOINT_VAR_DIR", config["VAR_DIR"])
    if "PROMETHEUS_MULTIPROC_DIR" not in environment:
        # Several processes record metrics; /metrics adds them up from one folder, emptied at
        # each start (prometheus_client's multiprocess mode). An operator's own folder is
        # left as it is: Celery workers may share it.
        folder = Path(config["VAR_DIR"]) / "prometheus"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        environment["PROMETHEUS_MULTIPROC_DIR"] = str(folder)
    return environment


def _has_background_work(app: Flask) -> bool:
    return bool(app.config["JOB_RUNNER"] or app.config["WEBHOOK_RUNNER"])


def _start(arguments: list[str], environment: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, *arguments], env=environment, start_new_session=True,
                            preexec_fn=_die_with_parent)


def _die_with_parent() -> None:
    """If the launcher is killed outright, its children get the graceful SIGTERM (Linux)."""
    # Not Linux: children outlive a killed launcher, as with any other supervisor.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _announce(app: Flask, children: dict[str, subprocess.Popen[bytes]]) -> None:
    config = app.config
    workers = config["WEB_CONCURRENCY"] or os.cpu_count() or 1
    health = f"; liveness on port {config['HEALTH_PORT']}" if config["HEALTH_PORT"] else ""
    print(f"touchpoint: serving on http://{config['HOST']}:{config['PORT']} "
          f"({config['TOUCHPOINT_ENV']}; gunicorn, {workers} processes x {config['WEB_THREADS']} threads; "
          f"links to {config['PUBLIC_BASE_URL']}{health}); "
          + ", ".join(f"{name} pid {child.pid}" for name, child in children.items()),
          file=sys.stderr)


def supervise(children: dict[str, subprocess.Popen[bytes]], graceful_timeout: float) -> int:
    """Wait for a stop signal or for a child to end; then stop every child, gracefully."""
    event = threading.Event()
    asked: list[int] = []

    def stop_asked(signum: int, _frame: object) -> None:
        asked.append(signum)
        event.set()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, stop_asked)
    # A child that ends wakes the wait at once.
    signal.signal(signal.SIGCHLD, lambda *_: event.set())
    while not asked and all(child.poll() is None for child in children.values()):
        # A signal ends the wait at once; the timeout only guards against a missed wake-up.
        event.wait(CHECK_SECONDS)
        event.clear()
    ended = {name: child.returncode for name, child in children.items() if child.poll() is not None}
    if ended and not asked:
        print(f"touchpoint: {', '.join(f'{name} exited {code}' for name, code in ended.items())}; "
              "stopping the rest", file=sys.stderr)
    codes = _stop(children, graceful_timeout)
    return 0 if asked and all(code == 0 for code in codes.values()) else 1


def _stop(children: dict[str, subprocess.Popen[bytes]], graceful_timeout: float) -> dict[str, int]:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    codes = {}
    for name, child in children.items():
        try:
            codes[name] = child.wait(graceful_timeout + KILL_MARGIN)
        except subprocess.TimeoutExpired:
            print(f"touchpoint: {name} did not stop within {graceful_timeout + KILL_MARGIN:g} s; killing it",
                  file=sys.stderr)
            child.kill()
            codes[name] = child.wait()
    return codes
