"""Waking the background process from a web worker: one datagram on a Unix socket.

The job runner and the webhook runner live in one background process (app/serve), not in
the web workers that queue their work. A worker that queued something sends `jobs` or
`webhooks` to `<var>/background.sock`; the background process wakes that runner at once.
The runners also poll (jobs every 2 s, webhooks every WEBHOOK_POLL_INTERVAL), so a wake that
is lost (no background process, a full socket buffer) only delays the work, never loses it.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

SOCKET_NAME = "background.sock"
# sockaddr_un's sun_path: 108 bytes with the terminating NUL.
MAX_PATH = 107


def socket_path(config: Mapping[str, Any]) -> Path:
    return Path(config["VAR_DIR"]) / SOCKET_NAME


def notify(config: Mapping[str, Any], what: str) -> None:
    """Wake the background process's `what` runner; never blocks, never raises."""
    path = str(socket_path(config))
    if len(path) > MAX_PATH:
        return
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender:
        sender.setblocking(False)
        with contextlib.suppress(OSError):  # nobody listening: the runner's poll finds it
            sender.sendto(what.encode(), path)


class Listener:
    """In the background process: calls `wakers[name]()` for each datagram `name`."""

    def __init__(self, config: Mapping[str, Any], wakers: dict[str, Callable[[], None]]) -> None:
        self.path = socket_path(config)
        self.wakers = wakers
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if len(str(self.path)) > MAX_PATH:
            log.warning("%s is too long a path for a Unix socket: the runners will only poll", self.path)
            return
        self.path.unlink(missing_ok=True)  # left by a process that was killed
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind(str(self.path))
        self._thread = threading.Thread(target=self._listen, name="touchpoint-wake", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self.path.unlink(missing_ok=True)

    def _listen(self) -> None:
        assert self._socket is not None
        while True:
            try:
                name = self._socket.recv(64).decode(errors="replace")
            except OSError:  # closed by stop()
                return
            waker = self.wakers.get(name)
            if waker is not None:
                waker()
