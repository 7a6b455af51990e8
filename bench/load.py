"""`python -m bench.load [--renders N] [--concurrency C] [--env E]`: the real server under load.

What is run, on loopback, against the server as `make run` starts it (`python -m app.serve`:
gunicorn with one process per core, the background process, the default SQLite archive), in a
fresh var folder. By default it runs as deployed, with TOUCHPOINT_ENV=production (an https
PUBLIC_BASE_URL and a SECRET_KEY made for the run; templates are not re-checked on disk per
render) and a key made by `flask keys create`; `--env development` runs `make run`'s own
settings with its development key instead:
- a warm-up of a few renders per server thread (each process compiles its templates on its
  first render), then a wait until the server's processes are quiet (the job pool warms up
  after the server is ready), neither counted;
- N email-only renders (default 2,000; invoice/capsules-nl, each its own reference) by C
  clients at once (default 16), each client on one kept-alive connection; and, spread through
  them, 50 requests that share 5 Idempotency-Keys, 10 a key back to back so that they race.

What is printed: renders per second, p50 and p99 of the email renders, the CPU seconds the
server's processes and this load generator used (and the machine's share busy), every
answer that was neither 201 nor, for a shared key, 409 (a key still in flight, CONTRACT.md),
the "database is locked" lines in the server's log, messages stored per idempotency key,
and the median and p99 milliseconds of each pipeline stage, from the server's JSON render lines;
then the floor, measured in this process right after: the same email's compiled Jinja template
rendered alone, and the server's CPU per render as a multiple of it (this machine's speed
varies from run to run; the ratio does much less).
Times are figures, not verdicts; the exit status is 1 only for a correctness failure
(an error, a locked database, a key with other than one message, a server that did not stop
cleanly). The goal, on 2 cores: at least 300 email renders per second, p99 under 100 ms.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import secrets
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.pipeline import prepare_message
from app.templating import compiled
from bench import proc
from bench.proc import cpu_seconds, free_port, machine_ticks, process_tree, wait_until_quiet
from bench.render import bench_app

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "invoice" / "capsules-nl.json"
CORES = os.cpu_count() or 1
IDEMPOTENT_KEYS = 5
PER_KEY = 10
START_DEADLINE = 120.0
STOP_DEADLINE = 60.0


# The server.

def server_environment(var_dir: Path, port: int, env: str) -> dict[str, str]:
    """The embedded defaults under var_dir, with JSON logs so they can be read back."""
    production = {"PUBLIC_BASE_URL": "https://touchpoint.invalid",
                  "SECRET_KEY": secrets.token_urlsafe(48)} if env == "production" else {}
    return proc.server_environment(var_dir, port, LOG_FORMAT="json", TOUCHPOINT_ENV=env, **production)


def production_key(environment: dict[str, str]) -> str:
    """A render key, made as an operator makes one: the last line `keys create` prints."""
    made = subprocess.run([sys.executable, "-m", "flask", "--app", "app", "keys", "create",
                           "--name", "load", "--scope", "render"],
                          cwd=ROOT, env=environment, check=True, capture_output=True, text=True)
    return made.stdout.strip().splitlines()[-1]


def start_server(environment: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """The server the way `make run` starts it."""
    with log_path.open("wb") as log:
        return subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=ROOT, env=environment,
                                stdout=log, stderr=subprocess.STDOUT)


def wait_ready(server: subprocess.Popen[bytes], port: int) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"the server exited with {server.returncode} before it was ready")
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            connection.request("GET", "/readyz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            connection.close()
        time.sleep(0.2)  # polling a starting server: nothing to wait on but the next try
    raise SystemExit(f"the server was not ready within {START_DEADLINE:g} s")


def stop_server(server: subprocess.Popen[bytes]) -> int:
    server.send_signal(signal.SIGTERM)
    try:
        return server.wait(STOP_DEADLINE)
    except subprocess.TimeoutExpired:
        server.kill()
        return server.wait()


# The load.

@dataclass
class Call:
    body: bytes
    idempotency_key: str | None = None


@dataclass
class Results:
    latencies: list[float] = field(default_factory=list)
    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    closed: int = 0  # answers that said `Connection: close` (app/serve/balance.py)
    lock: threading.Lock = field(default_factory=threading.Lock)


def render_body(reference: str) -> bytes:
    document = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return json.dumps({**document, "channels": ["email"], "reference": reference}).encode()


def workload(renders: int) -> list[Call]:
    """N plain renders with the shared-key bursts spread through them."""
    calls = [Call(render_body(f"load-{index}")) for index in range(renders)]
    step = max(1, renders // (IDEMPOTENT_KEYS + 1))
    for key in reversed(range(IDEMPOTENT_KEYS)):
        body = render_body(f"idem-{key}")
        burst = [Call(body, f"load-key-{key}") for _ in range(PER_KEY)]
        at = min(len(calls), (key + 1) * step)
        calls[at:at] = burst
    return calls


def client(port: int, key: str, calls: list[Call], next_call: Any, results: Results) -> None:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    while (index := next_call()) is not None:
        call = calls[index]
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        if call.idempotency_key:
            headers["Idempotency-Key"] = call.idempotency_key
        started = time.perf_counter()
        try:
            connection.request("POST", "/v1/render", body=call.body, headers=headers)
            response = connection.getresponse()
            answer = response.read()
            status = response.status
        except (OSError, http.client.HTTPException) as error:
            connection.close()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            with results.lock:
                results.errors.append(f"{type(error).__name__}: {error}")
            continue
        elapsed = time.perf_counter() - started
        kind = "shared key" if call.idempotency_key else "render"
        with results.lock:
            results.statuses[(kind, status)] += 1
            results.closed += response.getheader("Connection") == "close"
            if kind == "render" and status == 201:
                results.latencies.append(elapsed)
            expected = (201, 409) if call.idempotency_key else (201,)
            if status not in expected:
                results.errors.append(f"{kind} {status}: {answer[:200]!r}")
    connection.close()


def run_load(port: int, key: str, calls: list[Call], concurrency: int) -> tuple[Results, float]:
    results = Results()
    position = iter(range(len(calls)))
    taking = threading.Lock()

    def next_call() -> int | None:
        with taking:
            return next(position, None)

    threads = [threading.Thread(target=client, args=(port, key, calls, next_call, results))
               for _ in range(concurrency)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results, time.perf_counter() - started


# The floor, measured in the same run.

def jinja_floor_ms(rounds: int = 500) -> float:
    """CPU ms of the floor: the same email's compiled template rendered alone (bench/render.py's
    `jinja email`), in this process, right after the load. Every render must at least run it,
    and the machine's speed of the moment shows in it as much as in the server's CPU."""
    with tempfile.TemporaryDirectory() as folder:
        app = bench_app(Path(folder), auto_reload=False)
        with app.app_context():
            message, _ = prepare_message(json.loads(render_body("floor")))
            context = {**message.context, "channel": "email"}
            email = compiled("email/invoice/email.mjml", context)
            email.render(context)
            started = time.process_time()
            for _ in range(rounds):
                email.render(context)
            spent = time.process_time() - started
        app.extensions["touchpoint.engine"].dispose()
    return spent / rounds * 1000


# What the server stored and logged.

def messages_per_reference(database: Path) -> Counter[str]:
    with sqlite3.connect(database) as db:
        return Counter(dict(db.execute(
            "SELECT reference, count(*) FROM messages WHERE reference LIKE 'idem-%' GROUP BY reference")))


def read_log(log_path: Path) -> tuple[int, dict[str, list[float]], Counter[int]]:
    """'database is locked' lines, milliseconds per stage (and per request), and renders served
    per web process, from JSON lines."""
    locked = 0
    stages: dict[str, list[float]] = {}
    served: Counter[int] = Counter()
    for line in log_path.read_text(errors="replace").splitlines():
        if "database is locked" in line:
            locked += 1
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("msg") == "render" and record.get("channels") == ["email"]:
            for stage, ms in record["stages"].items():
                stages.setdefault(stage, []).append(ms)
            stages.setdefault("render total", []).append(record["ms"])
        elif record.get("msg") == "request" and record.get("path") == "/v1/render":
            stages.setdefault("request (server side)", []).append(record["ms"])
            served[record.get("pid", 0)] += 1
    return locked, stages, served


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


# The report.

def report(args: argparse.Namespace, results: Results, seconds: float, cpu_by_pid: dict[int, float],
           client_cpu: float, busy_share: float, floor_ms: float, locked: int, per_key: Counter[str],
           stages: dict[str, list[float]], served: Counter[int], exit_code: int) -> list[str]:
    """Print the figures; answer the correctness failures."""
    latencies = results.latencies
    server_cpu = sum(cpu_by_pid.values())
    print(f"server: gunicorn via `python -m app.serve` on 127.0.0.1, {CORES} cores, SQLite (default), "
          f"TOUCHPOINT_ENV={args.env}")
    print(f"load: {args.renders} email renders + {IDEMPOTENT_KEYS * PER_KEY} requests sharing "
          f"{IDEMPOTENT_KEYS} Idempotency-Keys, {args.concurrency} clients at once")
    print(f"throughput: {len(latencies) / seconds:.0f} email renders/s "
          f"({len(latencies)} in {seconds:.2f} s; goal >= 300/s on 2 cores)")
    print(f"latency: p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
          f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms (goal p99 < 100 ms)")
    per_render = server_cpu / len(latencies) * 1000
    print(f"cpu: server {server_cpu:.1f} s ({per_render:.2f} ms per render), "
          f"load generator {client_cpu:.1f} s; machine {busy_share:.0%} busy over the run")
    # How the renders and the CPU fell on the web processes (a socket each: the kernel spreads
    # the connections), and what the other processes (launcher, background, its pool) used.
    web = [pid for pid in sorted(served) if pid in cpu_by_pid]
    others = server_cpu - sum(cpu_by_pid[pid] for pid in web)
    print("by process (requests with the warm-up): " + ", ".join(
        f"web {pid} {served[pid]} requests, {cpu_by_pid[pid]:.1f} s" for pid in web)
        + f"; the others {others:.1f} s")
    print(f"floor: the email's Jinja render alone {floor_ms:.3f} ms CPU in this run; a served render "
          f"costs {per_render / floor_ms:.1f}x that (HTTP, keys, limits, all stages, the archive)")
    print("answers: " + ", ".join(f"{kind} {status}: {count}"
                                  for (kind, status), count in sorted(results.statuses.items())))
    print(f"connections: {args.concurrency} kept alive, {results.closed} closed by the server after "
          "an answer (a process over its share of them closes one; its client reconnects)")
    print("server-side ms per stage, median / p99: " + ", ".join(
        f"{stage} {statistics.median(values):.2f} / {percentile(values, 0.99):.1f}"
        for stage, values in stages.items() if values))
    failures = [f"{len(results.errors)} errors, e.g. {results.errors[:3]}"] if results.errors else []
    print(f"errors: {len(results.errors)}; 'database is locked' in the log: {locked}")
    expected = {f"idem-{key}": 1 for key in range(IDEMPOTENT_KEYS)}
    print("messages per idempotency key: " + ", ".join(f"{ref} {per_key.get(ref, 0)}" for ref in expected))
    if locked:
        failures.append(f"{locked} 'database is locked' lines")
    if dict(per_key) != expected:
        failures.append(f"messages per idempotency key: {dict(per_key)}, not one each")
    if exit_code != 0:
        failures.append(f"the server exited {exit_code} after SIGTERM")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.split("\n")[0])
    parser.add_argument("--renders", type=int, default=2000, help="email renders (default 2000)")
    parser.add_argument("--concurrency", type=int, default=16, help="clients at once (default 16)")
    parser.add_argument("--env", choices=("production", "development"), default="production",
                        help="TOUCHPOINT_ENV of the server (default production)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary var folder and log")
    args = parser.parse_args(argv)

    var_dir = Path(tempfile.mkdtemp(prefix="touchpoint-load-"))
    log_path = var_dir / "server.log"
    port = free_port()
    environment = server_environment(var_dir, port, args.env)
    key = production_key(environment) if args.env == "production" else None
    server = start_server(environment, log_path)
    try:
        wait_ready(server, port)
        key = key or (var_dir / "dev-api-key").read_text().strip()
        warm, _ = run_load(port, key, [Call(render_body(f"warm-{i}")) for i in range(4 * args.concurrency)],
                           args.concurrency)
        if warm.errors:
            print(f"warm-up failed: {warm.errors[:3]}", file=sys.stderr)
            return 1
        # The background process's job pool warms WeasyPrint up in each of its processes after
        # the server is ready: seconds of CPU that are no render's.
        wait_until_quiet(server.pid)
        calls = workload(args.renders)
        pids = process_tree(server.pid)
        cpu_before = {pid: cpu_seconds([pid]) for pid in pids}
        busy_before, client_before = machine_ticks(), time.process_time()
        results, seconds = run_load(port, key, calls, args.concurrency)
        cpu_by_pid = {pid: cpu_seconds([pid]) - before for pid, before in cpu_before.items()}
        client_cpu = time.process_time() - client_before
        busy_after = machine_ticks()
        busy_share = (busy_after[0] - busy_before[0]) / max(1, busy_after[1] - busy_before[1])
    finally:
        exit_code = stop_server(server)
    locked, stages, served = read_log(log_path)
    per_key = messages_per_reference(var_dir / "touchpoint.db")
    floor_ms = jinja_floor_ms()
    failures = report(args, results, seconds, cpu_by_pid, client_cpu, busy_share, floor_ms, locked,
                      per_key, stages, served, exit_code)
    if args.keep:
        print(f"kept: {var_dir}")
    else:
        import shutil

        shutil.rmtree(var_dir, ignore_errors=True)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
