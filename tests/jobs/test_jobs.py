"""Render jobs on the embedded runner: the API, the claims that make each item happen once,
the process pool, and a service killed with SIGKILL in the middle of a job and restarted."""

from __future__ import annotations

import base64
import io
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, func, select, text
from standardwebhooks.webhooks import Webhook

from app.jobs import runner, state
from app.jobs.embedded import EmbeddedRunner, drain
from app.jobs.models import JobItem
from app.jobs.state import Busy, Claim, LostClaim
from app.store import session
from app.store.models import Message
from app.webhooks.delivery import deliver_due
from tests.conftest import PUBLIC_BASE_URL, _config, make_app
from tests.jobs.helpers import (
    assert_exactly_once,
    finished,
    items,
    job_row,
    ledger,
    process,
    python,
    wait_for,
)

SECRET = "whsec_" + base64.b64encode(b"a 32-byte key for the job tests!").decode()


def post_job(client: FlaskClient, body: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    response = client.post("/v1/jobs", json={"items": body, **extra})
    assert response.status_code == 202, response.json
    assert response.headers["Location"] == f"/v1/jobs/{response.json['id']}"
    return response.json


# The API.

def test_a_json_job_renders_every_item_and_an_invalid_one_fails_alone(any_client: FlaskClient) -> None:
    app = any_client.application
    body = [*items(4, invalid=(2,)), "not an object"]
    answer = post_job(any_client, body)
    assert answer["id"].startswith("job_")
    assert (answer["status"], answer["total"], answer["failed"], answer["pending"]) == ("queued", 5, 1, 4)

    assert drain(app) == 4
    job = any_client.get(f"/v1/jobs/{answer['id']}").json
    progress = (job["status"], job["done"], job["failed"], job["pending"], job["eta_seconds"])
    assert progress == ("done", 3, 2, 0, 0)
    # The rate is the items ended (done or failed) per minute between start and finish.
    elapsed = datetime.fromisoformat(job["finished"]) - datetime.fromisoformat(job["started"])
    assert job["rate_per_minute"] == round(5 / elapsed.total_seconds() * 60) > 0

    listed = any_client.get(f"/v1/jobs/{answer['id']}/items").json
    by_position = {item["position"]: item for item in listed["items"]}
    assert listed["next_cursor"] is None and len(by_position) == 5
    assert by_position[2]["status"] == "failed"
    assert by_position[2]["problem"]["status"] == 422
    assert by_position[2]["problem"]["errors"][0]["path"] == "data.currency"
    assert by_position[4]["problem"]["detail"] == "items[4]: a render request is a JSON object"
    for position in (0, 1, 3):
        item = by_position[position]
        assert item["status"] == "done" and item["reference"] == f"item-{position}"
        message = any_client.get(f"/v1/messages/{item['message_id']}").json
        assert message["id"] == item["message_id"] and message["reference"] == f"item-{position}"
        assert set(message["outputs"]) == {"email", "sms", "web"}  # the SMS's page, made for it


def test_items_come_a_page_at_a_time_and_by_status(client: FlaskClient) -> None:
    answer = post_job(client, [*items(5), 7, 8])
    seen, cursor = [], ""
    while True:
        page = client.get(f"/v1/jobs/{answer['id']}/items?limit=2&cursor={cursor}").json
        seen += [item["position"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(range(7))
    failed = client.get(f"/v1/jobs/{answer['id']}/items?status=failed").json["items"]
    assert [item["position"] for item in failed] == [5, 6]
    assert client.get(f"/v1/jobs/{answer['id']}/items?cursor=x").status_code == 422


def test_an_ndjson_body_is_read_line_by_line_as_it_arrives(client: FlaskClient) -> None:
    """A body of thousands of lines, read in pieces: items are in the database before the
    body has been read to its end, and a bad line fails alone."""
    app = client.application
    line = json.dumps({"type": "invoice", "brand": "demo-coffee", "reference": "x"}).encode() + b"\n"
    lines = 3000
    engine = create_engine(app.config["DATABASE_URL"])

    class Body(io.RawIOBase):
        """Made as it is read, and watching the database when half of it was read."""

        def __init__(self) -> None:
            self.sent = 0
            self.stored_at_half: int | None = None

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: Any) -> int:
            if self.sent >= lines:
                return 0
            if self.sent >= lines // 2 and self.stored_at_half is None:
                with engine.connect() as connection:
                    self.stored_at_half = connection.execute(text("SELECT count(*) FROM job_items")).scalar()
            chunk = line if self.sent != 10 else b"{not json\n"
            buffer[:len(chunk)] = chunk
            self.sent += 1
            return len(chunk)

    body = Body()
    # No Content-Length: streamed to its end, as a server that handles chunked bodies does.
    response = client.post("/v1/jobs", content_type="application/x-ndjson", environ_overrides={
        "wsgi.input": io.BufferedReader(body, 4096), "wsgi.input_terminated": True,
        "HTTP_TRANSFER_ENCODING": "chunked", "CONTENT_LENGTH": ""})
    engine.dispose()
    assert response.status_code == 202, response.json
    assert (response.json["total"], response.json["failed"]) == (lines, 1)
    assert body.stored_at_half and body.stored_at_half >= 500  # written while it streamed
    bad = client.get(f"/v1/jobs/{response.json['id']}/items?status=failed").json["items"]
    assert bad[0]["position"] == 10
    assert bad[0]["problem"]["status"] == 400 and "line 11" in bad[0]["problem"]["detail"]


@pytest.mark.parametrize(("body", "content_type", "status", "path"), [
    ({"items": []}, "application/json", 422, "items"),
    ({"items": {"type": "bill"}}, "application/json", 422, "items"),
    ([{"type": "bill"}], "application/json", 422, "items"),
    ({"items": [{}], "callback_url": "http://up.example/hook"}, "application/json", 422, "callback_url"),
    ("\n\n", "application/x-ndjson", 422, "items"),
    ("hello", "text/plain", 415, None),
])
def test_a_job_that_makes_no_sense_is_refused_whole(client: FlaskClient, body: Any, content_type: str,
                                                    status: int, path: str | None) -> None:
    data = body if isinstance(body, str) else json.dumps(body)
    response = client.post("/v1/jobs", data=data, content_type=content_type)
    assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    if path:
        assert response.json["errors"][0]["path"] == path
    with client.application.app_context():
        assert session().scalar(select(func.count()).select_from(JobItem)) == 0


def test_delete_cancels_what_has_not_started(any_client: FlaskClient) -> None:
    app = any_client.application
    answer = post_job(any_client, items(4))
    assert drain(app, limit=1) == 1
    cancelled = any_client.delete(f"/v1/jobs/{answer['id']}")
    assert cancelled.status_code == 200
    counts = (cancelled.json["status"], cancelled.json["done"], cancelled.json["cancelled"])
    assert counts == ("cancelled", 1, 3)
    assert cancelled.json["finished"] is not None
    assert drain(app) == 0
    again = any_client.delete(f"/v1/jobs/{answer['id']}").json
    assert (again["status"], again["cancelled"]) == ("cancelled", 3)
    states, messages, _ = ledger(app, answer["id"])
    assert sorted(states.values()) == ["cancelled", "cancelled", "cancelled", "done"]
    assert sum(messages.values()) == 1
    assert any_client.delete("/v1/jobs/job_nope").status_code == 404
    assert any_client.get("/v1/jobs/job_nope").status_code == 404


def test_progress_says_the_rate_and_the_time_left(client: FlaskClient) -> None:
    app = client.application
    answer = post_job(client, items(4))
    drain(app, limit=2)
    job = client.get(f"/v1/jobs/{answer['id']}").json
    assert (job["status"], job["done"], job["pending"]) == ("running", 2, 2)
    assert job["rate_per_minute"] > 0 and job["eta_seconds"] is not None and job["eta_seconds"] >= 0


# The completion webhook.

@pytest.fixture
def receiver() -> Any:
    got: list[tuple[dict[str, str], bytes]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # the name http.server calls
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            got.append(({k.lower(): v for k, v in self.headers.items()}, body))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hooks/jobs", got
    server.shutdown()
    server.server_close()
    thread.join(timeout=10)


def test_a_finished_job_calls_back_signed(tmp_path: Path, receiver: Any) -> None:
    url, got = receiver
    app = make_app({**_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"),
                      "WEBHOOK_SECRET": SECRET, "WEBHOOK_ALLOW_HTTP": True,
                      "OUTBOUND_ALLOW_HOSTS": ["127.0.0.1"]})
    client = app.test_client()
    answer = post_job(client, items(3, invalid=(1,)), callback_url=url)
    drain(app)
    job = client.get(f"/v1/jobs/{answer['id']}").json
    assert job["webhook"]["id"].startswith("evt_")
    with app.app_context():
        report = deliver_due()
    assert report.delivered == [job["webhook"]["id"]]
    headers, body = got[0]
    Webhook(SECRET).verify(body, headers)  # raises unless signed with the key
    event = json.loads(body)
    assert event["type"] == "job.completed"
    assert event["data"] == {**event["data"], "job_id": answer["id"], "status": "done", "total": 3,
                             "done": 2, "failed": 1, "cancelled": 0}
    assert event["data"]["items_url"] == f"{PUBLIC_BASE_URL}/v1/jobs/{answer['id']}/items"
    app.extensions["touchpoint.engine"].dispose()


def test_a_job_none_of_whose_items_rendered_says_why_it_did_not_call_back(tmp_path: Path) -> None:
    """The webhook outbox files each event under a message (app/webhooks); a job with no
    rendered message has none, and says so instead of failing silently."""
    app = make_app({**_config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}"), "WEBHOOK_ALLOW_HTTP": True,
                    "OUTBOUND_ALLOW_HOSTS": ["127.0.0.1"]})
    client = app.test_client()
    answer = post_job(client, items(2, invalid=(0, 1)), callback_url="http://127.0.0.1:9/hooks")
    drain(app)
    job = client.get(f"/v1/jobs/{answer['id']}").json
    assert (job["status"], job["failed"]) == ("failed", 2)
    assert job["webhook"]["id"] is None and "no item was rendered" in job["webhook"]["note"]
    app.extensions["touchpoint.engine"].dispose()


# Claims: what makes an item happen once, whoever and however often it is tried.

def test_an_item_is_claimed_by_one_worker_and_a_lapsed_claim_cannot_archive(any_app: Flask) -> None:
    client = any_app.test_client()
    answer = post_job(client, items(1))
    with any_app.app_context():
        first = state.claim(session(), answer["id"], 0)
        assert isinstance(first, Claim)
        assert isinstance(state.claim(session(), answer["id"], 0), Busy)
    later = state.utcnow() + timedelta(seconds=any_app.config["JOB_LEASE_SECONDS"] + 1)
    with any_app.app_context():
        # The first worker seems dead (its lease ran out): another takes the item over.
        second = state.claim(session(), answer["id"], 0, now=later)
        assert isinstance(second, Claim) and second.token != first.token
    from app.jobs.work import ItemDone
    from app.pipeline import commit, render_message

    with any_app.app_context(), pytest.raises(LostClaim):
        # The first worker was only slow: its render finishes, but cannot be archived.
        commit(render_message(first.request, message_id=first.token), ItemDone(first))
    with any_app.app_context():
        commit(render_message(second.request, message_id=second.token), ItemDone(second))
        assert session().scalar(select(func.count()).select_from(Message)) == 1
        assert session().get(Message, first.token) is None
    assert not (Path(any_app.config["ARTIFACT_DIR"]) / "messages" / first.token).exists()
    job = job_row(any_app, answer["id"])
    assert (job.status, job.done) == ("done", 1)


def test_an_item_that_stops_its_worker_every_time_fails_after_a_few(app: Flask) -> None:
    client = app.test_client()
    answer = post_job(client, items(1))
    now = state.utcnow()
    for attempt in range(app.config["JOB_MAX_ATTEMPTS"]):
        now += timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
        with app.app_context():
            assert isinstance(state.claim(session(), answer["id"], 0, now=now), Claim), attempt
    now += timedelta(seconds=app.config["JOB_LEASE_SECONDS"] + 1)
    with app.app_context():
        assert state.claim(session(), answer["id"], 0, now=now) is None
    item = client.get(f"/v1/jobs/{answer['id']}/items").json["items"][0]
    assert item["status"] == "failed"
    assert item["problem"]["type"] == "/problems/worker-lost"
    assert client.get(f"/v1/jobs/{answer['id']}").json["status"] == "failed"


# The pool.

@pytest.mark.postgres
def test_the_pool_renders_in_as_many_processes_as_asked(pg_app: Flask) -> None:
    client = pg_app.test_client()
    embedded = EmbeddedRunner(pg_app, workers=2)
    assert runner(pg_app) is not embedded  # the app's own stays stopped under TESTING
    embedded.start()
    try:
        assert wait_for(lambda: embedded.wait_ready(0.1) or not embedded.running, "the pool")
        assert embedded.running and len(set(embedded.worker_pids)) == 2
        assert all(rss > 0 for rss in embedded.worker_rss)
        answer = post_job(client, items(12, pdf_every=6, invalid=(3,)))
        embedded.wake()
        wait_for(lambda: finished(pg_app, answer["id"]), "the job")
    finally:
        embedded.stop()
    assert_exactly_once(pg_app, answer["id"], 12, {"item-3"})
    listed = client.get(f"/v1/jobs/{answer['id']}/items").json["items"]
    pdf = client.get(f"/v1/messages/{listed[5]['message_id']}").json["outputs"]["pdf"]
    assert pdf["status"] == "ready" and pdf["pages"] >= 1


def test_a_service_killed_mid_job_loses_nothing_and_renders_nothing_twice(tmp_path: Path) -> None:
    """SIGKILL the process running the embedded runner (and its pool) in the middle of a job,
    start it again: every item ends rendered and archived exactly once, or failed."""
    database = f"sqlite:///{tmp_path / 'service.db'}"
    config = {**_config(tmp_path, database), "JOB_LEASE_SECONDS": 2.0}
    app = make_app(config)
    total, invalid = 30, (7, 21)
    answer = post_job(app.test_client(), items(total, pdf_every=10, invalid=invalid))
    env = {"DATABASE_URL": database, "ARTIFACT_DIR": config["ARTIFACT_DIR"], "SECRET_KEY": "test-secret-key",
           "PUBLIC_BASE_URL": PUBLIC_BASE_URL, "JOB_LEASE_SECONDS": "2", "JOB_WORKERS": "2"}
    command = [python(), "-m", "flask", "--app", "app", "run-jobs"]

    with process(command, env, tmp_path / "runner-1.log") as first:
        wait_for(lambda: job_row(app, answer["id"]).done >= 6 or first.poll() is not None, "a few items")
        assert first.poll() is None, (tmp_path / "runner-1.log").read_text()
    # Killed with its pool, mid-job.
    job = job_row(app, answer["id"])
    assert job.finished_at is None and job.done + job.failed < total

    with process(command, env, tmp_path / "runner-2.log") as second:
        wait_for(lambda: finished(app, answer["id"]) or second.poll() is not None, "the job to finish")
        assert second.poll() is None, (tmp_path / "runner-2.log").read_text()
    assert_exactly_once(app, answer["id"], total, {f"item-{position}" for position in invalid})
    app.extensions["touchpoint.engine"].dispose()


# The terminal.

def test_render_batch_writes_every_message_and_fails_when_a_line_failed(app: Flask, tmp_path: Path) -> None:
    batch = tmp_path / "run.ndjson"
    lines = [json.dumps(item) for item in items(3, invalid=(1,))]
    batch.write_text("\n".join([lines[0], "", lines[1], "{oops", lines[2]]) + "\n")
    out = tmp_path / "out"
    result = app.test_cli_runner().invoke(args=["render-batch", str(batch), "--out", str(out),
                                                "--workers", "1", "--eml"])
    assert result.exit_code == 1, result.output
    assert "2 rendered, 2 failed, 0 cancelled of 4" in result.output
    assert "item 2 (item-1): 422 Invalid request: data.currency" in result.output
    assert "item 3: 400 Malformed JSON: line 4 is not valid JSON" in result.output
    results = [json.loads(line) for line in (out / "results.ndjson").read_text().splitlines()]
    assert [r["status"] for r in results] == ["done", "failed", "failed", "done"]
    for folder in ("000001-item-0", "000004-item-2"):
        written = {path.name for path in (out / folder).iterdir()}
        assert {"email.html", "email.txt", "email.eml", "message.json"} <= written
        assert json.loads((out / folder / "message.json").read_text())["reference"] == folder[7:]
    assert not (out / "000002-item-1").exists()
