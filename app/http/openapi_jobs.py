"""The OpenAPI part for render jobs (joined into `GET /openapi.json` by app/http/openapi.py)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

REF = "#/components/schemas/"

STATUS = {"enum": ["queued", "running", "done", "failed", "cancelled"], "description": (
    "`done` once every item ended and at least one was rendered (the others failed, with their "
    "problems); `failed` when every item failed; `cancelled` after DELETE (what had started "
    "still finished).")}

JOB = {
    "type": "object",
    "required": ["id", "status", "total", "done", "failed", "cancelled", "pending", "created", "items_url"],
    "properties": {
        "id": {"type": "string", "pattern": "^job_"},
        "status": STATUS,
        "total": {"type": "integer"},
        "done": {"type": "integer", "description": "Items rendered and archived."},
        "failed": {"type": "integer", "description": "Items failed, each with its problem."},
        "cancelled": {"type": "integer"},
        "pending": {"type": "integer", "description": "Items still queued or rendering."},
        "rate_per_minute": {"type": ["integer", "null"], "description": "Items ended per minute so far."},
        "eta_seconds": {"type": ["integer", "null"], "description": "Time left at that rate."},
        "created": {"type": "string", "format": "date-time"},
        "started": {"type": ["string", "null"], "format": "date-time"},
        "finished": {"type": ["string", "null"], "format": "date-time"},
        "callback_url": {"type": ["string", "null"]},
        "items_url": {"type": "string"},
        "webhook": {"type": "object", "description": "The completion webhook, once queued.",
                    "properties": {"id": {"type": ["string", "null"]}, "note": {"type": ["string", "null"]}}},
    },
}

JOB_ITEMS = {
    "type": "object",
    "required": ["job_id", "items", "next_cursor"],
    "properties": {
        "job_id": {"type": "string"},
        "items": {"type": "array", "items": {
            "type": "object",
            "required": ["position", "status"],
            "properties": {
                "position": {"type": "integer", "description": "0-based, in the order sent."},
                "status": {"enum": ["queued", "running", "done", "failed", "cancelled"]},
                "reference": {"type": ["string", "null"], "description": "The request's own."},
                "message_id": {"type": "string", "pattern": "^msg_"},
                "url": {"type": "string"},
                "problem": {"$ref": f"{REF}Problem"},
            },
        }},
        "next_cursor": {"type": ["string", "null"]},
    },
}

JOB_EVENT = {
    "type": "object",
    "description": "A Standard Webhooks event, signed like every webhook of this service.",
    "required": ["type", "timestamp", "data"],
    "properties": {
        "type": {"enum": ["job.completed"]},
        "timestamp": {"type": "string", "format": "date-time"},
        "data": {"type": "object", "required": ["job_id", "status", "total", "done", "failed", "cancelled"],
                 "properties": {"job_id": {"type": "string"}, "status": STATUS,
                                "total": {"type": "integer"}, "done": {"type": "integer"},
                                "failed": {"type": "integer"}, "cancelled": {"type": "integer"},
                                "items_url": {"type": "string"}}},
    },
}

SCHEMAS: dict[str, Any] = {"Job": JOB, "JobItems": JOB_ITEMS, "JobEvent": JOB_EVENT}


def paths(problems: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    job_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    job = {"application/json": {"schema": {"$ref": f"{REF}Job"}}}
    return {
        "/v1/jobs": {"post": {
            "summary": "Render many requests: a JSON list, or NDJSON streamed one request a line",
            "parameters": [{"name": "callback_url", "in": "query", "required": False,
                            "schema": {"type": "string"},
                            "description": "NDJSON only: where the completion webhook goes."}],
            "requestBody": {"required": True, "content": {
                "application/json": {"schema": {
                    "type": "object", "required": ["items"],
                    "properties": {"items": {"type": "array", "minItems": 1,
                                             "items": {"$ref": f"{REF}RenderRequest"}},
                                   "callback_url": {"type": "string", "format": "uri"}}}},
                "application/x-ndjson": {"schema": {"type": "string", "description": (
                    "One render request a line, read as it arrives. A line that is not a JSON "
                    "object fails alone; the others go on.")}},
            }},
            "responses": {"202": {"description": "Queued", "content": job,
                                  "headers": {"Location": {"schema": {"type": "string"}}}},
                          **problems(400, 413, 415, 422)},
        }},
        "/v1/jobs/{id}": {
            "get": {"summary": "A job's status and progress", "parameters": [job_id],
                    "responses": {"200": {"description": "The job", "content": job}, **problems(404)}},
            "delete": {"summary": "Cancel what has not started", "parameters": [job_id],
                       "responses": {"200": {"description": "The job, cancelled (or finished already)",
                                             "content": job}, **problems(404)}},
        },
        "/v1/jobs/{id}/items": {"get": {
            "summary": "Each item's message id or problem, in order, a page at a time",
            "parameters": [
                job_id,
                {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
                {"name": "limit", "in": "query", "required": False,
                 "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}},
                {"name": "status", "in": "query", "required": False,
                 "schema": {"enum": ["queued", "running", "done", "failed", "cancelled"]}},
            ],
            "responses": {"200": {"description": "A page of items", "content": {
                "application/json": {"schema": {"$ref": f"{REF}JobItems"}}}}, **problems(404, 422)},
        }},
    }


def webhooks() -> dict[str, Any]:
    return {"job.completed": {"post": {
        "summary": "Every item of the job ended (to the job's callback_url)",
        "parameters": [{"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                       for name in ("webhook-id", "webhook-timestamp", "webhook-signature")],
        "requestBody": {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"{REF}JobEvent"}}}},
        "responses": {"2XX": {"description": "Received; anything else is retried with backoff"}},
    }}}
