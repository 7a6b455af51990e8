"""`python -m bench.billrun N`: a monthly bill run, really run, on the real server.

N bills (email + PDF) for N customers, each with its own name and 13 to 24 months of usage
(seeded, so two runs render the same bills), go as one NDJSON job to the server started as
`make run` starts it (`python -m app.serve`: gunicorn, and the background process whose
embedded runner has one pool process per core), on the default SQLite archive. It waits for
the job to end and prints:

- bills per second and PDF pages per minute, from the job's acceptance to its end;
- the share of the machine's CPU the server's processes used over that window;
- the RSS of each pool process once it has warmed up, and at the end;
- database queries per item: counted in this process on the same code path (claim, render,
  archive, mark done, as `drain` runs it) over a few of the same bills, since a counter
  cannot reach into the pool's processes; and bytes written per item (files and database).

It exits non-zero when the job does not finish, an item fails, or a bill is not archived
exactly once with its PDF: that is what CI checks, with N = 20 (tests/bench/test_billrun.py).
Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import http.client
import json
import random
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import event

from app import create_app
from app.jobs import ingest
from app.jobs.embedded import drain, rss_bytes
from bench.load import CORES, server_environment, start_server, stop_server, wait_ready
from bench.proc import cpu_seconds, free_port, machine_ticks, process_tree

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "bill" / "electricity-nl.json"
GIVEN = ["An", "Bram", "Chloé", "Dirk", "Elif", "Femke", "Guus", "Hanne", "Ilse", "Jef", "Karim", "Lotte"]
FAMILY = ["De Smet", "Peeters", "Janssens", "Maes", "Claes", "Wouters", "Mertens", "Willems",
          "Dubois", "Lambert", "Van den Broeck", "Goossens"]
QUERY_SAMPLE = 10
POLL = 0.5
PATIENCE = 6 * 3600.0


def bills(count: int, seed: int = 2026, prefix: str = "billrun") -> Iterator[dict[str, Any]]:
    """The run's bills: one per customer, 13 to 24 months of usage ending with the period."""
    base = json.loads(FIXTURE.read_text(encoding="utf-8"))
    rng = random.Random(seed)
    for index in range(count):
        months = 13 + index % 12
        usage = [{"month": _month_before(2026, 10, months - 1 - back),
                  "value": f"{rng.uniform(180, 420):.1f}"} for back in range(months)]
        name = {"given": rng.choice(GIVEN), "family": rng.choice(FAMILY)}
        yield {**base, "channels": ["email", "pdf"], "reference": f"{prefix}-{index}",
               "recipient": {"customer_id": f"c-{prefix}-{index}", "name": name,
                             "email": f"customer{index}@example.com"},
               "data": {**base["data"], "number": f"BILL-2026-11-{index:06d}", "usage": usage}}


def _month_before(year: int, month: int, back: int) -> str:
    total = year * 12 + (month - 1) - back
    return f"{total // 12:04d}-{total % 12 + 1:02d}"


# The run on the real server.

def submit(port: int, key: str, count: int, prefix: str = "billrun") -> str:
    body = b"".join(json.dumps(bill, ensure_ascii=False).encode() + b"\n"
                    for bill in bills(count, prefix=prefix))
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    try:
        connection.request("POST", "/v1/jobs", body=body, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/x-ndjson"})
        response = connection.getresponse()
        answer = json.loads(response.read())
    finally:
        connection.close()
    if response.status != 202:
        raise SystemExit(f"the job was refused: {response.status} {answer}")
    return answer["id"]


def job_state(port: int, key: str, job_id: str) -> dict[str, Any]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", f"/v1/jobs/{job_id}", headers={"Authorization": f"Bearer {key}"})
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


def pool_pids(root: int) -> list[int]:
    """The embedded runner's pool: the multiprocessing children under the server."""
    found = []
    for pid in process_tree(root):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "spawn_main" in command:
            found.append(pid)
    return found


def wait_for_pool(root: int) -> list[int]:
    """The pool's pids once it has one process per core (each warms up as it starts)."""
    deadline = time.monotonic() + 300
    while len(pids := pool_pids(root)) < CORES:
        if time.monotonic() > deadline:
            raise SystemExit("the job pool did not start")
        time.sleep(POLL)  # the pool starts and warms up in the background process
    return pids


def archived(database: Path) -> tuple[int, int, int, int, int]:
    """(messages, messages with a PDF, PDF pages, bytes of artifacts, of which kept as files)
    of the run's bills."""
    run = "reference LIKE 'billrun-%'"
    with sqlite3.connect(database) as db:
        messages = db.execute(f"SELECT count(*) FROM messages WHERE {run}").fetchone()[0]
        with_pdf, pages = db.execute(
            "SELECT count(*), coalesce(sum(json_extract(document, '$.outputs.pdf.pages')), 0) "
            f"FROM messages WHERE {run} AND json_extract(document, '$.outputs.pdf.status') = 'ready'"
        ).fetchone()
        size, on_disk = db.execute(
            "SELECT coalesce(sum(size), 0), coalesce(sum(CASE WHEN path IS NULL THEN 0 ELSE size END), 0) "
            f"FROM artifacts JOIN messages ON messages.id = artifacts.message_id WHERE {run}").fetchone()
    return messages, with_pdf, pages, size, on_disk


def database_bytes(database: Path) -> int:
    """The database with its write-ahead log, where SQLite writes first."""
    return sum(path.stat().st_size for path in (database, database.with_name(database.name + "-wal"))
               if path.exists())


def run_job(port: int, key: str, count: int, prefix: str) -> dict[str, Any]:
    """Submit the bills as one job and answer its state once it has ended."""
    job_id = submit(port, key, count, prefix)
    deadline = time.monotonic() + PATIENCE
    while (state := job_state(port, key, job_id))["status"] in ("receiving", "queued", "running"):
        if time.monotonic() > deadline:
            raise SystemExit("the job did not finish in time")
        time.sleep(POLL)  # a job's end is read by asking; the runner has no one to tell
    return state


# Queries per item, counted here.

def queries_per_item(workdir: Path, database_url: str | None = None) -> float:
    """Queries per item of `drain` (claim, render, archive, mark done), on SQLite in `workdir`
    or on `database_url`."""
    app = create_app({"SECRET_KEY": "bench",
                      "DATABASE_URL": database_url or f"sqlite:///{workdir / 'count.db'}",
                      "ARTIFACT_DIR": str(workdir / "count"), "JOB_RUNNER": False,
                      "WEBHOOK_RUNNER": False, "TEMPLATE_AUTO_RELOAD": False})
    with app.app_context():
        ingest.create_job([(bill, None) for bill in bills(QUERY_SAMPLE + 1)])
    drain(app, limit=1)  # warm: templates compiled, fonts loaded, caches filled
    counted = [0]

    def count(*_: Any) -> None:
        counted[0] += 1

    engine = app.extensions["touchpoint.engine"]
    event.listen(engine, "before_cursor_execute", count)
    ran = drain(app)
    event.remove(engine, "before_cursor_execute", count)
    engine.dispose()
    return counted[0] / max(ran, 1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.billrun", description=__doc__.split("\n")[0])
    parser.add_argument("bills", type=int, nargs="?", default=1000)
    parser.add_argument("--keep", action="store_true", help="keep the var folder and print it")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="touchpoint-billrun-"))
    var_dir, port = workdir / "var", free_port()
    # `make run`'s own settings, with its development key.
    server = start_server(server_environment(var_dir, port, "development"), workdir / "server.log")
    failures: list[str] = []
    try:
        wait_ready(server, port)
        key = (var_dir / "dev-api-key").read_text().strip()
        wait_for_pool(server.pid)
        # Warm: every pool process renders a bill or two before the run is timed.
        run_job(port, key, 2 * CORES, prefix="warm")
        pool = pool_pids(server.pid)
        rss_start = [rss_bytes(pid) / 2**20 for pid in pool]
        database = var_dir / "touchpoint.db"
        db_bytes_before = database_bytes(database)
        tree = process_tree(server.pid)
        cpu_before, machine_before, started = cpu_seconds(tree), machine_ticks(), time.perf_counter()
        state = run_job(port, key, args.bills, prefix="billrun")
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(process_tree(server.pid)) - cpu_before
        machine_after = machine_ticks()
        rss_end = [rss_bytes(pid) / 2**20 for pid in pool_pids(server.pid)]
        messages, with_pdf, pages, size, on_disk = archived(database)
        db_growth = database_bytes(database) - db_bytes_before
    finally:
        exit_code = stop_server(server)
    queries = queries_per_item(workdir)
    busy = (machine_after[0] - machine_before[0]) / max(machine_after[1] - machine_before[1], 1)
    print(f"bill run: {args.bills} bills (email + PDF, 13-24 months of usage each), one NDJSON job, "
          f"embedded runner, {CORES} cores, SQLite")
    print(f"job: {state['status']}, {state['done']} done, {state['failed']} failed, "
          f"ended {elapsed:.1f} s after it was posted (pool warmed on {2 * CORES} bills first)")
    print(f"throughput: {state['done'] / elapsed:.2f} bills/s, {pages / elapsed * 60:.0f} PDF pages/min "
          f"({pages} pages, {pages / max(with_pdf, 1):.2f} a bill)")
    print(f"cpu: server {cpu:.1f} s ({cpu / max(state['done'], 1) * 1000:.0f} ms a bill), "
          f"{cpu / (elapsed * CORES):.0%} of the machine; the machine was {busy:.0%} busy")
    print("pool RSS MB at start: " + ", ".join(f"{value:.0f}" for value in rss_start)
          + "; at the end: " + ", ".join(f"{value:.0f}" for value in rss_end))
    print(f"per item: {queries:.1f} database queries (counted in-process over {QUERY_SAMPLE} bills), "
          f"{size / max(messages, 1) / 1024:.0f} KB of artifacts ({on_disk / max(messages, 1) / 1024:.0f} KB "
          f"of them as files), {db_growth / max(messages, 1) / 1024:.1f} KB of database (the rest of the "
          "artifacts included)")
    if state["status"] != "done" or state["failed"]:
        failures.append(f"job {state['status']} with {state['failed']} failed items")
    if (messages, with_pdf) != (args.bills, args.bills):
        failures.append(f"{messages} messages archived, {with_pdf} with their PDF, for {args.bills} bills")
    if exit_code != 0:
        failures.append(f"the server exited {exit_code} after SIGTERM")
    if args.keep:
        print(f"kept: {workdir}")
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
