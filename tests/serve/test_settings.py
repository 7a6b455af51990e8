"""The server's own settings: the health port's, and the web processes' gunicorn hooks, called
as gunicorn calls them."""

from __future__ import annotations

import gc
import logging
from pathlib import Path
from types import SimpleNamespace

import pytest

from app import config
from app.serve import gunicorn_conf


@pytest.mark.parametrize(("value", "port"), [("9100", 9100), ("", None)])
def test_health_port_is_read_from_the_environment(value: str, port: int | None,
                                                  monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOUCHPOINT_VAR_DIR", str(tmp_path))
    monkeypatch.setenv("HEALTH_PORT", value)
    assert config.load({"SECRET_KEY": "x" * 48})["HEALTH_PORT"] == port


def test_health_port_cannot_be_the_web_port(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("TOUCHPOINT_VAR_DIR", str(tmp_path))
    with pytest.raises(config.ConfigError) as refused:
        config.load({"SECRET_KEY": "x" * 48, "PORT": 8000, "HEALTH_PORT": 8000})
    assert refused.value.problems == ["HEALTH_PORT must differ from PORT (both are 8000): the liveness "
                                      "probe has a port of its own"]


def test_a_ready_web_process_takes_what_it_has_built_out_of_the_collectors_view() -> None:
    built = [[n] for n in range(1000)]  # stands for the app's own long-lived objects
    assert all(gc.is_tracked(item) for item in built)
    worker = SimpleNamespace(pid=1234, log=logging.getLogger("test.gunicorn"))
    try:
        gunicorn_conf.post_worker_init(worker)
        frozen = gc.get_freeze_count()
        tracked = {id(found) for found in gc.get_objects()}
    finally:
        gc.unfreeze()
    assert frozen >= len(built)
    assert not any(id(item) in tracked for item in built)
    # Unfrozen again, the collector sees them as before.
    assert any(found is built[0] for found in gc.get_objects())
