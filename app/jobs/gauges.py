"""The job queue's gauges for `GET /metrics`, read from the database at each scrape.

Input: the request's session; output: Prometheus metric families. Read at the scrape rather
than counted in a process, so they are right whichever runner (embedded pool or Celery
workers) renders.
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily

from app.jobs import queries, state
from app.store import session


class QueueCollector:
    """Items waiting and rendering, and the unfinished jobs by kind and status."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        db = session()
        depth = GaugeMetricFamily("touchpoint_job_queue_depth", "Job items waiting (queued) and "
                                  "rendering (running), over every job", labels=["state"])
        for item_state, count in state.depth(db).items():
            depth.add_metric([item_state], count)
        yield depth
        unfinished = GaugeMetricFamily("touchpoint_jobs_unfinished", "Jobs not finished yet, by kind "
                                       "and status", labels=["kind", "status"])
        for kind, status, count in queries.unfinished(db):
            unfinished.add_metric([kind, status], count)
        yield unfinished
