"""Request models, one per message type, joined on `type` into `RenderRequest`.

`parse_render_request` turns a JSON document into a model or raises one InvalidRequest
naming every bad field in the request's own notation (`data.lines[2].unit_price`).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, TypeAdapter, ValidationError

from app.problems import FieldError, InvalidRequest
from app.schemas.appointment import AppointmentData
from app.schemas.bill import BillData
from app.schemas.common import ChannelName, Identifier, Model, ProfileFields, Recipient, Reference
from app.schemas.invoice import InvoiceData

# The message types, one request model each (below). Their channels are the channels' own
# declarations (app/channels `channels_of`).
MESSAGE_TYPES: tuple[str, ...] = ("appointment", "invoice", "bill")


class _RenderRequestBase(Model):
    channels: list[ChannelName] | None = Field(default=None, min_length=1, max_length=20)
    locale: Annotated[str, StringConstraints(max_length=35)] | None = None
    brand: Identifier
    recipient: Recipient = Field(default_factory=Recipient)
    reference: Reference | None = None


class AppointmentRequest(_RenderRequestBase):
    type: Literal["appointment"]
    data: AppointmentData


class InvoiceRequest(_RenderRequestBase):
    type: Literal["invoice"]
    data: InvoiceData


class BillRequest(_RenderRequestBase):
    type: Literal["bill"]
    data: BillData


RenderRequest = Annotated[
    AppointmentRequest | InvoiceRequest | BillRequest, Field(discriminator="type")
]
render_request_adapter: TypeAdapter[RenderRequest] = TypeAdapter(RenderRequest)

__all__ = [
    "MESSAGE_TYPES",
    "AppointmentRequest",
    "BillRequest",
    "InvoiceRequest",
    "ProfileFields",
    "RenderRequest",
    "field_errors",
    "parse_render_request",
]


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def field_errors(exc: ValidationError, skip_tag: bool = True) -> list[FieldError]:
    """Pydantic's errors as FieldErrors, in the request's own path notation."""
    errors: list[FieldError] = []
    for error in exc.errors(include_url=False):
        loc = tuple(error["loc"])
        kind = error["type"]
        if kind in {"union_tag_not_found", "union_tag_invalid"}:
            allowed = ", ".join(MESSAGE_TYPES)
            errors.append(FieldError("type", f"must be one of {allowed}"))
            continue
        # Discriminated unions put the tag first (`invoice.data...`) and model unions the
        # member's name (`PlaceLocation.name`); neither is part of the request's own path.
        loc = tuple(p for p in loc if not (isinstance(p, str) and p[:1].isupper()))
        if skip_tag and loc and loc[0] in MESSAGE_TYPES:
            loc = loc[1:]
        message = error["msg"]
        if message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        if kind == "extra_forbidden":
            message = "is not a known field"
        elif kind == "missing":
            message = "is required"
        errors.append(FieldError(_path(loc) or "(body)", message))
    # One error per path and message: unions report the same miss once per member.
    unique = list(dict.fromkeys(errors))
    return unique


def parse_render_request(document: Any) -> RenderRequest:
    if not isinstance(document, dict):
        raise InvalidRequest.at("(body)", "must be a JSON object")
    try:
        return render_request_adapter.validate_python(document)
    except ValidationError as exc:
        errors = field_errors(exc)
        raise InvalidRequest(
            "; ".join(f"{e.path}: {e.message}" for e in errors[:5]), errors
        ) from None
