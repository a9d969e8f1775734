"""One error type for the whole service layer, rendered once as RFC 9457 problem+json (core.api.errors).

Services raise these; views never build error responses by hand. `code` is stable: partner systems match
on it, so codes are never renamed.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: str
    code: str
    message: str


class DomainError(Exception):
    """A request that cannot be carried out, with an HTTP status, a stable code and a human detail."""

    status: int = 400
    code: str = "invalid_request"
    title: str = "Invalid request"

    def __init__(
        self,
        detail: str,
        *,
        code: str | None = None,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.errors = errors or []
        self.headers = headers or {}


class ValidationFailed(DomainError):
    status = 400
    code = "validation_error"
    title = "The request did not validate"


class Unprocessable(DomainError):
    status = 422
    code = "unprocessable"
    title = "The request cannot be processed"


class NotFound(DomainError):
    """Also used for objects outside the caller's visibility: out of scope is 404, never 403."""

    status = 404
    code = "not_found"
    title = "Not found"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"
    title = "Not allowed"


class Conflict(DomainError):
    status = 409
    code = "conflict"
    title = "Conflict"


class PreconditionFailed(DomainError):
    status = 412
    code = "precondition_failed"
    title = "Precondition failed"


class PayloadTooLarge(DomainError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class UnsupportedMediaType(DomainError):
    status = 415
    code = "unsupported_media_type"
    title = "Unsupported media type"


class ServiceUnavailable(DomainError):
    status = 503
    code = "service_unavailable"
    title = "Service temporarily unavailable"
