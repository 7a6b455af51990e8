"""The web processes' gunicorn hooks, called as gunicorn calls them."""

from __future__ import annotations

import gc
import logging
from types import SimpleNamespace

from app.serve import gunicorn_conf


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
