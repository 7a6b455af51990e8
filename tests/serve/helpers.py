"""Helpers for the tests that start the real server (`python -m app.serve`) as `make run`
does: its environment, the process, and a client that calls it with its key (a free port
is bench.proc's)."""

from __future__ import annotations

import http.client
import json
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.proc import server_environment
from tests.conftest import ROOT

START_PATIENCE = 120.0
PATIENCE = 60.0


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    var_dir: Path
    log: Path
    health_port: int | None = None

    @property
    def key(self) -> str:
        return (self.var_dir / "dev-api-key").read_text().strip()

    def request(self, method: str, path: str, body: Any = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=PATIENCE)
        try:
            sent = {"Authorization": f"Bearer {self.key}", **(headers or {})}
            data = json.dumps(body).encode() if body is not None else None
            if data is not None:
                sent["Content-Type"] = "application/json"
            connection.request(method, path, body=data, headers=sent)
            response = connection.getresponse()
            return response.status, dict(response.getheaders()), response.read()
        finally:
            connection.close()

    def log_lines(self) -> list[dict[str, Any]]:
        lines = []
        for line in self.log.read_text(errors="replace").splitlines():
            if line.startswith("{"):
                lines.append(json.loads(line))
        return lines

    def pids(self) -> dict[int, tuple[int, str]]:
        """Every process under the launcher: pid -> (parent pid, command line)."""
        table = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
                command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except (OSError, IndexError, ValueError):
                continue
            table[int(entry.name)] = (parent, command)
        tree, todo = {}, [self.process.pid]
        while todo:
            pid = todo.pop()
            for child, (parent, command) in table.items():
                if parent == pid:
                    tree[child] = (parent, command)
                    todo.append(child)
        return tree


def web_processes_ready(log: Path) -> int:
    """How many web processes have said they serve (gunicorn_conf.post_worker_init). Each has
    a socket of its own, so one answering /readyz says nothing of the others."""
    return len(re.findall(r"web process \d+ ready", log.read_text(errors="replace")))


def ready(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        connection.request("GET", "/readyz")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def start(var_dir: Path, port: int, log: Path, **extra: str) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([sys.executable, "-m", "app.serve"], cwd=ROOT,
                                env=server_environment(var_dir, port, **extra),
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
