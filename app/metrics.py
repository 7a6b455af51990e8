"""Prometheus metrics: renders per type and channel, their durations, failures, job items.

One process records them: the web process for its own renders and, for the embedded
runner, for everything its pool renders. A pool process does not record: what it measured
travels back with the item's outcome (`collecting`) and the web process records it, so the
numbers need no multiprocess mode. Celery workers record in their own processes; run them
and the web processes with PROMETHEUS_MULTIPROC_DIR (prometheus_client's multiprocess mode,
one directory on the host) for one `/metrics` to show them all. The queue's depth is read
from the database at each scrape, so it is right whichever runner renders.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from prometheus_client import Counter, Histogram, disable_created_metrics

# Counters and histograms without their `_created` series: nothing here reads them.
disable_created_metrics()
DURATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

CHANNEL_RENDERS = Counter("touchpoint_channel_renders", "Channel outputs rendered, per message type "
                          "and channel", ["type", "channel"])
CHANNEL_SECONDS = Histogram("touchpoint_channel_render_seconds", "Time to render one channel output",
                            ["type", "channel"], buckets=DURATION_BUCKETS)
FAILURES = Counter("touchpoint_render_failures", "Renders that failed, by where they came from "
                   "(api, job, pdf) and the problem", ["source", "reason"])
JOB_ITEMS = Counter("touchpoint_job_items_finished", "Job items ended, by kind (batch, pdf) and outcome",
                    ["kind", "outcome"])
JOB_ITEM_SECONDS = Histogram("touchpoint_job_item_seconds", "Time to render and archive one job item",
                             ["kind"], buckets=DURATION_BUCKETS)

Observation = tuple[str, tuple[str, ...], float]
_collector: ContextVar[list[Observation] | None] = ContextVar("touchpoint_metrics", default=None)


def multiprocess() -> bool:
    return bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))


@contextmanager
def collecting() -> Iterator[list[Observation]]:
    """Keep what is observed inside, instead of recording it (a pool process hands it back)."""
    kept: list[Observation] = []
    token = _collector.set(kept)
    try:
        yield kept
    finally:
        _collector.reset(token)


def _observe(name: str, labels: tuple[str, ...], value: float) -> None:
    kept = _collector.get()
    if kept is not None:
        kept.append((name, labels, value))
        return
    record([(name, labels, value)])


def record(observations: list[Observation] | list[list[Any]]) -> None:
    for name, labels, value in observations:
        if name == "channel":
            CHANNEL_RENDERS.labels(*labels).inc()
            CHANNEL_SECONDS.labels(*labels).observe(value)
        elif name == "failure":
            FAILURES.labels(*labels).inc()
        elif name == "item":
            kind, outcome = labels
            JOB_ITEMS.labels(kind, outcome).inc()
            if outcome in ("done", "failed"):
                JOB_ITEM_SECONDS.labels(kind).observe(value)


def channel_rendered(message_type: str, channel: str, seconds: float) -> None:
    _observe("channel", (message_type, channel), seconds)


def render_failed(source: str, reason: str) -> None:
    _observe("failure", (source, reason), 1.0)


def item_ended(kind: str, outcome: str, seconds: float) -> None:
    _observe("item", (kind, outcome), seconds)
