"""The real server, started as `make run` starts it (`python -m app.serve`): gunicorn and the
background process, on a free port, in a var folder of its own, with its development key.

One server serves the whole module; the last test stops it with SIGTERM in the middle of a
render and checks that nothing was half stored.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.proc import free_port
from tests.conftest import FIXTURES
from tests.jobs.helpers import wait_for
from tests.serve.helpers import (
    PATIENCE,
    START_PATIENCE,
    Server,
    ready,
    start,
    web_processes_ready,
)

WEB_WORKERS = 2
WEB_THREADS = 2
JOB_WORKERS = 1
STAGES = ["validate", "enrich", "personalise", "compose", "draw", "render", "store"]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    var_dir = tmp_path_factory.mktemp("served") / "var"
    log = var_dir.parent / "server.log"
    port, health_port = free_port(), free_port()
    process = start(var_dir, port, log, LOG_FORMAT="json", WEB_CONCURRENCY=str(WEB_WORKERS),
                    WEB_THREADS=str(WEB_THREADS), JOB_WORKERS=str(JOB_WORKERS),
                    HEALTH_PORT=str(health_port))
    try:
        wait_for(lambda: process.poll() is not None
                 or (ready(port) and web_processes_ready(log) == WEB_WORKERS),
                 "every web process to be ready", START_PATIENCE)
        assert process.poll() is None, log.read_text()
        yield Server(process, port, var_dir, log, health_port)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(PATIENCE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def fixture(name: str, **changes: Any) -> dict[str, Any]:
    return {**json.loads((FIXTURES / f"{name}.json").read_text(encoding="utf-8")), **changes}


# Health.

def test_healthz_and_readyz_answer_without_a_key(server: Server) -> None:
    status, _, body = server.request("GET", "/healthz", headers={"Authorization": ""})
    assert (status, json.loads(body)) == (200, {"status": "ok"})
    status, _, body = server.request("GET", "/readyz", headers={"Authorization": ""})
    assert status == 200
    assert json.loads(body) == {"status": "ready", "checks": {"database": "ok", "artifacts": "ok"}}


def probe(port: int, method: str = "GET", path: str = "/healthz",
          timeout: float = PATIENCE) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def test_the_health_port_says_every_process_runs(server: Server) -> None:
    assert server.health_port is not None
    status, headers, body = probe(server.health_port)
    assert (status, headers["Content-Type"]) == (200, "application/json")
    assert json.loads(body) == {"status": "ok", "processes": {"web": "running", "background": "running"}}
    status, headers, body = probe(server.health_port, "HEAD")
    assert (status, body) == (200, b"")
    status, headers, body = probe(server.health_port, path="/v1/messages")
    assert (status, headers["Content-Type"]) == (404, "application/problem+json")
    assert json.loads(body)["status"] == 404


def test_the_health_port_answers_while_every_web_thread_is_taken(server: Server) -> None:
    """Clients that send their render's body slowly hold a web thread each (its body is read
    before the render starts). With every thread of both web processes held, the web port's
    /healthz waits for one; the health port answers at once."""
    assert server.health_port is not None
    # The kernel spreads connections over the processes' sockets at random: 20 leave a process
    # with fewer than its 2 threads' worth about once in 25,000 runs.
    head = (f"POST /v1/render HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{").encode()
    slow = [socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE) for _ in range(20)]
    try:
        for connection in slow:
            connection.sendall(head)
        # Every thread is held once a probe of the web port goes unanswered.
        with pytest.raises(TimeoutError):
            probe(server.port, timeout=2.0)
        status, _, body = probe(server.health_port, timeout=PATIENCE)
        assert (status, json.loads(body)["status"]) == (200, "ok")
    finally:
        for connection in slow:
            connection.close()
    assert probe(server.port)[0] == 200


def test_kept_alive_connections_end_up_spread_evenly_over_the_web_processes(server: Server) -> None:
    """16 clients, each on a kept-alive connection: the kernel hands them to the 2 processes at
    random (8 and 8 one time in five). A process over its share answers `Connection: close`,
    its client reconnects and is handed out again, until each process holds 8."""
    clients = [http.client.HTTPConnection("127.0.0.1", server.port, timeout=PATIENCE) for _ in range(16)]
    try:
        for _ in range(50):
            closed = 0
            for client in clients:
                client.request("GET", "/healthz")
                response = client.getresponse()
                assert (response.status, json.loads(response.read())["status"]) == (200, "ok")
                closed += response.getheader("Connection") == "close"
            if not closed:
                break
        assert closed == 0, "the connections were still moving after 50 rounds"
        assert sorted(connections_by_process(server).values()) == [8, 8]
    finally:
        for client in clients:
            client.close()


def connections_by_process(server: Server) -> dict[int, int]:
    """Each web process's established connections on the server's port, from /proc."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == server.port and fields[3] == "01":
                established.add(fields[9])  # the socket's inode
    tree = server.pids()
    web = next(pid for pid, (_, command) in tree.items() if "gunicorn" in command
               and tree[pid][0] == server.process.pid)
    held = {}
    for pid in (pid for pid, (parent, _) in tree.items() if parent == web):
        sockets = {os.readlink(link)[len("socket:["):-1] for link in Path(f"/proc/{pid}/fd").iterdir()
                   if os.readlink(link).startswith("socket:[")}
        held[pid] = len(sockets & established)
    return held


def test_readyz_is_503_and_says_why_when_artifacts_cannot_be_written(server: Server) -> None:
    # Root ignores permissions, so a file stands where the folder was.
    folder = server.var_dir / "artifacts" / "messages"
    aside = folder.with_name("messages-aside")
    folder.rename(aside)
    folder.write_text("not a folder")
    try:
        status, _, body = server.request("GET", "/readyz")
    finally:
        folder.unlink()
        aside.rename(folder)
    answer = json.loads(body)
    assert status == 503 and answer["status"] == "unavailable"
    assert answer["checks"]["database"] == "ok"
    assert answer["checks"]["artifacts"].startswith("failed")
    assert server.request("GET", "/readyz")[0] == 200


# Requests and their log lines.

@pytest.mark.parametrize(("given", "kept"), [("trace-42.a", True), ("two words", False), ("x" * 200, False)])
def test_a_request_id_is_taken_when_plain_and_made_otherwise(server: Server, given: str, kept: bool) -> None:
    _, headers, _ = server.request("GET", "/healthz", headers={"X-Request-Id": given})
    if kept:
        assert headers["X-Request-Id"] == given
    else:
        assert re.fullmatch(r"[0-9a-f]{32}", headers["X-Request-Id"])


def test_a_render_logs_one_request_line_and_one_render_line(server: Server) -> None:
    email_only = fixture("invoice/capsules-nl", channels=["email"])
    status, headers, body = server.request("POST", "/v1/render", email_only,
                                           headers={"X-Request-Id": "render-log-1"})
    assert status == 201, body
    answer = json.loads(body)
    assert headers["X-Request-Id"] == "render-log-1"
    # PORT set, PUBLIC_BASE_URL not: links point at the port the server listens on.
    assert all(action["url"].startswith(f"http://127.0.0.1:{server.port}/")
               for action in answer["actions"] if action["kind"] == "view_online")

    def lines() -> list[dict[str, Any]]:
        return [line for line in server.log_lines() if line.get("request_id") == "render-log-1"]

    wait_for(lambda: len(lines()) >= 2, "the request's log lines")
    requests = [line for line in lines() if line["msg"] == "request"]
    renders = [line for line in lines() if line["msg"] == "render"]
    assert len(requests) == 1 and len(renders) == 1, lines()
    request = requests[0]
    assert (request["method"], request["path"], request["status"]) == ("POST", "/v1/render", 201)
    assert request["ms"] > 0 and request["level"] == "info" and request["logger"] == "touchpoint.request"
    assert request["key"] and server.key.startswith(request["key"]) and request["key"] != server.key
    render = renders[0]
    assert (render["message_id"], render["type"], render["channels"]) == (answer["id"], "invoice", ["email"])
    assert list(render["stages"]) == STAGES and all(ms >= 0 for ms in render["stages"].values())
    # The key itself is never written down.
    assert server.key not in server.log.read_text()


def test_a_customers_link_token_is_not_logged(server: Server) -> None:
    _, _, body = server.request("POST", "/v1/render", fixture("invoice/capsules-nl", channels=["web"]))
    page = json.loads(body)["outputs"]["web"]["url"]
    path = page.split(str(server.port), 1)[1]
    status, _, _ = server.request("GET", path, headers={"X-Request-Id": "page-log-1"})
    assert status == 200
    line = wait_for(lambda: [x for x in server.log_lines() if x.get("request_id") == "page-log-1"],
                    "the page's line")[0]
    assert line["path"] == "/m/<token>" and path.rsplit("/", 1)[1] not in server.log.read_text()


def test_metrics_add_up_every_web_process(server: Server) -> None:
    email_only = fixture("invoice/capsules-nl", channels=["email"])
    for _ in range(2 * WEB_WORKERS):
        assert server.request("POST", "/v1/render", email_only)[0] == 201
    rendered = sum(1 for line in server.log_lines()
                   if line["msg"] == "render" and "email" in line["channels"])
    status, _, body = server.request("GET", "/metrics")
    assert status == 200
    counted = [float(line.rsplit(" ", 1)[1]) for line in body.decode().splitlines()
               if line.startswith("touchpoint_channel_renders_total{")
               and 'channel="email"' in line and 'type="invoice"' in line]
    assert counted == [rendered]


# The runners: exactly once, in the background process.

def test_the_runners_run_once_in_the_background_process(server: Server) -> None:
    tree = server.pids()
    launcher_children = {pid: cmd for pid, (parent, cmd) in tree.items() if parent == server.process.pid}
    assert sorted(command.split(" -m ")[1].split()[0] for command in launcher_children.values()) == \
        ["app.serve.background", "gunicorn"], launcher_children
    web = next(pid for pid, command in launcher_children.items() if "gunicorn" in command)
    background = next(pid for pid in launcher_children if pid != web)
    workers = [pid for pid, (parent, _) in tree.items() if parent == web]
    assert len(workers) == WEB_WORKERS
    # The web workers start nothing; the job runner's pool hangs off the background process.
    assert not [pid for pid, (parent, _) in tree.items() if parent in workers]
    pool = [pid for pid, (parent, command) in tree.items()
            if parent == background and "spawn_main" in command]
    assert len(pool) == JOB_WORKERS


def test_the_background_process_runs_the_retention_purge(server: Server) -> None:
    # At start (then daily): on a fresh var folder there is nothing past its age.
    line = wait_for(lambda: next((line for line in server.log_lines()
                                  if line.get("msg", "").startswith("retention: purged")), None),
                    "the retention pass in the log")
    assert line["msg"] == "retention: purged nothing"


def test_a_deferred_pdf_is_laid_out_by_the_background_runner(server: Server) -> None:
    status, headers, body = server.request("POST", "/v1/render", fixture("invoice/capsules-nl"),
                                           headers={"Prefer": "respond-async"})
    assert status == 201 and headers.get("Preference-Applied") == "respond-async"
    message = json.loads(body)["id"]

    def pdf() -> dict[str, Any] | None:
        found = json.loads(server.request("GET", f"/v1/messages/{message}")[2])["outputs"]["pdf"]
        return found if found["status"] != "pending" else None

    assert wait_for(pdf, "the deferred PDF")["status"] == "ready"


# Production settings.

@pytest.mark.parametrize(("settings", "named"), [
    ({"SECRET_KEY": "k" * 40}, ["PUBLIC_BASE_URL is not set"]),
    ({"SECRET_KEY": "short", "PUBLIC_BASE_URL": "http://touchpoint.example"},
     ["PUBLIC_BASE_URL must start with https://", "SECRET_KEY is 5 characters"]),
])
def test_production_refuses_to_start_and_names_the_setting(tmp_path: Path, settings: dict[str, str],
                                                          named: list[str]) -> None:
    log = tmp_path / "refused.log"
    process = start(tmp_path / "var", free_port(), log, TOUCHPOINT_ENV="production", **settings)
    assert process.wait(PATIENCE) == 2
    said = log.read_text()
    for text in named:
        assert f"touchpoint: cannot start: {text}" in said, said
    assert not (tmp_path / "var" / "dev-api-key").exists()


def test_a_port_another_process_listens_on_stops_the_start(tmp_path: Path) -> None:
    """The web processes bind with SO_REUSEPORT, which would let two services share a port
    without a word: the launcher refuses instead, naming PORT."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        log = tmp_path / "refused.log"
        process = start(tmp_path / "var", port, log)
        assert process.wait(PATIENCE) == 2
    assert f"touchpoint: cannot start: PORT {port} on HOST '127.0.0.1' is in use" in log.read_text()


def test_a_health_port_another_process_listens_on_stops_the_start(tmp_path: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        taken = other.getsockname()[1]
        log = tmp_path / "refused.log"
        process = start(tmp_path / "var", free_port(), log, HEALTH_PORT=str(taken))
        assert process.wait(PATIENCE) == 2
    assert f"touchpoint: cannot start: HEALTH_PORT {taken} on HOST '127.0.0.1' cannot be listened on" \
        in log.read_text()


# Stopping: last, since it stops the module's server.

def test_sigterm_mid_render_finishes_it_and_stores_nothing_by_half(server: Server) -> None:
    body = json.dumps(fixture("invoice/forty-lines-en", channels=["email", "pdf"])).encode()
    connection = socket.create_connection(("127.0.0.1", server.port), timeout=PATIENCE)
    head = (f"POST /v1/render HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {server.key}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            "Expect: 100-continue\r\n\r\n")
    connection.sendall(head.encode())
    # gunicorn answers 100 Continue as it hands the request to the app: a worker has it now.
    assert connection.recv(64).startswith(b"HTTP/1.1 100 Continue")
    connection.sendall(body)
    everyone = server.pids()
    server.process.send_signal(signal.SIGTERM)

    answer = http.client.HTTPResponse(connection)
    answer.begin()
    assert answer.status == 201
    message = json.loads(answer.read())["id"]
    connection.close()
    assert server.process.wait(PATIENCE) == 0, server.log.read_text()[-3000:]
    assert not [everyone[pid][1] for pid in everyone if alive(pid)], "a process outlived the launcher"
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", server.port), timeout=5)
    assert_nothing_half_stored(server.var_dir)
    stored = stored_artifacts(server.var_dir)
    assert {"email.html", "document.pdf"} <= stored[message]


def alive(pid: int) -> bool:
    """Running, or able to run. A zombie has exited: it waits only for its parent (here the
    container's init, which may reap late) to collect its status."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def stored_artifacts(var_dir: Path, on_disk: bool | None = None) -> dict[str, set[str]]:
    """Each message's artifact names: all (None), or those kept as files (True) or in rows (False)."""
    where = {None: "", True: " WHERE path IS NOT NULL", False: " WHERE path IS NULL"}[on_disk]
    with sqlite3.connect(var_dir / "touchpoint.db") as db:
        messages = {row[0] for row in db.execute("SELECT id FROM messages")}
        rows: dict[str, set[str]] = {message: set() for message in messages}
        for message, name in db.execute("SELECT message_id, name FROM artifacts" + where):
            rows[message].add(name)
        # A file kept in its row has its bytes there.
        assert not list(db.execute("SELECT 1 FROM artifacts WHERE path IS NULL AND "
                                   "(content IS NULL OR length(content) != size)"))
    return rows


def assert_nothing_half_stored(var_dir: Path) -> None:
    """Every message has its artifacts, each file its message and row, and every row its bytes
    (in the row or in its file)."""
    assert all(stored_artifacts(var_dir).values())
    files = {message: names for message, names in stored_artifacts(var_dir, on_disk=True).items() if names}
    folder = var_dir / "artifacts" / "messages"
    on_disk = {path.name: {file.name for file in path.iterdir()} for path in folder.iterdir()}
    assert on_disk == files
