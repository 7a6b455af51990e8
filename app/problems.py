"""Failures the service reports, one class per failure, each with its status and title.

Raised anywhere (pipeline, store, handlers); `app/http/problems.py` turns them into
RFC 9457 `application/problem+json` answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar


@dataclass(frozen=True)
class FieldError:
    """One bad field: `path` in the request's own notation (`data.lines[2].unit_price`)."""

    path: str
    message: str

    def as_dict(self) -> dict[str, str]:
        return {"path": self.path, "message": self.message}


class Problem(Exception):
    status: ClassVar[int] = 500
    title: ClassVar[str] = "Internal error"
    slug: ClassVar[str] = "internal-error"

    def __init__(self, detail: str | None = None, errors: list[FieldError] | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(detail or self.title)
        self.detail = detail or self.title
        self.errors = errors or []
        self.headers = headers or {}

    def as_dict(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"/problems/{self.slug}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if self.errors:
            body["errors"] = [error.as_dict() for error in self.errors]
        return body


class MalformedJSON(Problem):
    status, title, slug = 400, "Malformed JSON", "malformed-json"


class BodyTooLarge(Problem):
    status, title, slug = 413, "Request body too large", "body-too-large"


class UnsupportedMediaType(Problem):
    status, title, slug = 415, "Unsupported media type", "unsupported-media-type"


class InvalidRequest(Problem):
    """A field is missing or wrong, or the request makes no sense. Reported once, completely."""

    status, title, slug = 422, "Invalid request", "invalid-request"

    @classmethod
    def at(cls, path: str, message: str) -> InvalidRequest:
        return cls(f"{path}: {message}", [FieldError(path, message)])


class IdempotencyKeyReused(Problem):
    status, title, slug = 422, "Idempotency key reused", "idempotency-key-reused"


class IdempotencyKeyInFlight(Problem):
    status, title, slug = 409, "Request with this idempotency key in progress", "idempotency-in-flight"


class NotFound(Problem):
    status, title, slug = 404, "Not found", "not-found"


class PreconditionFailed(Problem):
    """If-Match or If-None-Match (RFC 9110 13.1) did not hold: the write did not happen."""

    status, title, slug = 412, "Precondition failed", "precondition-failed"


class Unauthorized(Problem):
    """No API key, or one that is unknown, revoked or expired (RFC 6750's challenge)."""

    status, title, slug = 401, "API key required", "unauthorized"

    def __init__(self, detail: str, invalid: bool = False) -> None:
        challenge = 'Bearer realm="touchpoint"' + (', error="invalid_token"' if invalid else "")
        super().__init__(detail, headers={"WWW-Authenticate": challenge})


class Forbidden(Problem):
    """The key is good but lacks the scope this call needs; the answer names it."""

    status, title, slug = 403, "Scope missing", "scope-missing"

    def __init__(self, detail: str, scope: str | None = None) -> None:
        super().__init__(detail)
        self.scope = scope

    def as_dict(self) -> dict[str, Any]:
        body = super().as_dict()
        if self.scope:
            body["scope"] = self.scope
        return body


class BrandNotAllowed(Problem):
    status, title, slug = 403, "Brand not allowed for this key", "brand-not-allowed"

    def __init__(self, detail: str) -> None:
        super().__init__(detail, [FieldError("brand", "this key may not render for this brand")])


class RateLimited(Problem):
    status, title, slug = 429, "Too many requests", "rate-limited"


class Gone(Problem):
    status, title, slug = 410, "Link expired", "link-expired"


class MethodNotAllowed(Problem):
    status, title, slug = 405, "Method not allowed", "method-not-allowed"


class PdfTimeLimit(Problem):
    """The PDF took longer than PDF_TIME_LIMIT to lay out; its child process was killed."""

    status, title, slug = 422, "PDF over its time limit", "pdf-time-limit"

    def __init__(self, seconds: float) -> None:
        message = f"the PDF took longer than its time limit of {seconds:g} s to lay out; make it shorter"
        super().__init__(f"data: {message}", [FieldError("data", message)])


class PdfMemoryLimit(Problem):
    """The PDF needed more than PDF_MEMORY_LIMIT to lay out; its child process was killed."""

    status, title, slug = 422, "PDF over its memory limit", "pdf-memory-limit"

    def __init__(self, megabytes: int) -> None:
        message = f"the PDF needed more than its memory limit of {megabytes} MB to lay out; make it shorter"
        super().__init__(f"data: {message}", [FieldError("data", message)])


class RenderCancelled(Problem):
    """The client left while its PDF was laid out: the layout was stopped, nothing stored.
    Nobody reads this answer; 499 is the status servers log for it (nginx's)."""

    status, title, slug = 499, "Client closed request", "client-closed-request"


def collect(errors: list[FieldError]) -> None:
    """Raise one InvalidRequest naming every collected field, if there is any."""
    if errors:
        summary = "; ".join(f"{e.path}: {e.message}" for e in errors[:5])
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        raise InvalidRequest(summary + more, errors)
