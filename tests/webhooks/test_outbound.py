"""Outbound calls (app/outbound.py): callback URLs that point inside (loopback, private,
link-local, multicast, reserved; IPv4 and IPv6) are a 422 when a request names them, and are
refused again when a delivery connects, to the address that was checked, so DNS rebinding
cannot swap it. What a caller reads in /activity is generic; the detail is in the log."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app import outbound
from app.config import load
from tests.appointments.helpers import appointment
from tests.jobs.helpers import items
from tests.webhooks.helpers import configure, customer_reschedules, deliver, deliveries

FIELD = "data.reschedule.callback_url"
PUBLIC = "93.184.215.14"  # a public unicast address; the tests never connect to it
_real_getaddrinfo = socket.getaddrinfo

REFUSED_HOSTS = {
    "loopback": "127.0.0.1",
    "loopback-shorthand": "127.1",
    "localhost": "localhost",
    "ipv6-loopback": "[::1]",
    "private-10": "10.1.2.3",
    "private-172": "172.16.0.1",
    "private-192": "192.168.1.1",
    "metadata": "169.254.169.254",
    "multicast": "224.0.0.251",
    "ipv6-multicast": "[ff02::1]",
    "unspecified": "0.0.0.0",
    "ipv4-mapped": "[::ffff:127.0.0.1]",
    "ipv6-link-local": "[fe80::1]",
    "ipv6-unique-local": "[fd00::1]",
    "shared": "100.64.0.1",
    "reserved": "240.0.0.1",
    "broadcast": "255.255.255.255",
    "name-to-loopback": "loopback.test",
    "name-to-private": "intranet.test",
}


def fake_dns(monkeypatch: pytest.MonkeyPatch, answers: dict[str, Callable[[], str]]) -> list[str]:
    """`socket.getaddrinfo` answering each named host with what its callable says (asked
    anew each time, so an answer may change); every other host as the system does. The
    list returned records each name asked."""
    asked: list[str] = []

    def getaddrinfo(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in answers:
            asked.append(host)
            address = answers[host]()
            family = socket.AF_INET6 if ":" in address else socket.AF_INET
            return [(family, socket.SOCK_STREAM, 6, "", (address, port))]
        return _real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return asked


@pytest.fixture
def dns(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    return fake_dns(monkeypatch, {"loopback.test": lambda: "127.0.0.1",
                                  "intranet.test": lambda: "10.0.0.5",
                                  "public.test": lambda: PUBLIC})


def _errors(response: Any) -> list[dict[str, str]]:
    assert response.status_code == 422, response.get_data(as_text=True)
    return response.json["errors"]


# --- at request time: 422 naming the field ------------------------------------------------------

@pytest.mark.parametrize("host", REFUSED_HOSTS.values(), ids=REFUSED_HOSTS.keys())
def test_a_callback_to_an_inside_address_is_refused_when_named(
        client: FlaskClient, dns: list[str], host: str) -> None:
    document = appointment()
    document["data"]["reschedule"]["callback_url"] = f"https://{host}:6379/hooks"
    [error] = _errors(client.post("/v1/render", json=document))
    assert error["path"] == FIELD
    assert "loopback, private, link-local, multicast or reserved" in error["message"]


@pytest.mark.parametrize("host", ["127.0.0.1", "[::1]", "169.254.169.254", "loopback.test"])
def test_a_job_callback_to_an_inside_address_is_refused(client: FlaskClient, dns: list[str],
                                                         host: str) -> None:
    url = f"https://{host}/latest/meta-data"
    [error] = _errors(client.post("/v1/jobs", json={"items": items(1), "callback_url": url}))
    assert error["path"] == "callback_url"
    response = client.post("/v1/jobs", query_string={"callback_url": url},
                           data=b"{}\n", content_type="application/x-ndjson")
    assert [e["path"] for e in _errors(response)] == ["callback_url"]


def test_a_public_address_and_a_name_that_does_not_resolve_yet_are_accepted(
        client: FlaskClient, dns: list[str]) -> None:
    for url in (f"https://{PUBLIC}/hooks", "https://public.test/hooks", "https://upstream.example/h"):
        response = client.post("/v1/jobs", json={"items": items(1), "callback_url": url})
        assert response.status_code == 202, response.get_data(as_text=True)
    assert "public.test" in dns


def test_outbound_allow_hosts_lets_a_named_host_through(app: Flask, client: FlaskClient) -> None:
    url = "https://127.0.0.1:8443/hooks"
    assert client.post("/v1/jobs", json={"items": items(1), "callback_url": url}).status_code == 422
    app.config["OUTBOUND_ALLOW_HOSTS"] = ["127.0.0.1"]
    assert client.post("/v1/jobs", json={"items": items(1), "callback_url": url}).status_code == 202


def test_outbound_allow_hosts_is_read_from_the_environment(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("TOUCHPOINT_VAR_DIR", str(tmp_path))
    assert load({"SECRET_KEY": "k"})["OUTBOUND_ALLOW_HOSTS"] == []
    monkeypatch.setenv("OUTBOUND_ALLOW_HOSTS", "127.0.0.1, Hooks.Local ,[::1]")
    allowed = load({"SECRET_KEY": "k"})["OUTBOUND_ALLOW_HOSTS"]
    assert outbound.allow_list(allowed) == {"127.0.0.1", "hooks.local", "::1"}


@pytest.mark.parametrize("address, public", [
    ("8.8.8.8", True), ("2606:4700:4700::1111", True), ("127.0.0.1", False), ("::1", False),
    ("::ffff:10.0.0.1", False), ("::ffff:8.8.8.8", True), ("64:ff9b::7f00:1", False),
    ("169.254.169.254", False), ("fe80::1", False), ("239.255.255.250", False), ("::", False),
    ("192.0.2.1", False), ("2001:db8::1", False),
])
def test_which_addresses_are_public(address: str, public: bool) -> None:
    assert outbound.is_public(ipaddress.ip_address(address)) is public


# --- at connect time: the checked address, or none ---------------------------------------------

class Receiver:
    """A plain HTTP receiver on 127.0.0.1 that counts what it gets and answers `status`."""

    def __init__(self, status: int = 204) -> None:
        self.hits: list[str] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # the name http.server calls
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.hits.append(self.headers.get("Host", ""))
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


@pytest.fixture
def hooks_app(app: Flask) -> Flask:
    """Webhooks over http (a receiver on 127.0.0.1), but no host allowed inside."""
    configure(app)
    app.config["OUTBOUND_ALLOW_HOSTS"] = []
    return app


def _activity_errors(client: FlaskClient, message_id: str) -> list[str | None]:
    """The error of the newest webhook in the message's activity: tests here move one appointment
    again and again, and its activity holds the webhooks of each move, oldest first."""
    hooks = client.get(f"/v1/messages/{message_id}/activity").json["webhooks"]
    return [hook["last_error"] for hook in hooks][-1:]


def test_a_name_that_rebinds_to_loopback_is_refused_when_the_delivery_connects(
        hooks_app: Flask, client: FlaskClient, receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    now = {"rebind.test": PUBLIC}  # while requests name it; loopback when the delivery connects
    fake_dns(monkeypatch, {"rebind.test": lambda: now["rebind.test"]})
    answer = customer_reschedules(client, f"http://rebind.test:{receiver.port}/hooks")
    now["rebind.test"] = "127.0.0.1"
    assert deliver(hooks_app).retrying
    assert receiver.hits == []
    [row] = deliveries(hooks_app)
    assert (row.last_status_code, row.last_error) == (None, "address not allowed")
    assert _activity_errors(client, answer["id"]) == ["address not allowed"]
    assert "127.0.0.1" in caplog.text  # the detail is for the operator


def test_the_delivery_connects_to_the_address_it_checked(
        hooks_app: Flask, client: FlaskClient, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Public at the check; loopback (where the receiver is) for anyone who asks again: a
    client that resolves the name a second time to connect would reach the receiver."""
    delivery_lookups: list[str] = []

    def rebinding() -> str:  # public until the delivery's own check, loopback after it
        if delivering:
            delivery_lookups.append("rebind.test")
        return "127.0.0.1" if len(delivery_lookups) > 1 else PUBLIC

    delivering = False
    fake_dns(monkeypatch, {"rebind.test": rebinding})
    dialled: list[Any] = []
    real_connect = socket.create_connection

    def create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
        dialled.append(address)
        if address[0] == PUBLIC:  # no network in the tests: as a firewall would answer
            raise ConnectionRefusedError(111, "Connection refused")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "create_connection", create_connection)
    answer = customer_reschedules(client, f"http://rebind.test:{receiver.port}/hooks")
    delivering = True
    assert deliver(hooks_app).retrying
    assert delivery_lookups == ["rebind.test"]  # resolved once, for the check, and not again
    assert dialled == [(PUBLIC, receiver.port)] and receiver.hits == []
    assert _activity_errors(client, answer["id"]) == ["connection failed"]


def test_activity_shows_generic_errors_only(hooks_app: Flask, client: FlaskClient,
                                            caplog: pytest.LogCaptureFixture) -> None:
    hooks_app.config["OUTBOUND_ALLOW_HOSTS"] = ["127.0.0.1"]
    unavailable = Receiver(status=503)
    with socket.socket() as probe:  # a port where nothing listens
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    try:
        urls = {"http-503": f"http://127.0.0.1:{unavailable.port}/hooks",
                "closed": f"http://127.0.0.1:{closed}/hooks",
                "plain-http-spoken-to-tls": f"https://127.0.0.1:{unavailable.port}/hooks"}
        shown = {}
        for case, url in urls.items():
            answer = customer_reschedules(client, url)
            deliver(hooks_app)
            shown[case] = _activity_errors(client, answer["id"])
    finally:
        unavailable.close()
    assert shown == {"http-503": ["HTTP 503"], "closed": ["connection failed"],
                     "plain-http-spoken-to-tls": ["TLS failed"]}
    assert "refused" in caplog.text.lower()  # the log keeps what the caller does not see


# --- TLS: verified against the URL's host while connecting to the checked address --------------

@pytest.fixture
def tls_receiver(tmp_path: Path) -> Iterator[tuple[Receiver, Path]]:
    """An HTTPS receiver on 127.0.0.1 with a certificate for hooks.test only."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=hooks.test",
                    "-addext", "subjectAltName=DNS:hooks.test"], check=True, capture_output=True)
    running = Receiver()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    running.server.socket = context.wrap_socket(running.server.socket, server_side=True)
    yield running, cert
    running.close()


def test_tls_is_verified_against_the_host_name_of_the_url(
        hooks_app: Flask, client: FlaskClient, tls_receiver: tuple[Receiver, Path],
        monkeypatch: pytest.MonkeyPatch) -> None:
    receiver, cert = tls_receiver
    fake_dns(monkeypatch, {"hooks.test": lambda: "127.0.0.1", "other.test": lambda: "127.0.0.1"})
    hooks_app.config["OUTBOUND_ALLOW_HOSTS"] = ["hooks.test", "other.test"]
    trusting = ssl.create_default_context(cafile=str(cert))  # our test CA, and only it
    monkeypatch.setattr(ssl, "create_default_context", lambda: trusting)
    good = customer_reschedules(client, f"https://hooks.test:{receiver.port}/hooks")
    deliver(hooks_app)
    assert receiver.hits == [f"hooks.test:{receiver.port}"]
    assert _activity_errors(client, good["id"]) == [None]
    wrong = customer_reschedules(client, f"https://other.test:{receiver.port}/hooks")
    deliver(hooks_app)
    assert len(receiver.hits) == 1  # the certificate is not other.test's: nothing sent
    assert _activity_errors(client, wrong["id"]) == ["TLS failed"]


def test_a_callback_host_is_resolved_once_a_minute_at_request_time(client: FlaskClient,
                                                                  dns: list[str]) -> None:
    """A render does not wait on the resolver for a host checked a moment ago; a refused host
    stays refused; the check when a delivery connects resolves afresh (the rebinding test)."""
    for _ in range(3):
        response = client.post("/v1/jobs", json={"items": items(1), "callback_url": "https://public.test/h"})
        assert response.status_code == 202, response.get_data(as_text=True)
        assert _errors(client.post("/v1/jobs", json={"items": items(1),
                                                     "callback_url": "https://intranet.test/h"}))
    assert dns.count("public.test") == 1 and dns.count("intranet.test") == 1
