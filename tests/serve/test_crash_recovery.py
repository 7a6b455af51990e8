"""A crash leaves nothing stuck, lost, doubled or behind: an idempotency key whose server died
is free once its short lease runs out (the living server renews it while it renders), and
artifact folders no row names are swept. The last test SIGKILLs the real server mid-load and
mid-job, starts it again and counts."""

from __future__ import annotations

import http.client
import itertools
import json
import os
import signal
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import closing, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.pipeline import IdempotencyDone, commit, render_message
from app.problems import IdempotencyKeyInFlight
from app.serve.background import PURGE_EVERY, sweep_times
from app.store import idempotency, session
from app.store.models import IdempotencyKey, Message
from bench.proc import free_port, server_environment
from tests.conftest import load_fixture
from tests.jobs.helpers import PATIENCE, items, kill, process, python, wait_for
from tests.serve.helpers import START_PATIENCE, Server, ready

BODY = {**load_fixture("invoice/capsules-nl"), "channels": ["email", "sms"]}
RAW = json.dumps(BODY).encode()


@pytest.fixture
def db(any_app: Flask) -> Iterator[Session]:
    with any_app.app_context(), any_app.extensions["touchpoint.db"]() as session:
        yield session


def _claim(db: Session, app: Flask, key: str, **options: Any) -> IdempotencyKey | None:
    config = app.config
    return idempotency.claim(db, idempotency.scoped("tests", key), idempotency.fingerprint(RAW),
                             config["IDEMPOTENCY_TTL"], config["IDEMPOTENCY_LOCK_TIMEOUT"], **options)


def test_a_dead_servers_key_is_free_once_its_lease_runs_out(any_app: Flask, db: Session) -> None:
    client: FlaskClient = any_app.test_client()
    lease = any_app.config["IDEMPOTENCY_LEASE"]
    assert lease <= 10
    # Claimed just over a lease ago, never renewed: its server died.
    _claim(db, any_app, "crashed", now=datetime.now(UTC) - timedelta(seconds=lease + 1), lease=lease)
    retry = client.post("/v1/render", json=BODY, headers={"Idempotency-Key": "crashed"})
    assert retry.status_code == 201, retry.get_data(as_text=True)
    again = client.post("/v1/render", json=BODY, headers={"Idempotency-Key": "crashed"})
    assert again.headers["Idempotent-Replayed"] == "true" and again.json == retry.json


def test_a_living_servers_lease_is_renewed_while_it_renders(any_app: Flask, db: Session) -> None:
    key = idempotency.scoped("tests", "alive")
    owner = idempotency.new_owner()
    _claim(db, any_app, "alive", owner=owner, lease=0.6)
    first = db.get(IdempotencyKey, key)
    assert first is not None and first.lease_until is not None
    granted = first.lease_until
    with idempotency.heartbeat(any_app.extensions["touchpoint.db"], key, owner, 0.6):
        def renewed() -> bool:
            row = db.get(IdempotencyKey, key, populate_existing=True)
            db.rollback()
            return row is not None and row.lease_until is not None and row.lease_until > granted
        wait_for(renewed, "the lease to be renewed", timeout=30)
        # Well past the first lease, the key is still held: a retry is a 409.
        db.expunge_all()  # as another request would: a session of its own
        with pytest.raises(IdempotencyKeyInFlight):
            _claim(db, any_app, "alive", now=_aware(granted) + timedelta(seconds=0.1), lease=0.6)


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# --- orphan files ------------------------------------------------------------------------------

def test_the_sweep_removes_old_folders_without_a_row_and_keeps_the_rest(any_app: Flask) -> None:
    any_app.extensions["touchpoint.artifacts"].inline_bytes = 0  # the kept message's files on disk
    client = any_app.test_client()
    kept = client.post("/v1/render", json=BODY).json["id"]
    store = any_app.extensions["touchpoint.artifacts"]
    messages = Path(any_app.config["ARTIFACT_DIR"]) / "messages"
    for orphan in ("msg_dead_old", "msg_in_flight"):
        store.make_message_folder(orphan)
        store.write_message_file(orphan, "email.html", b"<p>half a render</p>")
    (messages / kept / ".tmp-half").write_bytes(b"half a file")
    hour_ago = time.time() - 3600
    for path in (messages / "msg_dead_old", messages / kept / ".tmp-half"):
        os.utime(path, (hour_ago, hour_ago))

    result = any_app.test_cli_runner().invoke(args=["sweep", "--grace", "60"])
    assert result.exit_code == 0, result.output
    assert "1 message folders without a row, 1 temporary files" in result.output
    # The dead render's folder and the half file go; a young folder may be a render in flight.
    assert sorted(path.name for path in messages.iterdir()) == sorted([kept, "msg_in_flight"])
    assert not list(messages.rglob(".tmp-*"))
    with client.get(f"/v1/messages/{kept}/email.html") as still_there:
        assert still_there.status_code == 200


# --- SIGKILL of the real server ------------------------------------------------------------------

LOAD_THREADS = 3
JOB_ITEMS = 120


@dataclass
class Load:
    """Keyed renders sent in a loop until stopped: each key's answer, or None if none came."""

    server: Server
    answers: dict[str, str | None] = field(default_factory=dict)
    stopped: threading.Event = field(default_factory=threading.Event)

    def run(self, worker: int) -> None:
        for n in itertools.count():
            if self.stopped.is_set():
                return
            key = f"load-{worker}-{n}"
            self.answers[key] = None
            try:
                status, _, body = self.server.request("POST", "/v1/render", _keyed(key),
                                                      {"Idempotency-Key": key})
            except (OSError, http.client.HTTPException):
                return  # the server was killed under us (mid-answer: an incomplete read)
            if status == 201:
                self.answers[key] = json.loads(body)["id"]


def _keyed(key: str) -> dict[str, Any]:
    return {**BODY, "reference": key}


def _serve(var_dir: Path, port: int, log: Path, sweep_grace: float = 2) -> Any:
    environment = server_environment(
        var_dir, port, LOG_FORMAT="json", WEB_CONCURRENCY="2", WEB_THREADS="2", JOB_WORKERS="1",
        IDEMPOTENCY_LEASE="3", JOB_LEASE_SECONDS="3", ARTIFACT_SWEEP_GRACE=str(sweep_grace))
    return process([python(), "-m", "app.serve"], environment, log)


def _started(proc: Any, port: int, log: Path) -> None:
    wait_for(lambda: proc.poll() is not None or ready(port), "the server to be ready", START_PATIENCE)
    assert proc.poll() is None, log.read_text()


def _references(var_dir: Path) -> Counter[str]:
    with closing(sqlite3.connect(var_dir / "touchpoint.db")) as db:
        return Counter(reference for (reference,) in db.execute("SELECT reference FROM messages"))


def _orphans(var_dir: Path) -> list[str]:
    """Message folders without a row, and half-written files."""
    with closing(sqlite3.connect(var_dir / "touchpoint.db")) as db:
        rows = {message_id for (message_id,) in db.execute("SELECT id FROM messages")}
    messages = var_dir / "artifacts" / "messages"
    return sorted([path.name for path in messages.iterdir() if path.name not in rows]
                  + [str(path) for path in messages.rglob(".tmp-*")])


def kill_everything(server: Server) -> None:
    """SIGKILL the launcher, gunicorn and its workers, the background process and its pool
    (they run in sessions of their own, so a process group is not enough), then reap."""
    for pid in [*server.pids(), server.process.pid]:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    kill(server.process)


def _retry_until_answered(server: Server, key: str) -> tuple[str, float]:
    """POST the key again until it is answered; its message id, and how long 409s lasted."""
    began = time.monotonic()
    while True:
        status, headers, body = server.request("POST", "/v1/render", _keyed(key), {"Idempotency-Key": key})
        if status != 409:
            assert status == 201, body
            return json.loads(body)["id"], time.monotonic() - began
        assert time.monotonic() - began < 60, f"{key} is stuck in flight"
        time.sleep(float(headers.get("Retry-After", "1")) / 4)


def test_sigkill_mid_load_and_mid_job_loses_nothing_doubles_nothing_leaves_nothing(tmp_path: Path) -> None:
    var_dir, log = tmp_path / "var", tmp_path / "server.log"
    port = free_port()
    with _serve(var_dir, port, log) as first:
        _started(first, port, log)
        server = Server(first, port, var_dir, log)
        status, _, body = server.request("POST", "/v1/jobs", {"items": items(JOB_ITEMS)})
        assert status == 202, body
        job_id = json.loads(body)["id"]
        load = Load(server)
        threads = [threading.Thread(target=load.run, args=(n,)) for n in range(LOAD_THREADS)]
        for thread in threads:
            thread.start()

        def midway() -> bool:
            job = json.loads(server.request("GET", f"/v1/jobs/{job_id}")[2])
            return job["done"] >= 5 and sum(1 for a in load.answers.values() if a) >= 5
        wait_for(midway, "the job and the load to be under way")
        kill_everything(server)
        load.stopped.set()
        for thread in threads:
            thread.join(PATIENCE)
    left_behind = _orphans(var_dir)

    with _serve(var_dir, port, log) as second:
        _started(second, port, log)
        server = Server(second, port, var_dir, log)
        # No key is stuck: each is answered within about its lease, the first answer replayed.
        for key, answered in list(load.answers.items()):
            message_id, waited = _retry_until_answered(server, key)
            assert waited < 3 + 10, f"{key} waited {waited:.1f} s"
            assert answered in (None, message_id)
        # The job finishes where it was; every item once.
        wait_for(lambda: json.loads(server.request("GET", f"/v1/jobs/{job_id}")[2])["status"] == "done",
                 "the job to finish")
        job = json.loads(server.request("GET", f"/v1/jobs/{job_id}")[2])
        assert (job["done"], job["failed"], job["total"]) == (JOB_ITEMS, 0, JOB_ITEMS)
        references = _references(var_dir)
        expected = [f"item-{n}" for n in range(JOB_ITEMS)] + list(load.answers)
        assert {reference: references[reference] for reference in expected} == dict.fromkeys(expected, 1)
        # What the killed processes left on disk is swept.
        wait_for(lambda: not _orphans(var_dir), f"the sweep to remove {left_behind}", timeout=30)
        assert any(line.get("msg", "").startswith("sweep: removed") for line in Server.log_lines(server))


def test_a_stalled_first_request_never_stores_a_second_message(any_app: Flask, db: Session) -> None:
    """The first request outlived its lease (stalled, not dead) and a retry took the key and
    answered: when the first one gets to store, it is refused, and one message remains."""
    lease = any_app.config["IDEMPOTENCY_LEASE"]
    _claim(db, any_app, "stalled", now=datetime.now(UTC) - timedelta(seconds=lease + 1), lease=lease)
    retry = any_app.test_client().post("/v1/render", json=BODY, headers={"Idempotency-Key": "stalled"})
    assert retry.status_code == 201
    with any_app.test_request_context(), pytest.raises(IdempotencyKeyInFlight):
        rendered = render_message(BODY)
        commit(rendered, IdempotencyDone.of(rendered, idempotency.scoped("tests", "stalled")))
    with any_app.app_context():
        assert list(session().scalars(select(Message.id))) == [retry.json["id"]]


def test_the_sweep_times_are_at_start_after_the_grace_then_daily() -> None:
    times = sweep_times(100.0, 3600.0)
    assert list(itertools.islice(times, 4)) == [100.0, 3700.0, 3700.0 + PURGE_EVERY, 3700.0 + 2 * PURGE_EVERY]


def _touch_tree(folder: Path, when: float) -> None:
    for path in (*folder.iterdir(), folder):
        os.utime(path, (when, when))


def test_a_folder_too_young_for_the_sweep_at_start_is_swept_once_its_grace_is_over(tmp_path: Path) -> None:
    """A render killed just before a restart leaves a folder younger than the grace: the sweep
    at start keeps it (it could be a render in flight), and the one a grace later removes it,
    with no restart. The folder's times stand in for the clock: young at the start's sweep,
    then aged past the grace."""
    var_dir, log = tmp_path / "var", tmp_path / "server.log"
    orphan = var_dir / "artifacts" / "messages" / "msg_00000000000000000000000000"
    orphan.mkdir(parents=True)
    (orphan / "email.html").write_text("<p>a render killed mid-way</p>")
    _touch_tree(orphan, time.time() + 3600)
    port = free_port()
    # A grace long enough for this test to see the first sweep and age the folder before
    # the second.
    with _serve(var_dir, port, log, sweep_grace=8) as proc:
        _started(proc, port, log)
        server = Server(proc, port, var_dir, log)
        wait_for(lambda: any(line.get("msg", "").startswith("sweep: removed")
                             for line in Server.log_lines(server)), "the sweep at start")
        assert orphan.exists(), "the sweep at start removed a folder younger than its grace"
        _touch_tree(orphan, time.time() - 3600)
        wait_for(lambda: not orphan.exists(), "the sweep once the grace is over", timeout=30)
