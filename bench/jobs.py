"""`python -m bench.jobs [--items N]`: render jobs of bills (email + PDF), measured.

What is measured, in one run, on the same bills (fixture bill/electricity-nl, channels
email and pdf, each item its own reference):
- the single-process floor: `render_message()` in a loop in this process, and raw
  WeasyPrint (`HTML(...).write_pdf()`) on the very HTML the PDF is laid out from;
- the embedded runner with one process per core: a job of N bills, timed from the moment
  its items are queued (the pool already started and warmed up) until the job is finished,
  with the CPU time our processes used over that window as a share of the whole machine;
- the same job on Celery (`celery -A app.worker worker --pool=prefork -c 1`, then `-c 2`,
  on Redis), timed the same way, the scaling from 1 to 2 processes, and the overhead per
  item over the embedded runner with as many processes;
- memory (RSS) of each rendering process after its job.

Both runners use PostgreSQL here (Celery needs it, and the comparison wants one database),
each in a fresh schema dropped afterwards; the embedded runner is also run on its default,
SQLite, unless --skip-sqlite. The 10,000-bill job of the issue takes hours on this machine,
so the figures for 10,000 are extrapolated from the N measured, and labelled so.

Other processes on the machine slow every run down. So each line also says how busy the
whole machine was (every process's CPU time, from /proc/stat) and the CPU seconds our
processes spent per message: a run where the machine was near 100% busy while our share
was low was crowded out, and its wall-clock rate (and the 1.7x goal) says little; the CPU
time per message is what load does not change much, and is what the Celery overhead is
also given in.
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
from sqlalchemy import create_engine, text

from app import create_app
from app.jobs import ingest, runner
from app.jobs.embedded import EmbeddedRunner, rss_bytes
from app.jobs.models import Job
from bench.proc import cpu_seconds, machine_ticks

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "bill" / "electricity-nl.json"
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
BROKER_URL = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/0")
CORES = os.cpu_count() or 1
TARGET = 10_000


def bills(count: int) -> list[dict[str, Any]]:
    base = json.loads(FIXTURE.read_text(encoding="utf-8"))
    return [{**base, "channels": ["email", "pdf"], "reference": f"bench-{index}"} for index in range(count)]


# Measuring processes (Linux /proc).

def busy_share(before: tuple[int, int], after: tuple[int, int]) -> float:
    return (after[0] - before[0]) / max(after[1] - before[1], 1)


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError, IndexError):
                continue
    return found


def load() -> str:
    return " ".join(f"{value:.1f}" for value in os.getloadavg())


@contextmanager
def schema() -> Iterator[str]:
    name = f"tp_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(POSTGRES_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{POSTGRES_URL}?options=-csearch_path%3D{name}"
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        admin.dispose()


def make_app(database_url: str, workdir: Path, **extra: Any) -> Flask:
    return create_app({"SECRET_KEY": "bench", "DATABASE_URL": database_url,
                       "ARTIFACT_DIR": str(workdir / "artifacts"), "JOB_RUNNER": False,
                       "WEBHOOK_RUNNER": False, "TEMPLATE_AUTO_RELOAD": False, **extra})


def queue_job(app: Flask, count: int) -> str:
    with app.app_context():
        job = ingest.create_job([(item, None) for item in bills(count)])
        return job.id


def wait_finished(app: Flask, job_id: str, alive: Any) -> Job:
    maker = app.extensions["touchpoint.db"]
    while True:
        with maker() as db:
            job = db.get(Job, job_id)
            assert job is not None
            if job.finished_at is not None:
                return job
        if not alive():
            raise RuntimeError("the runner stopped before the job finished")
        time.sleep(0.25)


# The measurements.

def single_process(count: int, workdir: Path) -> dict[str, Any]:
    from weasyprint import HTML

    from app.channels import pdf
    from app.channels.layout import OwnAssetsFetcher
    from app.pipeline import commit, prepare_message, render_message
    from app.store import artifacts

    app = make_app(f"sqlite:///{workdir / 'single.db'}", workdir / "single")
    documents = bills(count + 1)
    with app.app_context():
        commit(render_message(documents[0]))  # warm: templates compiled, fonts loaded
        started, cpu_before, machine = time.perf_counter(), time.process_time(), machine_ticks()
        for document in documents[1:]:
            commit(render_message(document))
        rate = count / (time.perf_counter() - started)
        cpu = (time.process_time() - cpu_before) / count
        busy = busy_share(machine, machine_ticks())
        message, enriched = prepare_message(documents[0])
        html, _, _ = pdf.document_source(message, enriched)
        fetcher = OwnAssetsFetcher(artifacts(), enriched.public_base_url)
        started = time.perf_counter()
        for _ in range(count):
            HTML(string=html, base_url=enriched.public_base_url + "/", url_fetcher=fetcher).write_pdf()
        floor = count / (time.perf_counter() - started)
    app.extensions["touchpoint.engine"].dispose()
    return {"rate": rate, "weasyprint_rate": floor, "rss_mb": rss_bytes() / 2**20,
            "cpu_per_message": cpu, "machine_busy": busy}


def embedded(count: int, database_url: str, workdir: Path) -> dict[str, Any]:
    app = make_app(database_url, workdir)
    pool = EmbeddedRunner(app, workers=CORES)
    pool.start()
    try:
        while not pool.wait_ready(0.5):
            if not pool.running:
                raise RuntimeError("the embedded runner could not start")
        load_before = load()
        job_id = queue_job(app, count)
        pids = [os.getpid(), *pool.worker_pids]
        cpu_before, started, machine = cpu_seconds(pids), time.perf_counter(), machine_ticks()
        pool.wake()
        job = wait_finished(app, job_id, lambda: pool.running)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pids) - cpu_before
        busy = busy_share(machine, machine_ticks())
        rss = [rss_bytes(pid) / 2**20 for pid in pool.worker_pids]
    finally:
        pool.stop()
        app.extensions["touchpoint.engine"].dispose()
    return {"processes": CORES, "rate": job.done / elapsed, "elapsed": elapsed, "done": job.done,
            "failed": job.failed, "machine_share": cpu / (elapsed * CORES), "rss_mb": rss,
            "load_before": load_before, "cpu_per_message": cpu / max(job.done, 1), "machine_busy": busy}


def celery(count: int, processes: int, database_url: str, workdir: Path) -> dict[str, Any]:
    unique = uuid.uuid4().hex[:10]
    queue = f"touchpoint-bench-{unique}"
    options = {"global_keyprefix": f"tp-bench-{unique}:"} if BROKER_URL.startswith("redis") else {}
    artifacts = workdir / f"celery-{processes}"
    app = make_app(database_url, artifacts, CELERY_BROKER_URL=BROKER_URL, CELERY_QUEUE=queue,
                   CELERY_BROKER_TRANSPORT_OPTIONS=options)
    env = {**os.environ, "DATABASE_URL": database_url, "ARTIFACT_DIR": str(artifacts / "artifacts"),
           "SECRET_KEY": "bench", "CELERY_BROKER_URL": BROKER_URL, "CELERY_QUEUE": queue,
           "CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps(options), "TEMPLATE_AUTO_RELOAD": "false"}
    log = workdir / f"celery-{processes}.log"
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "app.worker", "worker", "--pool=prefork",
             "-c", str(processes), "-Q", queue, "-n", f"bench-{unique}@%h", "--loglevel=INFO",
             "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
    try:
        while b" ready." not in log.read_bytes():
            if worker.poll() is not None:
                raise RuntimeError(f"the Celery worker stopped:\n{log.read_text()[-2000:]}")
            time.sleep(0.2)
        time.sleep(1.0)  # the pool processes warm WeasyPrint up as the main process says ready
        load_before = load()
        job_id = queue_job(app, count)
        pids = [worker.pid, *children(worker.pid)]
        cpu_before, started, machine = cpu_seconds(pids), time.perf_counter(), machine_ticks()
        with app.app_context():
            runner(app).dispatch(job_id)
        job = wait_finished(app, job_id, lambda: worker.poll() is None)
        elapsed = time.perf_counter() - started
        cpu = cpu_seconds(pids) - cpu_before
        busy = busy_share(machine, machine_ticks())
        rss = {"main": rss_bytes(worker.pid) / 2**20,
               "pool": [rss_bytes(pid) / 2**20 for pid in children(worker.pid)]}
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=60)
        runner(app).stop()
        app.extensions["touchpoint.engine"].dispose()
        forget_queue(queue, options)
    return {"processes": processes, "rate": job.done / elapsed, "elapsed": elapsed, "done": job.done,
            "failed": job.failed, "machine_share": cpu / (elapsed * CORES), "rss_mb": rss,
            "load_before": load_before, "cpu_per_message": cpu / max(job.done, 1), "machine_busy": busy}


def forget_queue(queue: str, options: dict[str, Any]) -> None:
    """Remove a bench run's queue from the broker (on Redis, every key under its prefix)."""
    if BROKER_URL.startswith("redis"):
        import redis

        client = redis.Redis.from_url(BROKER_URL)
        keys = list(client.scan_iter(f"{options['global_keyprefix']}*"))
        if keys:
            client.delete(*keys)
        client.close()
    else:
        from kombu import Connection

        with Connection(BROKER_URL) as connection:
            connection.default_channel.queue_delete(queue)
            connection.default_channel.exchange_delete(queue)


# The report.

def duration(seconds: float) -> str:
    hours, rest = divmod(int(seconds), 3600)
    return f"{hours} h {rest // 60:02d} min" if hours else f"{rest // 60} min {rest % 60:02d} s"


def report(results: dict[str, Any], count: int) -> None:
    single = results["single"]
    print(f"Render jobs: {count} bills (email + PDF, {FIXTURE.relative_to(ROOT)}), {CORES} cores, "
          f"Python {sys.version.split()[0]}")
    print(f"{'single process, render_message() in a loop':<46} {single['rate']:6.2f} msg/s   "
          f"CPU {single['cpu_per_message']:.2f} s/msg   machine busy (all processes) "
          f"{single['machine_busy']:4.0%}   (raw WeasyPrint on the same HTML: "
          f"{single['weasyprint_rate']:.2f} PDFs/s)")
    rows = [(f"embedded runner, {r['processes']} processes ({name})", r)
            for name, r in (("SQLite", results.get("embedded_sqlite")),
                            ("PostgreSQL", results.get("embedded_pg"))) if r]
    rows += [(f"Celery, {r['processes']} worker process{'es' if r['processes'] > 1 else ''}", r)
             for r in (results.get("celery_1"), results.get("celery_2")) if r]
    for label, r in rows:
        print(f"{label:<46} {r['rate']:6.2f} msg/s   CPU {r['cpu_per_message']:.2f} s/msg   "
              f"{r['rate'] / single['rate']:4.2f}x single process   machine used by the runner "
              f"{r['machine_share']:4.0%}, busy (all processes) {r['machine_busy']:4.0%}   "
              f"({r['done']} done, {r['failed']} failed in {r['elapsed']:.1f} s; load average before "
              f"{r['load_before']})")
    pg, one, two = results.get("embedded_pg"), results.get("celery_1"), results.get("celery_2")
    if one and two:
        print(f"Celery scaling, 1 -> 2 worker processes: {two['rate'] / one['rate']:.2f}x")
    if pg and two and two["processes"] == pg["processes"]:
        overhead = pg["rate"] / two["rate"] - 1
        cpu_overhead = two["cpu_per_message"] / pg["cpu_per_message"] - 1
        print(f"Celery overhead per item over the embedded runner ({CORES} processes, PostgreSQL): "
              f"{overhead:+.1%} in wall time, {cpu_overhead:+.1%} in CPU time")
    memory = [f"single process {single['rss_mb']:.0f} MB"]
    for name in ("embedded_sqlite", "embedded_pg"):
        if results.get(name):
            memory.append(f"{name.replace('_', ' ')} pool processes "
                          + ", ".join(f"{mb:.0f}" for mb in results[name]["rss_mb"]) + " MB")
    for name in ("celery_1", "celery_2"):
        if results.get(name):
            rss = results[name]["rss_mb"]
            memory.append(f"{name.replace('_', ' -c ')}: main {rss['main']:.0f} MB, pool "
                          + ", ".join(f"{mb:.0f}" for mb in rss["pool"]) + " MB")
    print("memory (RSS): " + "; ".join(memory))
    print(f"EXTRAPOLATED to {TARGET:,} bills from the {count} measured (not run):")
    print(f"  {'single process':<44} {duration(TARGET / single['rate'])}")
    for label, r in rows:
        print(f"  {label:<44} {duration(TARGET / r['rate'])}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.jobs", description=__doc__.split("\n")[0])
    parser.add_argument("--items", type=int, default=20, help="bills per job (default 20)")
    parser.add_argument("--skip-celery", action="store_true", help="only the embedded runner")
    parser.add_argument("--skip-sqlite", action="store_true", help="the embedded runner on PostgreSQL only")
    parser.add_argument("--json", action="store_true", help="print machine-readable results too")
    args = parser.parse_args(argv)
    if args.items < 2:
        parser.error("--items must be at least 2")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="touchpoint-bench-") as tmp:
        workdir = Path(tmp)
        print(f"measuring {args.items} bills per run; load average now {load()}", file=sys.stderr)
        results["single"] = single_process(args.items, workdir)
        if not args.skip_sqlite:
            results["embedded_sqlite"] = embedded(args.items, f"sqlite:///{workdir / 'embedded.db'}",
                                                  workdir / "sqlite")
        with schema() as database_url:
            results["embedded_pg"] = embedded(args.items, database_url, workdir / "pg")
        if not args.skip_celery:
            for processes in (1, 2):
                with schema() as database_url:
                    results[f"celery_{processes}"] = celery(args.items, processes, database_url, workdir)
    report(results, args.items)
    if args.json:
        print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
