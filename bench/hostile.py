"""Hostile input against the real server (`python -m app.serve`, as `make run` starts it).

For each pathological request: the time to answer, its status, the peak RSS of the serving
processes (the largest one) and of the whole tree (launcher, gunicorn, background process,
PDF children; as PSS, so pages the forked children share with their forkserver count once)
and, afterwards, how far each process and the tree are from idle. Then the sandbox's
overhead per PDF against the direct call on the same document, in this process.

    .venv/bin/python -m bench.hostile

Goals: every pathological render answers within 25 s, no process over 700 MB, the tree back
within 50 MB of idle afterwards, /healthz within 1 s while four of them run at once. /healthz
is asked of both ports that answer it: the web port, where a web process's thread answers, and
the health port (HEALTH_PORT, app/serve/health.py), where the launcher does.
"""

from __future__ import annotations

import base64
import http.client
import io
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.proc import free_port, process_tree

ROOT = Path(__file__).resolve().parent.parent
MB = 2**20


def rss(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def pss(pid: int) -> int:
    """Proportional set size: a shared page counts its share in each process that maps it."""
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


class Sampler:
    """Samples the tree's RSS every 50 ms: the peak of its largest process and of the sum."""

    def __init__(self, root: int) -> None:
        self.root, self.peak_one, self.peak_sum = root, 0, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            pids = process_tree(self.root)
            self.peak_one = max(self.peak_one, *(rss(pid) for pid in pids))
            self.peak_sum = max(self.peak_sum, sum(pss(pid) for pid in pids))

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def call(port: int, key: str | None, method: str, path: str, body: Any = None,
         timeout: float = 120) -> tuple[int, float]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    started = time.perf_counter()
    connection.request(method, path, json.dumps(body) if body is not None else None, headers)
    response = connection.getresponse()
    response.read()
    connection.close()
    return response.status, time.perf_counter() - started


def fixture(name: str) -> dict[str, Any]:
    return json.loads((ROOT / "fixtures" / f"{name}.json").read_text())


def long_word_invoice() -> dict[str, Any]:
    document = fixture("invoice/capsules-nl")
    line = document["data"]["lines"][0]
    document["data"]["lines"] = [{**line, "description": "x" * 2000} for _ in range(1000)]
    del document["data"]["totals"]
    return document


def slow_invoice() -> dict[str, Any]:
    """Passes the cheap checks (about 34 pages estimated) but takes longer than 20 s to lay
    out: what only the sandbox's time limit stops."""
    document = fixture("invoice/capsules-nl")
    line = document["data"]["lines"][0]
    description = "Arpeggia capsules, sleeve of 10, " * 4
    document["data"]["lines"] = [{**line, "description": description} for _ in range(1000)]
    del document["data"]["totals"]
    document["channels"] = ["pdf"]
    return document


def big_photo() -> dict[str, Any]:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (6300, 6300), "#8a5").save(buffer, "PNG")
    document = fixture("appointment/confirmation-nl")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    document["data"]["advisor"]["photo"] = f"data:image/png;base64,{encoded}"
    print(f"(the photo: {len(buffer.getvalue()) // 1024} KB of PNG)")
    return document


def snapshot(root: int) -> dict[int, int]:
    return {pid: pss(pid) for pid in process_tree(root)}


def measure(server: subprocess.Popen[bytes], ports: tuple[int, int], key: str, name: str,
            body: dict[str, Any], at_once: int = 1) -> None:
    """`at_once` renders of `body`, with /healthz asked of the web port and of the health port
    meanwhile, every 0.1 s each."""
    port, health_port = ports
    with Sampler(server.pid) as sampler:
        health: dict[int, list[float]] = {port: [], health_port: []}
        done = threading.Event()

        def poll(asked: int) -> None:
            while not done.is_set():
                health[asked].append(call(asked, None, "GET", "/healthz", timeout=30)[1])
                time.sleep(0.1)

        pollers = [threading.Thread(target=poll, args=(asked,), daemon=True) for asked in health]
        for poller in pollers:
            poller.start()
        with ThreadPoolExecutor(at_once) as pool:
            answers = list(pool.map(lambda _: call(port, key, "POST", "/v1/render", body), range(at_once)))
        done.set()
        for poller in pollers:
            poller.join()
    statuses = sorted({status for status, _ in answers})
    slowest = max(seconds for _, seconds in answers)
    print(f"{name:<44} x{at_once}  status {statuses}  answer {slowest:6.2f} s  "
          f"peak RSS one process {sampler.peak_one / MB:5.0f} MB, tree {sampler.peak_sum / MB:5.0f} MB  "
          f"/healthz max: web port {max(health[port]):.3f} s, health port {max(health[health_port]):.3f} s")


def overhead() -> None:
    """Median time per PDF, direct and through the sandbox, on the same document."""
    from app import create_app
    from app.channels import layout, pdf
    from app.pipeline import prepare_message
    from app.store import artifacts

    folder = tempfile.mkdtemp()
    app = create_app({"SECRET_KEY": "x" * 40, "PUBLIC_BASE_URL": "http://bench.test",
                      "DATABASE_URL": f"sqlite:///{folder}/db.sqlite", "ARTIFACT_DIR": f"{folder}/artifacts",
                      "JOB_RUNNER": False, "WEBHOOK_RUNNER": False})
    with app.test_request_context():
        message, enriched = prepare_message(fixture("invoice/capsules-nl"))
        html, einvoice, _ = pdf.document_source(message, enriched)
        args = (html, artifacts().root, enriched.public_base_url, einvoice, enriched.now)
        pdf.render_bounded(*args, app.config)  # the child starts and warms up
        layout.lay_out(*args)
        timings: dict[str, list[float]] = {"direct": [], "sandbox": []}
        for _ in range(15):
            for kind, run in (("direct", lambda: layout.lay_out(*args)),
                              ("sandbox", lambda: pdf.render_bounded(*args, app.config))):
                started = time.perf_counter()
                run()
                timings[kind].append(time.perf_counter() - started)
    direct, boxed = (statistics.median(timings[k]) for k in ("direct", "sandbox"))
    print(f"per-PDF sandbox overhead (invoice/capsules-nl, median of 15): direct {direct * 1000:.1f} ms, "
          f"sandbox {boxed * 1000:.1f} ms, ratio {boxed / direct:.3f}")


def main() -> None:
    var_dir = Path(tempfile.mkdtemp(prefix="touchpoint-hostile-"))
    port, health_port = free_port(), free_port()
    environment = {k: v for k, v in os.environ.items()
                   if k not in ("DATABASE_URL", "ARTIFACT_DIR", "PUBLIC_BASE_URL", "SECRET_KEY")}
    environment.update(TOUCHPOINT_VAR_DIR=str(var_dir), PORT=str(port), HEALTH_PORT=str(health_port))
    log = open(var_dir / "server.log", "wb")  # noqa: SIM115 (open while the server runs)
    server = subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=ROOT, env=environment,
                              stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                key_made = (var_dir / "dev-api-key").exists()
                if key_made and call(port, None, "GET", "/healthz", timeout=2)[0] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit(f"the server did not start; see {var_dir / 'server.log'}")
            time.sleep(0.2)
        key = (var_dir / "dev-api-key").read_text().strip()
        # One ordinary render per worker, so idle means warmed (templates, PDF children).
        for _ in range(4):
            call(port, key, "POST", "/v1/render", fixture("invoice/capsules-nl"))
        time.sleep(1)
        idle = snapshot(server.pid)
        print(f"idle: serving tree {sum(idle.values()) / MB:.0f} MB PSS ({len(idle)} processes), "
              f"largest process {max(rss(pid) for pid in idle) / MB:.0f} MB RSS")
        ports = (port, health_port)
        measure(server, ports, key, "invoice 1,000 lines x 2,000-char word", long_word_invoice())
        measure(server, ports, key, "advisor photo PNG 6,300 x 6,300", big_photo())
        measure(server, ports, key, "invoice 1,000 lines x 2,000-char word", long_word_invoice(), at_once=4)
        measure(server, ports, key, "invoice 1,000 lines that pass the checks", slow_invoice())
        measure(server, ports, key, "invoice 1,000 lines that pass the checks", slow_invoice(), at_once=4)
        time.sleep(2)
        after = snapshot(server.pid)
        kept = [pid for pid in after if pid in idle]
        growth = max(after[pid] - idle[pid] for pid in kept)
        print(f"afterwards: serving tree {sum(after.values()) / MB:.0f} MB PSS "
              f"({(sum(after.values()) - sum(idle.values())) / MB:+.0f} MB from idle); the most any "
              f"process that was there at idle grew: {growth / MB:+.0f} MB")
    finally:
        server.terminate()
        server.wait(60)
        log.close()
    overhead()


if __name__ == "__main__":
    main()
