"""Render jobs on Celery, over real Redis and RabbitMQ and PostgreSQL: a job of a few hundred
items through workers this test starts, the worker killed with SIGKILL in the middle of the
job and started again; every item ends rendered and archived exactly once, or failed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from app.jobs import runner
from app.jobs.models import Job
from app.jobs.scaled import STRANDED_AFTER, Sender, send_stranded
from app.store import session
from app.store.models import Message
from tests.conftest import PUBLIC_BASE_URL, _config, load_fixture, make_app
from tests.jobs.helpers import assert_exactly_once, finished, items, job_row, process, python, wait_for

BROKERS = {
    "redis": "redis://127.0.0.1:6379/0",
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672//",
}

pytestmark = [pytest.mark.broker, pytest.mark.postgres]


class Broker:
    """A broker, with a queue (and on Redis a key prefix) of this test's own, so test runs side
    by side never take each other's messages; removed afterwards."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.url = BROKERS[name]
        unique = uuid.uuid4().hex[:10]
        self.queue = f"touchpoint-test-{unique}"
        self.options: dict[str, Any] = {}
        if name == "redis":
            # A killed worker's unacknowledged messages come back after 10 s (not an hour).
            self.options = {"visibility_timeout": 10, "unacked_restore_interval": 1,
                            "unacked_restore_throttle": 1, "global_keyprefix": f"tp-test-{unique}:"}

    def remove(self) -> None:
        if self.name == "redis":
            import redis

            client = redis.Redis.from_url(self.url)
            try:
                keys = list(client.scan_iter(f"{self.options['global_keyprefix']}*"))
                if keys:
                    client.delete(*keys)
            finally:
                client.close()
        else:
            from kombu import Connection

            with Connection(self.url) as connection:
                channel = connection.default_channel
                channel.queue_delete(self.queue)
                channel.exchange_delete(self.queue)


@pytest.fixture(params=sorted(BROKERS))
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    made = Broker(request.param)
    yield made
    made.remove()


@pytest.fixture
def celery_app(tmp_path: Path, postgres_url: str, broker: Broker) -> Iterator[Flask]:
    app = make_app({**_config(tmp_path, postgres_url), "CELERY_BROKER_URL": broker.url,
                      "CELERY_QUEUE": broker.queue, "CELERY_BROKER_TRANSPORT_OPTIONS": broker.options,
                      "JOB_LEASE_SECONDS": 3.0, "JOB_CHUNK_SIZE": 10})
    yield app
    runner(app).stop()
    app.extensions["touchpoint.engine"].dispose()


def worker_env(app: Flask, broker: Broker) -> dict[str, str]:
    return {"DATABASE_URL": app.config["DATABASE_URL"], "ARTIFACT_DIR": app.config["ARTIFACT_DIR"],
            "SECRET_KEY": app.config["SECRET_KEY"], "PUBLIC_BASE_URL": PUBLIC_BASE_URL,
            "CELERY_BROKER_URL": broker.url, "CELERY_QUEUE": broker.queue,
            "CELERY_BROKER_TRANSPORT_OPTIONS": json.dumps(broker.options),
            "JOB_LEASE_SECONDS": "3", "JOB_CHUNK_SIZE": "10"}


def worker_command(broker: Broker, name: str) -> list[str]:
    return [python(), "-m", "celery", "-A", "app.worker", "worker", "--pool=prefork", "-c", "2",
            "-Q", broker.queue, "-n", f"{name}-{broker.queue}@%h", "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat"]


def messages(app: Flask) -> int:
    with app.extensions["touchpoint.db"]() as db:
        return db.scalar(select(func.count()).select_from(Message)) or 0


def test_a_worker_killed_mid_job_loses_nothing_and_renders_nothing_twice(
        celery_app: Flask, broker: Broker, tmp_path: Path) -> None:
    client = celery_app.test_client()
    total, invalid = 300, (13, 150, 299)
    response = client.post("/v1/jobs", json={"items": items(total, pdf_every=60, invalid=invalid)})
    assert response.status_code == 202
    job_id = response.json["id"]

    # The web process only sends and reports: nothing renders until a worker runs.
    assert isinstance(runner(celery_app), Sender)
    job = job_row(celery_app, job_id)
    assert (job.status, job.done, job.dispatched) == ("queued", 0, True)
    assert messages(celery_app) == 0

    env = worker_env(celery_app, broker)
    with process(worker_command(broker, "first"), env, tmp_path / "worker-1.log") as first:
        wait_for(lambda: job_row(celery_app, job_id).done >= 40 or first.poll() is not None,
                 "the first items")
        assert first.poll() is None, (tmp_path / "worker-1.log").read_text()[-3000:]
    # SIGKILLed, with its pool processes, in the middle of the job.
    job = job_row(celery_app, job_id)
    assert job.finished_at is None and job.done + job.failed < total

    with process(worker_command(broker, "second"), env, tmp_path / "worker-2.log") as second:
        wait_for(lambda: finished(celery_app, job_id) or second.poll() is not None, "the job to finish")
        assert second.poll() is None, (tmp_path / "worker-2.log").read_text()[-3000:]
        assert_exactly_once(celery_app, job_id, total, {f"item-{position}" for position in invalid})
        listed = client.get(f"/v1/jobs/{job_id}/items?status=failed").json["items"]
        assert [item["position"] for item in listed] == list(invalid)
        assert all(item["problem"]["status"] == 422 for item in listed)

        # A PDF off the request path is laid out by the workers too.
        request = {**load_fixture("invoice/capsules-nl"), "channels": ["email", "pdf"]}
        answer = client.post("/v1/render", json=request, headers={"Prefer": "respond-async"}).json
        assert answer["outputs"]["pdf"]["status"] == "pending"
        celery_app.config["PDF_PENDING_WAIT"] = 120.0
        with client.get(f"/v1/messages/{answer['id']}/document.pdf") as pdf:
            assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
        document = client.get(f"/v1/messages/{answer['id']}").json
        assert document["outputs"]["pdf"]["status"] == "ready"
        assert document["outputs"]["pdf"]["bytes"] == len(pdf.data)


def test_a_job_the_web_process_did_not_finish_sending_is_sent_later(celery_app: Flask) -> None:
    """The broker was away (or the web process died) after the job was stored: a worker, when
    it starts, or the web process, every minute, sends what was not sent."""
    client = celery_app.test_client()
    job_id = client.post("/v1/jobs", json={"items": items(3)}).json["id"]
    with celery_app.app_context():
        db = session()
        db.execute(update(Job).where(Job.id == job_id).values(dispatched=False))
        db.commit()
        assert send_stranded(runner(celery_app).celery, 10) == 0  # too young: maybe still sending
        db.execute(update(Job).where(Job.id == job_id).values(
            created_at=job_row(celery_app, job_id).created_at - STRANDED_AFTER - timedelta(seconds=1)))
        db.commit()
        assert send_stranded(runner(celery_app).celery, 10) == 1
    assert job_row(celery_app, job_id).dispatched
