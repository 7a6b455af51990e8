"""The OpenAPI part for profiles, the customer archive and the personalisation trace.

Joined into `GET /openapi.json` by app/http/openapi.py; kept here, beside nothing else, so the
document of the customer API reads in one place.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

REF = "#/components/schemas/"

TRACE_ENTRY = {
    "type": "object",
    "required": ["offer", "reason"],
    "properties": {
        "offer": {"type": "string", "description": "The offer's id in the brand's catalogue."},
        "reason": {"type": "string", "examples": ["complements:arpeggia", "no_marketing_consent"]},
    },
}

SCHEMAS: dict[str, Any] = {
    "PersonalisationTrace": {
        "type": "object",
        "description": (
            "Every decision of the offer engine. `blocks`: the offers shown, in order, with why "
            "(`complements:<sku>`, `interest:<id>`, `life_event:<type>`, `brand_default`). "
            "`suppressed`: the other candidates with the rule that left each out "
            "(`topic_off:<topic>`, `open_ticket`, `no_marketing_consent`, `owned`, "
            "`unknown_fact:<event>`, `stale_fact:<event>`, `frequency_cap`, `limit`)."
        ),
        "required": ["blocks", "suppressed"],
        "properties": {
            "blocks": {"type": "array", "items": {"$ref": f"{REF}PersonalisationEntry"}},
            "suppressed": {"type": "array", "items": {"$ref": f"{REF}PersonalisationEntry"}},
        },
    },
    "PersonalisationEntry": TRACE_ENTRY,
    "Erased": {
        "type": "object",
        "required": ["customer_id", "erased"],
        "properties": {
            "customer_id": {"type": "string"},
            "erased": {"type": "object", "required": ["profile", "messages"], "properties": {
                "profile": {"type": "boolean"}, "messages": {"type": "integer"}}},
        },
    },
    "CustomerMessages": {
        "type": "object",
        "required": ["customer_id", "items", "next_cursor"],
        "properties": {
            "customer_id": {"type": "string"},
            "items": {"type": "array", "items": {
                "type": "object",
                "required": ["id", "type", "created", "channels", "reference", "actions"],
                "properties": {
                    "id": {"type": "string", "pattern": "^msg_"},
                    "type": {"type": "string", "enum": ["appointment", "invoice", "bill"]},
                    "brand": {"type": "string"},
                    "locale": {"type": "string"},
                    "created": {"type": "string", "format": "date-time"},
                    "channels": {"type": "array", "items": {"type": "string"}},
                    "reference": {"type": ["string", "null"]},
                    "actions": {"type": "array", "items": {
                        "type": "object",
                        "required": ["kind", "at"],
                        "properties": {
                            "kind": {"type": "string", "examples": ["offer_clicked", "rescheduled",
                                                                    "cancelled"]},
                            "at": {"type": "string", "format": "date-time"},
                            "detail": {"type": ["string", "null"]},
                        },
                    }},
                },
            }},
            "next_cursor": {"type": ["string", "null"],
                            "description": "Pass as `cursor` for the next page; null on the last."},
        },
    },
}


def paths(problems: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    customer_id = {"name": "customer_id", "in": "path", "required": True,
                   "schema": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"}}
    if_match = {"name": "If-Match", "in": "header", "required": False, "schema": {"type": "string"},
                "description": "The ETag you read: the write happens only if the profile is unchanged."}
    profile = {"application/json": {"schema": {"$ref": f"{REF}Recipient"}}}
    answered = {"description": "The profile as stored", "content": profile,
                "headers": {"ETag": {"schema": {"type": "string"}}}}
    return {
        "/v1/profiles/{customer_id}": {
            "get": {
                "summary": "A customer's profile",
                "parameters": [customer_id, {"name": "If-None-Match", "in": "header",
                                             "required": False, "schema": {"type": "string"}}],
                "responses": {"200": answered, "304": {"description": "Unchanged since that ETag"},
                              **problems(404, 422)},
            },
            "put": {
                "summary": "Store the whole profile (replaces what was there)",
                "parameters": [customer_id, if_match,
                               {"name": "If-None-Match", "in": "header", "required": False,
                                "schema": {"type": "string", "enum": ["*"]},
                                "description": "`*`: create only, never replace."}],
                "requestBody": {"required": True, "content": profile},
                "responses": {"200": answered, "201": {**answered, "description": "Created"},
                              **problems(400, 412, 413, 415, 422)},
            },
            "patch": {
                "summary": "Merge a JSON Merge Patch (RFC 7396) into the profile",
                "parameters": [customer_id, if_match],
                "requestBody": {"required": True, "content": {
                    "application/merge-patch+json": {"schema": {"type": "object"}},
                    "application/json": {"schema": {"type": "object"}},
                }},
                "responses": {"200": answered, **problems(400, 404, 412, 413, 415, 422)},
            },
            "delete": {
                "summary": "Erase the profile and the customer's archived messages and files",
                "parameters": [customer_id, if_match],
                "responses": {"200": {"description": "What was erased", "content": {
                    "application/json": {"schema": {"$ref": f"{REF}Erased"}}}},
                    **problems(404, 412, 422)},
            },
        },
        "/v1/customers/{customer_id}/messages": {
            "get": {
                "summary": "The customer's messages, newest first, with the actions taken since",
                "parameters": [
                    customer_id,
                    {"name": "limit", "in": "query", "required": False,
                     "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                    {"name": "cursor", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {"200": {"description": "One page", "content": {
                    "application/json": {"schema": {"$ref": f"{REF}CustomerMessages"}}}},
                    **problems(422)},
            },
        },
    }
