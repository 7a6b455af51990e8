"""GET /metrics: Prometheus text format (app/metrics.py says what is measured, and where)."""

from __future__ import annotations

from flask import Blueprint, Response, json, request
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest, multiprocess

from app import metrics
from app.auth import requires
from app.jobs.gauges import QueueCollector

bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
@requires("metrics")
def scrape() -> Response:
    if metrics.multiprocess():
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
