"""GET /openapi.json: the contract in its precise form, generated from the request models."""

from __future__ import annotations

import re
from typing import Any

from flask import Blueprint, Flask, current_app, jsonify
from pydantic.json_schema import models_json_schema
from werkzeug.exceptions import HTTPException

from app.auth import required_scope
from app.channels import CHANNELS, channels_of, listed
from app.http import openapi_customers, openapi_jobs
from app.schemas import (
    MESSAGE_TYPES,
    AppointmentRequest,
    BillRequest,
    InvoiceRequest,
    ProfileFields,
    Recipient,
)
from app.webhooks import openapi as openapi_webhooks

bp = Blueprint("openapi", __name__)

PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "message"],
                "properties": {"path": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}

MESSAGE = {
    "type": "object",
    "required": ["id", "type", "locale", "outputs", "actions", "personalisation", "warnings"],
    "properties": {
        "id": {"type": "string", "pattern": "^msg_"},
        "type": {"type": "string", "enum": ["appointment", "invoice", "bill"]},
        "locale": {"type": "string"},
        "reference": {"type": ["string", "null"]},
        "created": {"type": "string", "format": "date-time"},
        "outputs": {
            "type": "object",
            "properties": {
                "email": {"type": "object", "required": ["subject", "preheader", "html", "text",
                                                          "bytes", "attachments", "eml_url"],
                          "properties": {"headers": {
                                             "type": "object", "additionalProperties": {"type": "string"},
                                             "description": (
                                                 "Headers the .eml carries: `List-Unsubscribe` (the "
                                                 "/u/<token> URL, and a mailto: when the brand names "
                                                 "one) and `List-Unsubscribe-Post: "
                                                 "List-Unsubscribe=One-Click` (RFC 8058), exactly "
                                                 "when the email has personal blocks; else empty")},
                                         "status": {"enum": ["failed"], "description": (
                                             "present only when the PDF this email carries "
                                             "(Prefer: respond-async) could not be made: `problem` "
                                             "says why, and its .eml is never built without it")},
                                         "problem": {"$ref": "#/components/schemas/Problem"}}},
                "web": {"type": "object", "required": ["url"]},
                "pdf": {"type": "object", "required": ["url", "status"],
                        "properties": {"status": {"enum": ["pending", "ready", "failed"], "description": (
                                           "`pending` (Prefer: respond-async) until the job runner "
                                           "has laid it out, then `ready`; `failed` with `problem` "
                                           "if it could not be made")},
                                       "problem": {"$ref": "#/components/schemas/Problem"},
                                       "pages": {"type": "integer"}, "bytes": {"type": "integer"}}},
                "ics": {"type": "object", "required": ["url", "uid", "sequence", "method"]},
                "sms": {"type": "object", "required": ["text", "segments", "encoding"],
                        "properties": {"encoding": {"enum": ["GSM-7", "UCS-2"]}}},
            },
        },
        "actions": {"type": "array", "items": {"type": "object", "required": ["kind"], "properties": {
            "kind": {"type": "string"},
            "url": {"type": ["string", "null"]},
            "epc_qr_payload": {"type": "string", "description": (
                "pay: the EPC069-12 SEPA credit transfer QR text (version 002, UTF-8), present only "
                "where the standard allows one: EUR, 0.01 to 999999999.99, a valid IBAN.")},
        }}},
        "personalisation": {"$ref": "#/components/schemas/PersonalisationTrace"},
        "warnings": {"type": "array", "items": {"type": "string"}},
    },
}


def _problem_responses(*codes: int) -> dict[str, Any]:
    return {
        str(code): {
            "description": description,
            "content": {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for code, description in {
            400: "Malformed JSON", 401: "No API key, or an unknown, revoked or expired one "
            "(WWW-Authenticate: Bearer)", 403: "The key lacks the operation's scope (named in "
            "`scope`), or may not render for the request's brand", 404: "Not found",
            409: "Idempotency key in flight", 429: "Over the key's rate limit (Retry-After)",
            412: "If-Match or If-None-Match does not hold",
            413: "Body over the limit", 415: "Not JSON", 422: "A field is missing or wrong",
        }.items()
        if code in codes
    }


def document(app: Flask | None = None) -> dict[str, Any]:
    """The served document: the contract, with each operation's key and scope from its view."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    secured = app.extensions.get("touchpoint.openapi")
    if secured is None:
        secured = app.extensions["touchpoint.openapi"] = _secured(_contract(), app)
    return secured


def _secured(contract: dict[str, Any], app: Flask) -> dict[str, Any]:
    """Mark each operation with the scope its view declares (`@requires`), read from the
    routes themselves so the document cannot drift from what is enforced."""
    adapter = app.url_map.bind("openapi.invalid")
    for path, operations in contract["paths"].items():
        concrete = re.sub(r"\{[^}]+\}", "x", path)
        for method, operation in operations.items():
            try:
                endpoint, _ = adapter.match(concrete, method=method.upper())
            except HTTPException:
                continue
            scope = required_scope(app.view_functions.get(endpoint))
            if scope is None:
                continue
            operation["security"] = [{"bearer": [scope]}]
            operation["x-scope"] = scope
            operation["responses"].update(_problem_responses(401, 403, 429))
    contract["components"]["securitySchemes"] = {"bearer": {
        "type": "http", "scheme": "bearer", "description": (
            "An API key (`tp_live_…` or `tp_test_…`) from `flask --app app keys create`. Each "
            "operation names the scope it needs; a key bound to brands renders only for them, "
            "and another brand's messages, artifacts and jobs answer 404."),
    }}
    return contract


def _name_channels(components: dict[str, Any]) -> None:
    """The channel names each request and profile may give, from the channels' own registry
    (app/channels): the models know only the shape of a name, validation checks the rest."""
    def array(schema: dict[str, Any]) -> dict[str, Any]:
        return next(option for option in schema["anyOf"] if option.get("type") == "array")

    for kind, model in zip(MESSAGE_TYPES, ("AppointmentRequest", "InvoiceRequest", "BillRequest"),
                           strict=True):
        names = array(components[model]["properties"]["channels"])
        names["items"] = {"type": "string", "enum": list(channels_of(kind))}
        names["uniqueItems"] = True
    every = array(components["Preferences"]["properties"]["channels"])
    every["items"] = {"type": "string", "enum": listed(CHANNELS)}
    every["uniqueItems"] = True


def _contract() -> dict[str, Any]:
    _, schemas = models_json_schema(
        [(model, "validation") for model in
         (AppointmentRequest, InvoiceRequest, BillRequest, Recipient, ProfileFields)],
        ref_template="#/components/schemas/{model}",
    )
    components = dict(schemas.get("$defs", {}))
    _name_channels(components)
    components["RenderRequest"] = {
        "oneOf": [{"$ref": f"#/components/schemas/{name}"}
                  for name in ("AppointmentRequest", "InvoiceRequest", "BillRequest")],
        "discriminator": {"propertyName": "type", "mapping": {
            "appointment": "#/components/schemas/AppointmentRequest",
            "invoice": "#/components/schemas/InvoiceRequest",
            "bill": "#/components/schemas/BillRequest",
        }},
    }
    components["Problem"] = PROBLEM
    components["Message"] = MESSAGE
    components.update(openapi_customers.SCHEMAS)
    components.update(openapi_webhooks.SCHEMAS)
    components.update(openapi_jobs.SCHEMAS)
    message_ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Message"}}}
    artifact_names = ["email.html", "email.txt", "email.eml", "page.html", "document.pdf",
                      "invite.ics"]
    return {
        "openapi": "3.1.0",
        "info": {"title": "Touchpoint", "version": "0.1.0",
                 "description": "One render request in; email, web page, PDF, invite and SMS out."},
        "paths": {
            "/v1/render": {"post": {
                "summary": "Render a message in every channel of its type",
                "parameters": [
                    {"name": "Idempotency-Key", "in": "header", "required": False,
                     "schema": {"type": "string", "maxLength": 255}},
                    {"name": "Prefer", "in": "header", "required": False,
                     "schema": {"type": "string", "enum": ["respond-async"]}},
                ],
                "requestBody": {"required": True, "content": {"application/json": {
                    "schema": {"$ref": "#/components/schemas/RenderRequest"}}}},
                "responses": {"201": {"description": "Rendered and archived", "content": message_ref},
                              **_problem_responses(400, 409, 413, 415, 422)},
            }},
            "/v1/messages/{id}": {"get": {
                "summary": "The message document, as first answered",
                "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
                "responses": {"200": {"description": "The message", "content": message_ref},
                              **_problem_responses(404)},
            }},
            "/v1/messages/{id}/{artifact}": {"get": {
                "summary": "One artifact's bytes, with its content type",
                "parameters": [
                    {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
                    {"name": "artifact", "in": "path", "required": True,
                     "schema": {"type": "string", "enum": artifact_names}},
                ],
                "responses": {"200": {"description": "The artifact"},
                              "202": {"description": "The PDF (or the .eml that carries it) is still "
                                                     "being laid out: ask again after Retry-After",
                                      "headers": {"Retry-After": {"schema": {"type": "integer"}}}},
                              **_problem_responses(404)},
            }},
            **openapi_customers.paths(_problem_responses),
            **openapi_customers.customer_pages(),
            **openapi_jobs.paths(_problem_responses),
            "/v1/messages/{id}/activity": openapi_webhooks.activity_path(_problem_responses(404)),
            **_operator_paths(),
        },
        # What the service POSTs to an appointment's `callback_url` (Standard Webhooks).
        "webhooks": {**openapi_webhooks.webhooks(), **openapi_jobs.webhooks()},
        "components": {"schemas": components},
    }


def _operator_paths() -> dict[str, Any]:
    status = {"application/json": {"schema": {"type": "object"}}}
    return {
        "/healthz": {"get": {"summary": "Liveness: the process answers (no key needed)",
                             "responses": {"200": {"description": "Alive", "content": status}}}},
        "/readyz": {"get": {
            "summary": "Readiness: database, artifact folder and (with Celery) broker (no key needed)",
            "responses": {"200": {"description": "Ready", "content": status},
                          "503": {"description": "Not ready; `checks` names what failed",
                                  "content": status}}}},
        "/metrics": {"get": {"summary": "Prometheus metrics",
                             "responses": {"200": {"description": "Prometheus text format",
                                                   "content": {"text/plain": {}}}}}},
    }


@bp.get("/openapi.json")
def openapi() -> Any:
    return jsonify(document())
