"""POST /v1/jobs, GET /v1/jobs/{id}, GET /v1/jobs/{id}/items, DELETE /v1/jobs/{id}."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, json, request

from app import jobs
from app.auth import caller, requires
from app.http.body import check_media_type, json_body
from app.jobs import ingest, queries, state
from app.jobs.models import Job
from app.problems import InvalidRequest, NotFound
from app.store import session

bp = Blueprint("jobs", __name__)

NDJSON = ("application/x-ndjson", "application/jsonl", "application/jsonlines")
PAGE = 100
MAX_PAGE = 1000


def _answer(body: dict, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, mimetype="application/json")


@bp.post("/v1/jobs")
@requires("jobs")
def create() -> Response:
    config = current_app.config
    if request.mimetype in NDJSON:
        check_media_type(NDJSON)  # UTF-8 only, as JSON bodies
        # Streamed: read line by line from the socket; the callback URL in the query.
        callback_url = ingest.check_callback_url(request.args.get("callback_url"))
        request.max_content_length = config["JOB_MAX_NDJSON_BYTES"]
        entries = ingest.ndjson_entries(request.stream, config["MAX_CONTENT_LENGTH"])
        job = ingest.create_job(entries, callback_url, caller().brands)
    else:
        document, _ = json_body()
        listed, callback_url = ingest.json_entries(document)
        job = ingest.create_job(listed, callback_url, caller().brands)
    jobs.dispatch(job.id)
    response = _answer(state.view(job), 202)
    response.headers["Location"] = f"/v1/jobs/{job.id}"
    return response


def _job(job_id: str) -> Job:
    job = queries.batch_job(session(), job_id)
    if job is None or not caller().may_see_all(job.brands):
        raise NotFound(f"No job {job_id}.")
    return job


@bp.get("/v1/jobs/<job_id>")
@requires("jobs")
def get(job_id: str) -> Response:
    return _answer(state.view(_job(job_id)))


@bp.get("/v1/jobs/<job_id>/items")
@requires("jobs")
def items(job_id: str) -> Response:
    _job(job_id)
    cursor = request.args.get("cursor", "")
    try:
        after = int(cursor) if cursor else -1
        limit = min(int(request.args.get("limit", PAGE)), MAX_PAGE)
    except ValueError:
        raise InvalidRequest.at("cursor", "is not a cursor this service gave") from None
    if limit < 1:
        raise InvalidRequest.at("limit", f"must be 1 to {MAX_PAGE}")
    page = queries.items_page(session(), job_id, after, limit, request.args.get("status"))
    return _answer({"job_id": job_id, "items": page.items, "next_cursor": page.next_cursor})


@bp.delete("/v1/jobs/<job_id>")
@requires("jobs")
def cancel(job_id: str) -> Response:
    """Cancels what has not started; what renders now finishes. A finished job stays as it is."""
    job = _job(job_id)
    if job.finished_at is None:
        state.cancel(session(), job_id)
        job = _job(job_id)
    return _answer(state.view(job))
