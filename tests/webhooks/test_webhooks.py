"""Webhooks to upstream: a real HTTP receiver on 127.0.0.1 gets them, signed as Standard Webhooks
says (checked here by hand, and by the specification's own library), retried with backoff and
jitter under the same id, never lost on a restart, never sent twice at once."""

from __future__ import annotations

import base64
import json
import random
import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update
from standardwebhooks.webhooks import Webhook

from app import wake
from app.webhooks.delivery import backoff
from app.webhooks.models import WebhookDelivery
from tests.appointments.helpers import actions, appointment, open_form, render, submit
from tests.conftest import Receiver, _config, make_app
from tests.webhooks.helpers import (
    SECRET,
    configure,
    customer_reschedules,
    deliver,
    deliveries,
    signature_holds,
)

T0 = datetime(2031, 3, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def app(app: Flask) -> Flask:
    return configure(app)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- delivered, signed ------------------------------------------------------------------------

def test_a_customer_action_reaches_upstream_signed(app: Flask, client: FlaskClient,
                                                   receiver: Receiver) -> None:
    answer = customer_reschedules(client, receiver.url)
    report = deliver(app)
    assert (len(report.delivered), report.retrying, report.failed) == (1, [], [])
    [received] = receiver.received
    headers = received.headers
    assert headers["content-type"] == "application/json"
    assert signature_holds(received)
    assert not signature_holds(received, "whsec_" + base64.b64encode(b"another key").decode())
    # The specification's own library agrees (and checks the timestamp is recent).
    event = Webhook(SECRET).verify(received.body, headers)
    [delivery] = deliveries(app)
    assert headers["webhook-id"] == delivery.id
    assert event["type"] == "appointment.rescheduled"
    data = event["data"]
    assert (data["appointment_id"], data["brand"], data["status"], data["sequence"]) == (
        "apt-1002", "demo-bank", "confirmed", 1)
    assert (data["start"], data["end"], data["timezone"]) == (
        "2031-03-18T14:00:00", "2031-03-18T14:30:00", "Europe/Brussels")
    assert data["previous"] == {"start": "2031-03-14T10:00:00", "end": "2031-03-14T10:30:00",
                                "status": "confirmed"}
    assert data["source_message_id"] == answer["id"]
    assert client.get(f"/v1/messages/{data['message_id']}").status_code == 200
    assert data["reference"] == answer["reference"] and data["customer_id"] == "c-1002"
    [shown] = client.get(f"/v1/messages/{answer['id']}/activity").json["webhooks"]
    assert (shown["status"], shown["attempts"], shown["last_status_code"]) == ("delivered", 1, 204)
    assert deliver(app).attempted == 0  # delivered once, not again


def test_a_cancel_reaches_upstream(app: Flask, client: FlaskClient, receiver: Receiver) -> None:
    document = appointment()
    document["data"]["reschedule"]["callback_url"] = receiver.url
    answer = render(client, document)
    assert submit(client, open_form(client, actions(answer)["cancel"]["url"])).status_code == 303
    deliver(app)
    [received] = receiver.received
    event = json.loads(received.body)
    assert (event["type"], event["data"]["status"], event["data"]["sequence"]) == (
        "appointment.cancelled", "cancelled", 1)
    assert signature_holds(received)


# --- retried ----------------------------------------------------------------------------------

def test_a_failed_attempt_is_retried_with_backoff_under_the_same_id(
    app: Flask, client: FlaskClient, receiver: Receiver
) -> None:
    customer_reschedules(client, receiver.url)
    receiver.script = [(500, {}), (503, {})]
    assert deliver(app, T0).retrying
    [row] = deliveries(app)
    first_retry = aware(row.next_attempt_at)
    assert T0 + timedelta(seconds=15) <= first_retry <= T0 + timedelta(seconds=30)  # base 30 s, jitter
    assert deliver(app, first_retry - timedelta(seconds=1)).attempted == 0          # not yet due
    assert deliver(app, first_retry).retrying
    [row] = deliveries(app)
    second_retry = aware(row.next_attempt_at)
    assert first_retry + timedelta(seconds=30) <= second_retry <= first_retry + timedelta(seconds=60)
    assert deliver(app, second_retry).delivered
    [row] = deliveries(app)
    assert (row.status, row.attempts, row.last_status_code) == ("delivered", 3, 204)
    # Every attempt: the same webhook-id, its own timestamp, a signature over that timestamp.
    assert len({r.headers["webhook-id"] for r in receiver.received}) == 1
    assert [int(r.headers["webhook-timestamp"]) for r in receiver.received] == [
        int(T0.timestamp()), int(first_retry.timestamp()), int(second_retry.timestamp())]
    assert all(signature_holds(r) for r in receiver.received)
    assert len({r.body for r in receiver.received}) == 1


def test_backoff_doubles_up_to_a_ceiling_with_jitter(app: Flask) -> None:
    with app.app_context():
        base, ceiling = app.config["WEBHOOK_RETRY_BASE"], app.config["WEBHOOK_RETRY_MAX"]
        for attempts in range(1, 25):
            top = min(ceiling, base * 2 ** (attempts - 1))
            waits = {backoff(attempts, random.Random(seed)).total_seconds() for seed in range(20)}
            assert all(top / 2 <= wait <= top for wait in waits), (attempts, waits)
            assert len(waits) > 1  # jitter: retries of many events do not arrive in step
        assert max(backoff(40, random.Random(seed)) for seed in range(50)) <= timedelta(seconds=ceiling)


def test_retry_after_is_respected(app: Flask, client: FlaskClient, receiver: Receiver) -> None:
    customer_reschedules(client, receiver.url)
    receiver.script = [(429, {"Retry-After": "900"})]
    deliver(app, T0)
    [row] = deliveries(app)
    assert aware(row.next_attempt_at) >= T0 + timedelta(seconds=900)
    assert row.last_status_code == 429


def test_it_gives_up_after_the_last_attempt(app: Flask, client: FlaskClient, receiver: Receiver) -> None:
    app.config["WEBHOOK_MAX_ATTEMPTS"] = 3
    answer = customer_reschedules(client, receiver.url)
    receiver.script = [(500, {})] * 5
    moment = T0
    for _ in range(3):
        deliver(app, moment)
        moment += timedelta(days=1)
    assert deliver(app, moment).attempted == 0
    [shown] = client.get(f"/v1/messages/{answer['id']}/activity").json["webhooks"]
    assert (shown["status"], shown["attempts"], shown["next_attempt_at"]) == ("failed", 3, None)
    assert len(receiver.received) == 3


def test_410_gone_stops_at_once(app: Flask, client: FlaskClient, receiver: Receiver) -> None:
    customer_reschedules(client, receiver.url)
    receiver.script = [(410, {})]
    assert deliver(app, T0).failed
    assert deliver(app, T0 + timedelta(days=2)).attempted == 0


def test_a_redirect_is_not_followed(app: Flask, client: FlaskClient, receiver: Receiver) -> None:
    customer_reschedules(client, receiver.url)
    receiver.script = [(302, {"Location": receiver.url + "/elsewhere"})]
    assert deliver(app, T0).retrying
    assert len(receiver.received) == 1
    assert deliveries(app)[0].last_status_code == 302


def test_an_unreachable_receiver_is_retried(app: Flask, client: FlaskClient) -> None:
    with socket.socket() as probe:  # a port on 127.0.0.1 where nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    customer_reschedules(client, f"http://127.0.0.1:{port}/hooks")
    assert deliver(app, T0).retrying
    [row] = deliveries(app)
    assert (row.last_status_code, row.last_error) == (None, "connection failed")  # detail only in the log


# --- durable ----------------------------------------------------------------------------------

def test_the_outbox_survives_a_restart(tmp_path: Path, receiver: Receiver) -> None:
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}")
    before = configure(make_app(config))
    customer_reschedules(before.test_client(), receiver.url)
    before.extensions["touchpoint.engine"].dispose()    # the service stops before delivering
    assert receiver.received == []

    after = configure(make_app(config))
    assert len(deliver(after).delivered) == 1
    assert len(receiver.received) == 1 and signature_holds(receiver.received[0])
    after.extensions["touchpoint.engine"].dispose()


def test_a_delivery_leased_by_another_runner_is_left_to_it_until_the_lease_ends(
    app: Flask, client: FlaskClient, receiver: Receiver
) -> None:
    customer_reschedules(client, receiver.url)
    with app.extensions["touchpoint.db"]() as db:
        db.execute(update(WebhookDelivery).values(locked_until=T0 + timedelta(minutes=5), attempts=1))
        db.commit()
    assert deliver(app, T0).attempted == 0                      # another runner is sending it
    assert receiver.received == []
    assert deliver(app, T0 + timedelta(minutes=6)).delivered    # that runner died: sent again
    assert deliveries(app)[0].attempts == 2


# --- runners ----------------------------------------------------------------------------------

def test_the_cli_delivers_what_is_due(app: Flask, client: FlaskClient, receiver: Receiver) -> None:
    customer_reschedules(client, receiver.url)
    result = app.test_cli_runner().invoke(args=["deliver-webhooks", "--once"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "1 delivered, 0 to retry later, 0 failed"
    assert len(receiver.received) == 1


def test_the_background_process_delivers_when_a_web_process_wakes_it(tmp_path: Path,
                                                                     receiver: Receiver) -> None:
    # As `make run` runs them (app/serve): a web app that runs no runner, and the background
    # process's runner, woken through its socket in the var folder at once (the poll interval
    # here is an hour, so only the wake-up can deliver it).
    config = _config(tmp_path, f"sqlite:///{tmp_path / 'test.db'}") | {
        "TESTING": False, "WEBHOOK_POLL_INTERVAL": 3600.0, "VAR_DIR": str(tmp_path)}
    web = configure(make_app(config))
    background = configure(make_app(config))
    assert not web.extensions["touchpoint.webhooks"].running  # a WSGI app starts none itself
    runner = background.extensions["touchpoint.webhooks"]
    listener = wake.Listener(background.config, {"webhooks": runner.wake})
    listener.start()
    runner.start()
    try:
        customer_reschedules(web.test_client(), receiver.url)
        assert receiver.arrived.wait(timeout=30), "the runner did not deliver"
        assert signature_holds(receiver.received[0])
    finally:
        listener.stop()
        runner.stop()
        for app in (web, background):
            app.extensions["touchpoint.engine"].dispose()
    assert not runner.running


def test_tests_and_commands_run_no_background_runner(app: Flask) -> None:
    assert not app.extensions["touchpoint.webhooks"].running
