"""The OpenAPI parts of appointments' actions and webhooks (joined in app/http/openapi.py)."""

from __future__ import annotations

from typing import Any

REF = "#/components/schemas/"

APPOINTMENT_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "A Standard Webhooks event, signed in the `webhook-signature` header "
                   "(`v1,` + base64 HMAC-SHA256 of `{webhook-id}.{webhook-timestamp}.{body}` "
                   "with the WEBHOOK_SECRET key). Retried with the same `webhook-id` until a 2xx.",
    "required": ["type", "timestamp", "data"],
    "properties": {
        "type": {"enum": ["appointment.rescheduled", "appointment.cancelled"]},
        "timestamp": {"type": "string", "format": "date-time"},
        "data": {
            "type": "object",
            "required": ["appointment_id", "brand", "status", "start", "end", "timezone", "sequence",
                         "previous", "message_id", "source_message_id", "acted_at"],
            "properties": {
                "appointment_id": {"type": "string"},
                "brand": {"type": "string"},
                "reference": {"type": ["string", "null"]},
                "customer_id": {"type": ["string", "null"]},
                "status": {"enum": ["confirmed", "cancelled"]},
                "start": {"type": "string", "description": "Local date-time in `timezone`."},
                "end": {"type": "string"},
                "timezone": {"type": "string"},
                "sequence": {"type": "integer", "description": "The invite's SEQUENCE now."},
                "previous": {"type": "object", "properties": {
                    "start": {"type": "string"}, "end": {"type": "string"}, "status": {"type": "string"}}},
                "message_id": {"type": "string", "description": "The message the change rendered."},
                "source_message_id": {"type": "string",
                                      "description": "The message whose link the customer followed."},
                "acted_at": {"type": "string", "format": "date-time"},
            },
        },
    },
}

ACTIVITY: dict[str, Any] = {
    "type": "object",
    "description": "For an appointment, the activity of every message about it (the whole "
                   "appointment's history), whichever of its messages is asked.",
    "required": ["id", "messages", "actions", "webhooks"],
    "properties": {
        "id": {"type": "string"},
        "messages": {"type": "array", "items": {"type": "string"}, "description": (
            "The messages whose activity this is, oldest first: the appointment's, or this one.")},
        "actions": {"type": "array", "items": {
            "type": "object", "required": ["kind", "at", "message_id"],
            "properties": {"kind": {"enum": ["rescheduled", "cancelled", "preferences_changed",
                                             "offer_clicked"]},
                           "at": {"type": "string", "format": "date-time"},
                           "message_id": {"type": "string",
                                          "description": "The message the customer acted from."},
                           "detail": {"type": ["object", "null"]}}}},
        "webhooks": {"type": "array", "items": {
            "type": "object", "required": ["id", "type", "url", "status", "attempts"],
            "properties": {
                "id": {"type": "string", "description": "The `webhook-id` of every attempt."},
                "type": {"type": "string"}, "url": {"type": "string"},
                "status": {"enum": ["pending", "delivered", "failed"]},
                "attempts": {"type": "integer"},
                "last_status_code": {"type": ["integer", "null"]},
                "last_error": {"type": ["string", "null"]},
                "next_attempt_at": {"type": ["string", "null"], "format": "date-time"},
                "delivered_at": {"type": ["string", "null"], "format": "date-time"},
                "created_at": {"type": "string", "format": "date-time"},
                "message_id": {"type": "string"},
                "result_message_id": {"type": ["string", "null"]},
            }}},
    },
}

PREFERENCES_EVENT: dict[str, Any] = {
    "type": "object",
    "description": "A Standard Webhooks event, signed as the appointment events, sent to "
                   "PROFILE_WEBHOOK_URL (or the brand's `profile_webhook_url`) when a customer "
                   "changes what they receive at /p/<token> or /u/<token>.",
    "required": ["type", "timestamp", "data"],
    "properties": {
        "type": {"enum": ["profile.preferences_changed"]},
        "timestamp": {"type": "string", "format": "date-time"},
        "data": {
            "type": "object",
            "required": ["customer_id", "brand", "source", "source_message_id", "changes",
                         "preferences", "changed_at"],
            "properties": {
                "customer_id": {"type": ["string", "null"]},
                "brand": {"type": "string"},
                "reference": {"type": ["string", "null"]},
                "source": {"enum": ["preference_centre", "one_click", "undo"]},
                "source_message_id": {"type": "string",
                                      "description": "The message whose link the customer followed."},
                "changes": {"type": "object", "description": (
                    "Only what changed, by field (`consents.marketing`, `preferences.topics_off`, "
                    "`preferences.channels`, `preferences.unsubscribed.<brand>`): {from, to}."),
                    "additionalProperties": {"type": "object", "properties": {"from": {}, "to": {}}}},
                "preferences": {"type": "object", "description": "What now holds for this brand.",
                                "properties": {
                                    "suggestions": {"type": "boolean"},
                                    "unsubscribed_at": {"type": ["string", "null"], "format": "date-time"},
                                    "marketing": {"type": "boolean"},
                                    "topics_off": {"type": "array", "items": {"type": "string"}},
                                    "channels": {"type": ["array", "null"], "items": {"type": "string"}}}},
                "changed_at": {"type": "string", "format": "date-time"},
            },
        },
    },
}

SCHEMAS = {"Activity": ACTIVITY, "AppointmentEvent": APPOINTMENT_EVENT,
           "PreferencesEvent": PREFERENCES_EVENT}


def activity_path(not_found: dict[str, Any]) -> dict[str, Any]:
    return {"get": {
        "summary": "What happened after the message: the customer's actions, and the webhooks "
                   "that told upstream (attempts, status, next try)",
        "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": {"description": "The message's activity", "content": {
            "application/json": {"schema": {"$ref": f"{REF}Activity"}}}}, **not_found},
    }}


def webhooks() -> dict[str, Any]:
    """OpenAPI 3.1 `webhooks`: what we POST to `data.reschedule.callback_url`."""
    def event(summary: str) -> dict[str, Any]:
        return {"post": {
            "summary": summary,
            "parameters": [
                {"name": name, "in": "header", "required": True, "schema": {"type": "string"}}
                for name in ("webhook-id", "webhook-timestamp", "webhook-signature")
            ],
            "requestBody": {"required": True, "content": {"application/json": {
                "schema": {"$ref": f"{REF}AppointmentEvent"}}}},
            "responses": {"2XX": {"description": "Received; anything else is retried with backoff"}},
        }}

    preferences = event("The customer changed what they receive (preference centre or one-click "
                        "unsubscribe); upstream's CRM is the source of truth")
    preferences["post"]["requestBody"]["content"]["application/json"]["schema"] = {
        "$ref": f"{REF}PreferencesEvent"}
    return {
        "appointment.rescheduled": event("The customer moved the appointment to an offered slot"),
        "appointment.cancelled": event("The customer cancelled the appointment"),
        "profile.preferences_changed": preferences,
    }
