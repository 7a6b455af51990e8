"""GET /metrics: Prometheus text format (app/metrics.py says what is measured, and where)."""

from __future__ import annotations

from flask import Blueprint, Response, json, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from app import metrics
from app.auth import requires
from app.jobs import state
from app.jobs.models import Job
from app.store import session

bp = Blueprint("metrics", __name__)


class QueueCollector:
    """Read from the database at each scrape: right whichever runner renders."""

    def collect(self):  # type: ignore[no-untyped-def]
        db = session()
        depth = GaugeMetricFamily("touchpoint_job_queue_depth", "Job items waiting (queued) and "
                                  "rendering (running), over every job", labels=["state"])
        for item_state, count in state.depth(db).items():
            depth.add_metric([item_state], count)
        yield depth
        unfinished = GaugeMetricFamily("touchpoint_jobs_unfinished", "Jobs not finished yet, by kind "
                                       "and status", labels=["kind", "status"])
        for kind, status, count in db.execute(
                select(Job.kind, Job.status, func.count()).where(Job.finished_at.is_(None))
                .group_by(Job.kind, Job.status)).all():
            unfinished.add_metric([kind, status], count)
        yield unfinished


@bp.get("/metrics")
@requires("metrics")
def scrape() -> Response:
    if metrics.multiprocess():
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        recorded = generate_latest(registry)
    else:
        recorded = generate_latest(REGISTRY)
    queue = CollectorRegistry()
    queue.register(QueueCollector())
    return Response(recorded + generate_latest(queue), content_type=CONTENT_TYPE_LATEST)


@bp.after_app_request
def count_api_failures(response: Response) -> Response:
    """A POST /v1/render answered with a problem counts as a failed render."""
    if request.endpoint == "render.render" and response.status_code >= 400:
        reason = str(response.status_code)
        if response.mimetype == "application/problem+json":
            reason = json.loads(response.get_data()).get("type", reason).rsplit("/", 1)[-1]
        metrics.render_failed("api", reason)
    return response
