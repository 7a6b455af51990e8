"""What the benchmarks read of processes and the machine, from Linux's /proc."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")
# What the calling environment may carry that would point a started server elsewhere.
INHERITED = ("DATABASE_URL", "ARTIFACT_DIR", "PUBLIC_BASE_URL", "SECRET_KEY", "TOUCHPOINT_ENV",
             "PROMETHEUS_MULTIPROC_DIR", "CELERY_BROKER_URL", "JOB_RUNNER", "WEBHOOK_RUNNER",
             "TEMPLATE_AUTO_RELOAD")


def server_environment(var_dir: Path, port: int, **settings: str) -> dict[str, str]:
    """The environment of `python -m app.serve` on the embedded defaults under `var_dir`, on
    `port`: the caller's own, less what would point it elsewhere, plus `settings`."""
    environment = {key: value for key, value in os.environ.items() if key not in INHERITED}
    return {**environment, "TOUCHPOINT_VAR_DIR": str(var_dir), "PORT": str(port), **settings}


def cpu_seconds(pids: list[int]) -> float:
    """CPU time (user + system) these processes have used; a gone process counts nothing."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def machine_ticks() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole machine, every process's (/proc/stat)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return sum(fields) - idle, sum(fields)


def process_tree(root: int) -> list[int]:
    """The pid and every descendant's (/proc's parent links)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def free_port() -> int:
    """A loopback port nobody listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_quiet(root: int, share: float = 0.05, window: float = 0.5,
                     deadline: float = 120.0) -> float:
    """Wait until the process tree under `root` uses under `share` of one core over `window`
    seconds (its pool processes have started and warmed up, say), so a measurement that
    follows counts none of their start; answers the seconds waited."""
    started = time.monotonic()
    while time.monotonic() - started < deadline:
        before = cpu_seconds(process_tree(root))
        time.sleep(window)  # sampling the tree's CPU: the window is the measurement
        if cpu_seconds(process_tree(root)) - before < share * window:
            break
    return time.monotonic() - started
