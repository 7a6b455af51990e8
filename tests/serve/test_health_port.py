"""The health port's server (app/serve/health.py) on its own, with processes of our making."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys

from app.serve.health import HealthServer


def _get(port: int) -> tuple[int, dict[str, object]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/healthz")
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def test_a_process_that_ended_makes_the_service_unavailable_and_is_named() -> None:
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    ended = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    ended.wait(30)
    probes = HealthServer("127.0.0.1", 0)
    try:
        probes.start({"web": running, "background": ended})
        port = probes.server_address[1]
        assert _get(port) == (503, {"status": "unavailable",
                                    "processes": {"web": "running", "background": "exited 3"}})
        probes.children = {"web": running}
        assert _get(port) == (200, {"status": "ok", "processes": {"web": "running"}})
    finally:
        probes.stop()
        running.kill()
        running.wait()


def test_a_server_never_started_stops_at_once() -> None:
    probes = HealthServer("127.0.0.1", 0)
    probes.stop()
    assert probes.socket.fileno() == -1
