"""Every PDF in a bounded sandbox: cheap checks before layout, then a child process with a
wall-time and a memory limit; over a limit, a 422 naming it, nothing stored, the serving
process unharmed.

The finding: one invoice of 1,000 lines, each a 2,000-character word, took 11 min 48 s of
CPU and 876 MB before a 422 ('1002 pages; limit 200'); `Prefer: respond-async` accepted it
(201) and the email then went out without its PDF.
"""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.channels import layout, pdf
from app.channels.sandbox import Sandbox, run_here
from app.jobs.embedded import drain
from app.problems import PdfMemoryLimit, PdfTimeLimit, RenderCancelled
from app.store import artifacts
from bench.proc import cpu_seconds, free_port
from tests.conftest import load_fixture
from tests.jobs.helpers import wait_for
from tests.serve.helpers import Server, ready, start

ASYNC = {"Prefer": "respond-async"}


def invoice(lines: int, description: str) -> dict[str, Any]:
    document = load_fixture("invoice/capsules-nl")
    line = document["data"]["lines"][0]
    document["data"]["lines"] = [{**line, "description": description} for _ in range(lines)]
    del document["data"]["totals"]
    return document


def stored_messages(app: Flask) -> list[Path]:
    return list((Path(app.config["ARTIFACT_DIR"]) / "messages").glob("*/*"))


def test_the_invoice_of_long_words_is_refused_before_layout(app: Flask, client: FlaskClient,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    laid_out: list[str] = []
    monkeypatch.setattr(pdf, "render_bounded", lambda *args, **kwargs: laid_out.append("pdf"))
    response = client.post("/v1/render", json=invoice(1000, "x" * 2000))
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    paths = [error["path"] for error in response.json["errors"]]
    assert paths[:2] == ["data.lines[0].description", "data.lines[1].description"]
    assert "word longer than 300 characters" in response.json["errors"][0]["message"]
    assert "data.lines" in paths  # and it could never fit 200 pages either
    assert laid_out == [] and stored_messages(app) == []


def test_lines_that_cannot_fit_the_page_limit_are_refused_by_the_field(client: FlaskClient) -> None:
    words = " ".join(["lungo"] * 333)  # 2,000 characters that break: 34 rows in their cell
    response = client.post("/v1/render", json=invoice(1000, words))
    assert response.status_code == 422
    # The rows the table would need, and the text itself: over 2,000,000 characters.
    assert [e["path"] for e in response.json["errors"]] == ["data.lines", "data"]
    assert "the PDF's limit is 200" in response.json["errors"][0]["message"]
    assert "holds at most 1,200,000" in response.json["errors"][1]["message"]


def test_the_async_path_refuses_it_before_answering(app: Flask, client: FlaskClient) -> None:
    response = client.post("/v1/render", json=invoice(1000, "x" * 2000), headers=ASYNC)
    assert response.status_code == 422
    assert drain(app) == 0 and stored_messages(app) == []


def test_an_ordinary_invoice_passes_the_checks_and_is_laid_out(client: FlaskClient) -> None:
    response = client.post("/v1/render", json=invoice(60, "Arpeggia capsules, sleeve of 10 " * 3))
    assert response.status_code == 201, response.json
    assert response.json["outputs"]["pdf"]["pages"] >= 2


def test_a_pdf_over_its_time_limit_is_a_422_and_the_next_one_renders(app: Flask, client: FlaskClient) -> None:
    app.config["PDF_TIME_LIMIT"] = 0.2
    response = client.post("/v1/render", json=invoice(300, "Arpeggia capsules, sleeve of 10"))
    assert response.status_code == 422, response.json
    assert response.json["type"] == "/problems/pdf-time-limit"
    assert response.json["errors"][0]["path"] == "data"
    assert "time limit of 0.2 s" in response.json["detail"]
    assert stored_messages(app) == []
    app.config["PDF_TIME_LIMIT"] = 20.0
    assert client.post("/v1/render", json=load_fixture("invoice/capsules-nl")).status_code == 201


def test_a_pdf_over_its_memory_limit_is_a_422_and_the_next_one_renders(app: Flask,
                                                                       client: FlaskClient) -> None:
    app.config["PDF_MEMORY_LIMIT"] = 1
    # Only the memory limit may end this layout: on a loaded machine, laying out up to the
    # child's spare memory took longer than the default 20 s.
    app.config["PDF_TIME_LIMIT"] = 600.0
    # 1,000 lines of some 30 words each take far over 1 MB to lay out, whatever the child had
    # spare from the documents before.
    document = {**invoice(1000, "Arpeggia capsules, sleeve of 10, ristretto roast. " * 5),
                "channels": ["pdf"]}
    response = client.post("/v1/render", json=document)
    assert response.status_code == 422, response.json
    assert response.json["type"] == "/problems/pdf-memory-limit"
    assert "memory limit of 1 MB" in response.json["detail"]
    assert stored_messages(app) == []
    app.config["PDF_MEMORY_LIMIT"], app.config["PDF_TIME_LIMIT"] = 512, 20.0
    assert client.post("/v1/render", json=load_fixture("invoice/capsules-nl")).status_code == 201


def test_an_async_pdf_over_its_limit_fails_and_its_email_with_it(app: Flask, client: FlaskClient) -> None:
    app.config["PDF_PENDING_WAIT"] = 0.1
    answer = client.post("/v1/render", json=invoice(300, "Arpeggia capsules, sleeve of 10"), headers=ASYNC)
    assert answer.status_code == 201 and answer.json["outputs"]["pdf"]["status"] == "pending"
    app.config["PDF_TIME_LIMIT"] = 0.2
    assert drain(app) == 1
    document = client.get(f"/v1/messages/{answer.json['id']}").json
    assert document["outputs"]["pdf"]["status"] == "failed"
    assert document["outputs"]["pdf"]["problem"]["type"] == "/problems/pdf-time-limit"
    assert document["outputs"]["email"]["status"] == "failed"
    assert client.get(f"/v1/messages/{answer.json['id']}/email.eml").status_code == 404
    assert client.get(f"/v1/messages/{answer.json['id']}/document.pdf").status_code == 404


def test_the_sandbox_makes_the_same_bytes_as_the_direct_call(app: Flask) -> None:
    from app.pipeline import prepare_message

    with app.test_request_context():
        message, enriched = prepare_message(load_fixture("invoice/capsules-nl"))
        html, einvoice, _ = pdf.document_source(message, enriched)
        root = artifacts().root
        direct = layout.lay_out(html, root, enriched.public_base_url, einvoice, enriched.now)
        boxed = pdf.render_bounded(html, root, enriched.public_base_url, einvoice, enriched.now, app.config)
    assert boxed == direct and direct[0].startswith(b"%PDF-")


def test_a_client_that_leaves_cancels_the_layout_and_its_child() -> None:
    box = Sandbox(processes=1)
    try:
        assert box.call(pow, (2, 10), seconds=10, megabytes=64) == 1024
        first = box._idle[0].process
        with pytest.raises(RenderCancelled):
            box.call(layout.lay_out, ("<p>x</p>" * 20000, Path("/nonexistent"), "http://t.test", None, None),
                     seconds=30, megabytes=512, cancelled=lambda: True)
        first.join(5)
        assert not first.is_alive() and box._idle == [] and box._count == 0
    finally:
        box.close()


def test_a_closed_connection_reads_as_gone(app: Flask) -> None:
    ours, theirs = socket.socketpair()
    with ours, app.test_request_context(environ_base={"gunicorn.socket": ours}):
        gone = pdf.client_gone()
        assert gone is not None and gone() is False
        theirs.close()
        assert gone() is True


def test_waiting_for_a_free_child_counts_against_the_time_limit() -> None:
    """The limit bounds the answer: a call queued behind a slow one does not wait it out."""
    box = Sandbox(processes=1)
    try:
        box.call(pow, (2, 10), seconds=10, megabytes=64)  # the one child, started and warm
        child = box._idle.pop()  # held, as by a render in another thread
        with pytest.raises(PdfTimeLimit):
            box.call(pow, (2, 10), seconds=0.3, megabytes=64)
        box._give_back(child, True)
        assert box.call(pow, (2, 11), seconds=10, megabytes=64) == 2048
    finally:
        box.close()


def spin(seconds: float) -> None:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def test_in_a_pool_process_the_limits_apply_to_the_call_itself() -> None:
    """A job pool process lays out in its own main thread, under a timer and RLIMIT_AS."""
    assert run_here(pow, (2, 10), seconds=5, megabytes=64) == 1024
    with pytest.raises(PdfTimeLimit):
        run_here(spin, (5.0,), seconds=0.2, megabytes=64)
    with pytest.raises(PdfMemoryLimit):
        run_here(bytearray, (256 * 2**20,), seconds=5, megabytes=64)
    assert bytearray(256 * 2**20)  # and the limit is lifted afterwards
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)


# Through the real server (gunicorn, as `make run` serves), where the findings were made.


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var_dir = tmp_path_factory.mktemp("bounded") / "var"
    log = var_dir.parent / "server.log"
    port = free_port()
    process = start(var_dir, port, log, LOG_FORMAT="json", WEB_CONCURRENCY="1", WEB_THREADS="2",
                    JOB_WORKERS="1", PDF_TIME_LIMIT="3")
    try:
        wait_for(lambda: process.poll() is not None or ready(port), "the server to be ready", 120)
        assert process.poll() is None, log.read_text()
        yield Server(process, port, var_dir, log)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


def slow_invoice() -> dict[str, Any]:
    """Passes the cheap checks, but takes far longer than 3 s to lay out."""
    return {**invoice(1000, "Arpeggia capsules, sleeve of 10, " * 4), "channels": ["pdf"]}


def test_over_the_time_limit_the_server_answers_a_422_problem(served: Server) -> None:
    status, headers, body = served.request("POST", "/v1/render", slow_invoice())
    assert status == 422 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["type"] == "/problems/pdf-time-limit"
    assert list((served.var_dir / "artifacts" / "messages").glob("*/*")) == []
    assert served.request("POST", "/v1/render", load_fixture("invoice/capsules-nl"))[0] == 201


def laying_out(served: Server) -> float:
    """CPU seconds used so far by the PDF children (the forkservers' children) of the server."""
    tree = served.pids()
    forkservers = {pid for pid, (_, command) in tree.items() if "forkserver" in command}
    return cpu_seconds([pid for pid, (parent, _) in tree.items() if parent in forkservers])


def test_a_client_that_leaves_stops_its_render(served: Server) -> None:
    seen = served.log_lines()
    body = json.dumps(slow_invoice()).encode()
    before = laying_out(served)
    head = ("POST /v1/render HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {served.key}\r\nContent-Length: {len(body)}\r\n\r\n")
    with socket.create_connection(("127.0.0.1", served.port)) as connection:
        connection.sendall(head.encode() + body)
        wait_for(lambda: laying_out(served) > before + 0.3, "the layout to be under way", 30)
    # Cancelled (499), not stopped by the time limit (422) nor finished.
    line = wait_for(lambda: next((line for line in served.log_lines()
                                  if line.get("msg") == "request" and line.get("status") in (201, 422, 499)
                                  and line.get("path") == "/v1/render" and line not in seen), None),
                    "the render to end", 30)
    assert line["status"] == 499
