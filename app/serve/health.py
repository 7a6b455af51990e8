"""The health port (HEALTH_PORT): liveness answered by the launcher, beside the web processes.

    GET /healthz -> 200 {"status": "ok", "processes": {"web": "running", ...}} while every
                    process the launcher started runs; 503, naming the one that ended, in the
                    moment before the launcher stops the rest
    anything else -> 404 (HEAD /healthz answers as GET, without the body)

The web port's own /healthz is answered by a web process's thread. When every thread of that
process is taken (four slow PDFs, four clients that send their body slowly), a probe sent to
it waits for one to be free: measured with bench.hostile, 6.4 to 7.9 s. An orchestrator that
takes that for a dead service restarts it mid-render. The launcher has no render to wait on:
it answers from a thread of its own at once, from what it knows for sure, that its processes
run. A web process that hangs outright is not its to see: gunicorn replaces a worker whose main
loop is silent for its timeout (gunicorn_conf.py), and the launcher stops the service if
gunicorn itself ends. Readiness (`/readyz`, database and files) stays on the web port, where
the work is done.

Off unless HEALTH_PORT is set; it listens on HOST, like the web port.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

# A probe that sends nothing for this long is dropped: it holds a thread of this server only.
PROBE_TIMEOUT = 5.0


def states(children: dict[str, subprocess.Popen[bytes]]) -> dict[str, str]:
    return {name: "running" if child.poll() is None else f"exited {child.returncode}"
            for name, child in children.items()}


class _Probe(BaseHTTPRequestHandler):
    server: HealthServer
    timeout = PROBE_TIMEOUT
    server_version = "touchpoint"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(body=True)

    def do_HEAD(self) -> None:
        self._answer(body=False)

    def _answer(self, body: bool) -> None:
        if self.path.split("?", 1)[0] == "/healthz":
            processes = states(self.server.children)
            alive = all(state == "running" for state in processes.values())
            status, kind = (200 if alive else 503), "application/json"
            answer = {"status": "ok" if alive else "unavailable", "processes": processes}
        else:
            status, kind = 404, "application/problem+json"
            answer = {"type": "about:blank", "title": "Not found", "status": 404,
                      "detail": "The health port answers GET /healthz only."}
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        """A probe every few seconds is not worth a line each."""


class HealthServer(ThreadingHTTPServer):
    """Answers probes from daemon threads; `children` is filled in once they are started."""

    daemon_threads = True

    def __init__(self, host: str, port: int) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.children: dict[str, subprocess.Popen[bytes]] = {}
        self._serving: threading.Thread | None = None
        super().__init__((host, port), _Probe)

    def start(self, children: dict[str, subprocess.Popen[bytes]]) -> None:
        self.children = children
        self._serving = threading.Thread(target=self.serve_forever, name="touchpoint-health", daemon=True)
        self._serving.start()

    def stop(self) -> None:
        if self._serving is not None:
            self.shutdown()
        self.server_close()
