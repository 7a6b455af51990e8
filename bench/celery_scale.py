"""`python -m bench.celery_scale N`: the scaled-out runner with 1, then 2 Celery worker processes.

The same bills as `bench.billrun` (email + PDF, 13 to 24 months of usage), posted as one NDJSON
job to a service configured for scale: PostgreSQL as the coordinator and a broker, each of the
bench's own and removed afterwards, made with bench.jobs' helpers (TEST_POSTGRES_URL, default
the `test` database on 127.0.0.1; BENCH_BROKER_URL, default Redis). bench.jobs times Celery
with 1 and 2 processes too, beside the embedded runner; this adds PostgreSQL's CPU per bill
and checks the archive. For each worker count, `celery -A app.worker worker -c W` is started,
warmed on 2 bills a process, then timed on N bills from the job's acceptance to its end.

Printed per run: bills per second, the workers' and PostgreSQL's CPU per bill; then the
speed-up of 2 processes over 1 (the goal is 1.9x), the database queries per item on
PostgreSQL (counted in this process on the same path), and from PostgreSQL's CPU per bill the
items per second one PostgreSQL core would coordinate. PostgreSQL's CPU is every `postgres`
process on the machine: other clients count too. Figures are printed, never asserted; the exit
status is 1 when a job does not end done or a bill is not archived exactly once with its PDF
(tests/bench/test_billrun.py runs it with N = 4).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import create_app
from app.auth import SCOPES, keys
from app.store import session
from app.store.models import Message
from bench.billrun import bills, queries_per_item
from bench.jobs import BROKER_URL, forget_queue, schema
from bench.proc import cpu_seconds, process_tree

ROOT = Path(__file__).resolve().parent.parent
POLL = 0.5
PATIENCE = 6 * 3600.0


def postgres_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    found.append(int(entry.name))
            except OSError:
                continue
    return found


@contextmanager
def worker(settings: dict[str, Any], processes: int, log_path: Path) -> Iterator[subprocess.Popen[bytes]]:
    """`celery -A app.worker worker -c processes` on the bench's queue, stopped warm (SIGTERM)."""
    environment = {**os.environ, **{name: value if isinstance(value, str) else json.dumps(value)
                                    for name, value in settings.items()}}
    command = [sys.executable, "-m", "celery", "-A", "app.worker", "worker", "--pool=prefork",
               "-c", str(processes), "-Q", settings["CELERY_QUEUE"], "-n", f"bench-{uuid.uuid4().hex[:6]}@%h",
               "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield process
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=120)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def run_job(client: FlaskClient, count: int, prefix: str) -> dict[str, Any]:
    body = b"".join(json.dumps(bill, ensure_ascii=False).encode() + b"\n"
                    for bill in bills(count, prefix=prefix))
    answer = client.post("/v1/jobs", data=body, content_type="application/x-ndjson")
    if answer.status_code != 202:
        raise SystemExit(f"the job was refused: {answer.status_code} {answer.get_data(as_text=True)}")
    deadline = time.monotonic() + PATIENCE
    while (state := client.get(f"/v1/jobs/{answer.json['id']}").json)["status"] in (
            "receiving", "queued", "running"):
        if time.monotonic() > deadline:
            raise SystemExit("the job did not finish in time")
        time.sleep(POLL)  # a job's end is read by asking
    return state


def timed_run(client: FlaskClient, settings: dict[str, Any], processes: int, count: int,
              workdir: Path) -> dict[str, Any]:
    with worker(settings, processes, workdir / f"worker-{processes}.log") as process:
        run_job(client, 2 * processes, prefix=f"warm{processes}")
        tree, database = process_tree(process.pid), postgres_pids()
        worker_before, database_before = cpu_seconds(tree), cpu_seconds(database)
        started = time.perf_counter()
        state = run_job(client, count, prefix=f"run{processes}")
        elapsed = time.perf_counter() - started
        return {"processes": processes, "state": state, "seconds": elapsed,
                "worker_cpu": cpu_seconds(process_tree(process.pid)) - worker_before,
                "database_cpu": cpu_seconds(database) - database_before}


def scaled_app(database_url: str, workdir: Path, queue: str, prefix: str,
               count: int) -> tuple[Flask, dict[str, Any]]:
    settings = {"SECRET_KEY": "bench-celery-scale", "DATABASE_URL": database_url,
                "ARTIFACT_DIR": str(workdir / "artifacts"), "PUBLIC_BASE_URL": "http://touchpoint.bench",
                "CELERY_BROKER_URL": BROKER_URL, "CELERY_QUEUE": queue,
                "CELERY_BROKER_TRANSPORT_OPTIONS": {"global_keyprefix": prefix},
                "TEMPLATE_AUTO_RELOAD": False,
                # Chunks small enough that both processes have work to the end of the run.
                "JOB_CHUNK_SIZE": max(1, min(10, count // 8))}
    return create_app({**settings, "WEBHOOK_RUNNER": False}), settings


def archived(app: Flask, prefix: str) -> tuple[int, int]:
    """(messages, messages with their PDF ready) archived for the run's bills."""
    with app.app_context():
        documents = session().scalars(select(Message.document).where(Message.reference.startswith(prefix)))
        found = list(documents)
    return len(found), sum(1 for document in found if document["outputs"]["pdf"]["status"] == "ready")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.celery_scale", description=__doc__.split("\n")[0])
    parser.add_argument("bills", type=int, nargs="?", default=200)
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="touchpoint-celery-"))
    unique = uuid.uuid4().hex[:10]
    queue, prefix = f"touchpoint-bench-{unique}", f"tp-bench-{unique}:"
    runs = []
    try:
        with schema() as database_url:
            app, settings = scaled_app(database_url, workdir, queue, prefix, args.bills)
            with app.app_context():
                _, key = keys.create(session(), "bench", list(SCOPES), None)
                session().commit()
            client = app.test_client()
            client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {key}"
            for processes in (1, 2):
                runs.append(timed_run(client, settings, processes, args.bills, workdir))
                runs[-1]["archived"] = archived(app, f"run{processes}-")
            app.extensions["touchpoint.engine"].dispose()
            queries = queries_per_item(workdir, database_url)
    finally:
        forget_queue(queue, {"global_keyprefix": prefix})
    return report(args.bills, runs, queries)


def report(count: int, runs: list[dict[str, Any]], queries: float) -> int:
    print(f"Celery scale: {count} bills (email + PDF) per run, PostgreSQL coordinator, Redis broker, "
          f"{os.cpu_count()} cores")
    rates = []
    for run in runs:
        done = max(run["state"]["done"], 1)
        rates.append(run["state"]["done"] / run["seconds"])
        worker_ms, database_ms = run["worker_cpu"] / done * 1000, run["database_cpu"] / done * 1000
        print(f"{run['processes']} worker process(es): {rates[-1]:.2f} bills/s; CPU per bill: worker "
              f"{worker_ms:.0f} ms, PostgreSQL {database_ms:.1f} ms "
              f"({run['state']['status']}, {run['state']['done']} done, {run['state']['failed']} failed)")
    print(f"speed-up of 2 processes over 1: {rates[1] / rates[0]:.2f}x (goal >= 1.9x)")
    database_ms = runs[-1]["database_cpu"] / max(runs[-1]["state"]["done"], 1) * 1000
    print(f"per item on PostgreSQL: {queries:.1f} queries (counted in-process); at "
          f"{database_ms:.1f} ms of PostgreSQL CPU a bill, one PostgreSQL core coordinates about "
          f"{1000 / max(database_ms, 0.001):.0f} items/s")
    failures = [f"the {run['processes']}-process job ended {run['state']['status']} with "
                f"{run['state']['failed']} failed items" for run in runs
                if run["state"]["status"] != "done" or run["state"]["failed"]]
    failures += [f"the {run['processes']}-process run archived {run['archived'][0]} messages, "
                 f"{run['archived'][1]} with their PDF, for {count} bills" for run in runs
                 if run["archived"] != (count, count)]
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
