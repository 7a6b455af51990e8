"""PUT / PATCH / GET / DELETE /v1/profiles/{customer_id}: the customer profiles renders use.

PUT replaces the whole profile; PATCH merges a JSON Merge Patch (RFC 7396) into it; both
validate the result as ProfileFields, naming every bad field at once. Every answer carries the
profile's ETag; `If-Match` makes a write conditional (412 when the profile changed meanwhile),
`If-None-Match: *` makes a PUT create-only, and GET answers 304 to a matching `If-None-Match`.
The preconditions are checked by the store in the statement that writes (app/store/customers.py),
so of writers racing with one ETag exactly one wins.
DELETE erases the profile and the customer's archived messages with their files.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, json, request
from pydantic import ValidationError

from app.auth import requires
from app.channels import channel_errors
from app.http.body import json_body
from app.problems import FieldError, InvalidRequest, NotFound, PreconditionFailed, UnsupportedMediaType
from app.schemas import ProfileFields, field_errors
from app.store import customers

bp = Blueprint("profiles", __name__)

# The `Identifier` of the request models: no slash, no dot first, nothing a path could use.
CUSTOMER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
MERGE_PATCH = "application/merge-patch+json"


def check_customer_id(customer_id: str) -> str:
    if not CUSTOMER_ID.match(customer_id):
        raise InvalidRequest.at(
            "customer_id", "must be 1 to 128 letters, digits and . _ : - (not first), without "
                           "slashes or spaces",
        )
    return customer_id


def validate_profile(document: Any, customer_id: str) -> dict[str, Any]:
    """The profile as stored: validated, without `customer_id`, without nulls (unknown is absent)."""
    if not isinstance(document, dict):
        raise InvalidRequest.at("(body)", "must be a JSON object")
    fields = dict(document)
    errors = []
    given = fields.pop("customer_id", customer_id)
    if given != customer_id:
        errors.append(FieldError("customer_id", f"is '{given}' but the URL names '{customer_id}'"))
    try:
        model = ProfileFields.model_validate(fields, context={"today": datetime.now(UTC).date()})
    except ValidationError as exc:
        errors += field_errors(exc, skip_tag=False)
        model = None
    if model is not None and model.preferences is not None:
        errors += channel_errors(None, model.preferences.channels, "preferences.channels")
    if errors or model is None:
        summary = "; ".join(f"{e.path}: {e.message}" for e in errors[:5])
        raise InvalidRequest(summary, errors)
    return model.model_dump(mode="json", exclude_unset=True, exclude_none=True)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, null removes, anything else replaces."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _answer(profile: customers.StoredProfile, status: int = 200) -> Response:
    response = Response(json.dumps(profile.document()), status=status, mimetype="application/json")
    response.headers["ETag"] = profile.etag
    response.last_modified = profile.updated_at
    response.headers["Cache-Control"] = "no-store"
    if status == 201:
        response.headers["Location"] = f"/v1/profiles/{profile.customer_id}"
    return response


def _if_match() -> frozenset[str] | None:
    """The ETags of If-Match, or None when it is absent."""
    if_match = request.headers.get("If-Match")
    return None if if_match is None else frozenset(tag.strip() for tag in if_match.split(","))


def _create_only() -> bool:
    return request.headers.get("If-None-Match", "").strip() == "*"


@bp.get("/v1/profiles/<path:customer_id>")
@requires("profiles:read")
def get_profile(customer_id: str) -> Response:
    profile = customers.get_profile(check_customer_id(customer_id))
    if profile is None:
        raise NotFound(f"No profile for customer '{customer_id}'.")
    if profile.etag in {tag.strip() for tag in request.headers.get("If-None-Match", "").split(",")}:
        response = Response(status=304)
        response.headers["ETag"] = profile.etag
        return response
    return _answer(profile)


@bp.put("/v1/profiles/<path:customer_id>")
@requires("profiles:write")
def put_profile(customer_id: str) -> Response:
    check_customer_id(customer_id)
    document, _ = json_body()
    data = validate_profile(document, customer_id)
    profile, created = customers.save_profile(customer_id, data, _if_match(), _create_only())
    return _answer(profile, 201 if created else 200)


@bp.patch("/v1/profiles/<path:customer_id>")
@requires("profiles:write")
def patch_profile(customer_id: str) -> Response:
    check_customer_id(customer_id)
    if request.mimetype not in {MERGE_PATCH, "application/json"}:
        raise UnsupportedMediaType(
            f"Send a JSON Merge Patch as {MERGE_PATCH} (or application/json), "
            f"not {request.mimetype or 'no content type'}."
        )
    patch, _ = json_body()
    if not isinstance(patch, dict):
        raise InvalidRequest.at("(body)", "must be a JSON object (a merge patch)")
    if _create_only():
        raise PreconditionFailed("A PATCH changes a profile that exists; PUT creates one.")

    def merged(stored: dict[str, Any]) -> dict[str, Any]:
        return validate_profile(merge_patch({"customer_id": customer_id, **stored}, patch), customer_id)

    profile = customers.change_profile(customer_id, merged, _if_match())
    if profile is None:
        raise NotFound(f"No profile for customer '{customer_id}'; PUT it first.")
    return _answer(profile)


@bp.delete("/v1/profiles/<path:customer_id>")
@requires("customers:erase")
def delete_profile(customer_id: str) -> Response:
    check_customer_id(customer_id)
    # If-None-Match: * (RFC 9110 13.1.2): only when there is no profile. If-Match, as for every
    # write, is checked by the store in the statement that deletes the profile.
    if _create_only() and customers.get_profile(customer_id) is not None:
        raise PreconditionFailed("A profile already exists for this customer.")
    erased = customers.erase_customer(customer_id, _if_match())
    if not erased.profile and not erased.messages:
        raise NotFound(f"Nothing is stored for customer '{customer_id}'.")
    return Response(json.dumps({"customer_id": customer_id, "erased": erased.as_dict()}),
                    mimetype="application/json")
