"""`flask --app app render-batch FILE.ndjson --out DIR`: a job from a terminal.

The file becomes a job like a POST of it would (one render request a line); this process
starts the embedded runner for it (or, with CELERY_BROKER_URL, sends it to the workers),
shows a progress bar, and writes each rendered message's artifacts under DIR, one folder
per line, with `results.ndjson` (each line's message id or problem) beside them. The exit
status is 1 when any line failed.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from app.channels.eml import ensure_eml
from app.jobs import ingest, state
from app.jobs.embedded import EmbeddedRunner
from app.jobs.models import ITEM_DONE, Job, JobItem
from app.jobs.runners import celery_mode, runner
from app.store import archive, session


@click.command("render-batch")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write each message's artifacts and results.ndjson into.")
@click.option("--workers", type=int, default=None, help="Pool processes (default: one per core).")
@click.option("--eml", is_flag=True, help="Also build each email's .eml (slower).")
@with_appcontext
def render_batch_command(file: Path, out_dir: Path, workers: int | None, eml: bool) -> None:
    """Render every line of FILE (NDJSON, one render request a line) and write them to --out."""
    app: Flask = current_app._get_current_object()  # type: ignore[attr-defined]
    with file.open("rb") as stream:
        job = ingest.create_job(ingest.ndjson_entries(stream, app.config["MAX_CONTENT_LENGTH"]))
    click.echo(f"{job.id}: {job.total} requests from {file}", err=True)
    started = time.monotonic()
    job = _run(app, job, workers)
    elapsed = time.monotonic() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    failures = _write(job, out_dir, eml)
    rate = (job.done + job.failed) / elapsed if elapsed > 0 else 0.0
    click.echo(f"{job.done} rendered, {job.failed} failed, {job.cancelled} cancelled of {job.total} "
               f"in {elapsed:.1f} s ({rate:.1f} messages/s); results in {out_dir / 'results.ndjson'}")
    for line in failures[:10]:
        click.echo(f"  failed: {line}", err=True)
    if len(failures) > 10:
        click.echo(f"  … and {len(failures) - 10} more (results.ndjson)", err=True)
    if job.failed:
        raise SystemExit(1)


def _run(app: Flask, job: Job, workers: int | None) -> Job:
    embedded = None
    if celery_mode(app):
        runner(app).dispatch(job.id)
    else:
        embedded = EmbeddedRunner(app, workers)
        embedded.start()
    try:
        with click.progressbar(length=job.total, label="rendering", show_pos=True, show_eta=True) as bar:
            shown = 0
            while True:
                job = _reload(job.id)
                ended = job.done + job.failed + job.cancelled
                bar.update(ended - shown)
                shown = ended
                if job.finished_at is not None:
                    return job
                if embedded is not None and not embedded.running:
                    raise click.ClickException("the job runner stopped (see the log above)")
                time.sleep(0.25)
    finally:
        if embedded is not None:
            embedded.stop()


def _reload(job_id: str) -> Job:
    db = session()
    db.rollback()
    job = db.get(Job, job_id, populate_existing=True)
    assert job is not None
    return job


def _write(job: Job, out_dir: Path, eml: bool) -> list[str]:
    failures = []
    db = session()
    with (out_dir / "results.ndjson").open("w", encoding="utf-8") as results:
        items = db.scalars(select(JobItem).where(JobItem.job_id == job.id).order_by(JobItem.position)
                           .execution_options(yield_per=500))
        for item in items:
            view = state.item_view(item)
            results.write(json.dumps(view, ensure_ascii=False) + "\n")
            if item.state == ITEM_DONE and item.message_id:
                message = archive.get_message(item.message_id)
                if message is None:
                    continue
                folder = out_dir / _folder(item.position, item.reference)
                folder.mkdir(parents=True, exist_ok=True)
                if eml:
                    ensure_eml(message)
                    db.refresh(message)
                for artifact in message.artifacts:
                    (folder / artifact.name).write_bytes(archive.artifact_bytes(artifact))
                document = json.dumps(archive.answer_of(message), indent=2, ensure_ascii=False)
                (folder / "message.json").write_text(document)
            elif item.problem:
                failures.append(_failure(item.position, item.reference, item.problem))
    return failures


def _folder(position: int, reference: str | None) -> str:
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", reference or "").strip("-.")[:60]
    return f"{position + 1:06d}-{slug}" if slug else f"{position + 1:06d}"


def _failure(position: int, reference: str | None, problem: dict[str, Any]) -> str:
    where = f"item {position + 1}" + (f" ({reference})" if reference else "")
    return f"{where}: {problem.get('status')} {problem.get('title')}: {problem.get('detail')}"
