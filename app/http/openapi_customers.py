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
            "(`unsubscribed:<date>`: the customer switched this brand's blocks off, at /u or /p; "
            "`topic_off:<topic>`, `open_ticket`, `no_marketing_consent`, `owned`, "
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
                                                                    "cancelled", "preferences_changed"]},
                            "at": {"type": "string", "format": "date-time"},
                            "detail": {"type": ["object", "null"], "description": (
                                "What the action was, as `/v1/messages/{id}/activity` shows it: "
                                "`{offer}` for a click, `{new_message_id, sequence, previous, start, "
                                "end, status}` for a reschedule or cancellation, `{source, changes}` "
                                "for a preference change.")},
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
        "/v1/customers/{customer_id}/export": {
            "get": {
                "summary": "Everything stored about the customer, as one ZIP (GDPR articles 15 and 20)",
                "description": (
                    "Streamed. Holds README.txt (in the customer's language), profile.json (the "
                    "profile as stored; only for a key with `profiles:read` too), "
                    "messages/<id>/message.json and every stored file of each message, "
                    "actions.json (clicks, reschedules, cancellations, preference changes), "
                    "personalisation.json (each message's decision with its reasons), "
                    "preference_changes.json, offers_shown.json, appointments.json, "
                    "webhooks.json and job_items.json. The archive's access rules: a key bound "
                    "to brands gets only what its brands' messages hold."),
                "parameters": [customer_id],
                "responses": {"200": {"description": "The ZIP", "content": {
                    "application/zip": {"schema": {"type": "string", "contentMediaType": "application/zip"}}},
                    "headers": {"Content-Disposition": {"schema": {"type": "string"}}}},
                    **problems(404, 422)},
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


def customer_pages() -> dict[str, Any]:
    """The preference centre and one-click unsubscribe pages: HTML for people (and, for POST
    /u, mail clients), behind signed links rather than keys; and the SMS's short link."""
    token = {"name": "token", "in": "path", "required": True, "schema": {"type": "string"},
             "description": "The signed, expiring, opaque token of the message's link."}
    html = {"text/html": {"schema": {"type": "string"}}}
    bad_link = {"404": {"description": "A tampered link, or its message is gone (HTML page)",
                        "content": html},
                "410": {"description": "An expired link (HTML page that says what to do)", "content": html}}
    form = {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
        "csrf": {"type": "string", "description": "The page's form token (with its cookie)."},
        "suggestions": {"enum": ["on"], "description": "Present: personal blocks on."},
        "marketing": {"enum": ["on"], "description": "Present: consent to promotions."},
        "topic": {"type": "array", "items": {"type": "string"}, "description": "The topics left on."},
        "channel": {"type": "array", "items": {"enum": ["email", "sms"]}},
    }, "required": ["csrf"]}}}
    one_click = {"application/x-www-form-urlencoded": {"schema": {"type": "object", "properties": {
        "List-Unsubscribe": {"enum": ["One-Click"], "description": "RFC 8058: no cookie, no CSRF token."},
        "undo": {"type": "string", "description": "Switch the blocks on again (needs `csrf`)."},
        "csrf": {"type": "string"},
    }}}}
    public: list[dict[str, list[str]]] = []
    return {
        "/p/{token}": {
            "get": {"summary": "The customer's preference centre: what they receive and why",
                    "security": public, "parameters": [token],
                    "responses": {"200": {"description": "The page", "content": html}, **bad_link}},
            "post": {"summary": "Save the customer's choices (CSRF: the page's form token and cookie)",
                     "security": public, "parameters": [token],
                     "requestBody": {"required": True, "content": form},
                     "responses": {"200": {"description": "The page again, saying it was saved",
                                           "content": html},
                                   "403": {"description": "The form's token is missing or stale: "
                                                          "the page again, nothing saved", "content": html},
                                   **bad_link}},
        },
        "/s/{code}": {
            "get": {"summary": "An SMS's short link: on to the message's hosted page (/m/<token>), for "
                               "as long as the message's links live (WEB_LINK_MAX_AGE)",
                    "security": public,
                    "parameters": [{"name": "code", "in": "path", "required": True,
                                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9]{12}$"},
                                    "description": "The message's opaque short code."}],
                    "responses": {"302": {"description": "Location: the message's hosted page"},
                                  **bad_link}},
        },
        "/u/{token}": {
            "get": {"summary": "The unsubscribe page: unsubscribed since when, with an undo; or a "
                               "button that unsubscribes. Never a change by itself.",
                    "security": public, "parameters": [token],
                    "responses": {"200": {"description": "The page", "content": html}, **bad_link}},
            "post": {"summary": "RFC 8058 one-click unsubscribe (List-Unsubscribe=One-Click): the "
                                "brand's personal blocks off; idempotent. With `undo` and the "
                                "page's form token: on again.",
                     "security": public, "parameters": [token],
                     "requestBody": {"required": True, "content": one_click},
                     "responses": {"200": {"description": "Done (or already so): the page", "content": html},
                                   "400": {"description": "Neither List-Unsubscribe=One-Click nor undo",
                                           "content": html},
                                   "403": {"description": "An undo without the page's form token",
                                           "content": html},
                                   **bad_link}},
        },
    }
