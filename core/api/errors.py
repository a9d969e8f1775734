"""RFC 9457 problem+json: the one error shape of the API, decided here once.

Every error leaves as `{"type", "title", "status", "detail", "code", "instance", "request_id", "errors"}`
with content type application/problem+json, whether it came from a service (DomainError), from DRF
(validation, authentication, throttling, parsing) or from Django (404, oversized body).
"""

from __future__ import annotations

import logging
import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.db import DatabaseError, DataError, IntegrityError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import set_rollback

from core.errors import DomainError, FieldError
from core.middleware import current_request_id

logger = logging.getLogger(__name__)
PROBLEM_CONTENT_TYPE = "application/problem+json"

_DRF_CODES: dict[type[drf.APIException], tuple[str, str]] = {
    drf.ParseError: ("malformed_request", "The request body could not be parsed"),
    drf.AuthenticationFailed: ("authentication_failed", "Authentication failed"),
    drf.NotAuthenticated: ("not_authenticated", "Authentication required"),
    drf.PermissionDenied: ("forbidden", "Not allowed"),
    drf.NotFound: ("not_found", "Not found"),
    drf.MethodNotAllowed: ("method_not_allowed", "Method not allowed"),
    drf.NotAcceptable: ("not_acceptable", "Not acceptable"),
    drf.UnsupportedMediaType: ("unsupported_media_type", "Unsupported media type"),
    drf.Throttled: ("rate_limited", "Too many requests"),
    drf.ValidationError: ("validation_error", "The request did not validate"),
}


def problem_body(
    *,
    status: int,
    code: str,
    title: str,
    detail: str,
    instance: str = "",
    errors: list[FieldError] | None = None,
) -> dict[str, Any]:
    return {
        "type": f"/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "instance": instance,
        "request_id": current_request_id(),
        "errors": [{"field": e.field, "code": e.code, "message": e.message} for e in errors or []],
    }


def flatten_validation_errors(detail: Any, prefix: str = "") -> list[FieldError]:
    """DRF's nested error dict -> a flat list of (dotted field path, code, message)."""
    if isinstance(detail, dict):
        out: list[FieldError] = []
        for key, value in detail.items():
            if isinstance(key, int):  # a ListField keys its children's errors by their index
                path = f"{prefix}[{key}]"
            else:
                name = str(key) if key != "non_field_errors" else ""
                path = f"{prefix}.{name}" if prefix and name else (name or prefix)
            out.extend(flatten_validation_errors(value, path))
        return out
    if isinstance(detail, list):
        out = []
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                out.extend(flatten_validation_errors(item, f"{prefix}[{index}]" if prefix else f"[{index}]"))
            else:
                out.extend(flatten_validation_errors(item, prefix))
        return out
    code = getattr(detail, "code", "invalid") or "invalid"
    return [FieldError(field=prefix, code=str(code), message=str(detail))]


# SQLSTATEs of a row that another transaction got in first (a race the services' checks cannot close).
_CONCURRENT_DUPLICATE = frozenset({"23505", "23P01"})  # unique_violation, exclusion_violation


def _constraint_problem(exc: IntegrityError | DataError, instance: str) -> dict[str, Any]:
    """The database refused a write. A unique violation is a concurrent duplicate: 409, as the service's own
    duplicate check would have said a moment later. Anything else is input the validation let through: a
    4xx for the caller (never a 500 for bad input), logged as an error because it is a validation gap."""
    sqlstate = getattr(exc.__cause__, "sqlstate", None)
    if sqlstate in _CONCURRENT_DUPLICATE:
        logger.warning("concurrent duplicate refused by the database: %s", exc)
        return problem_body(
            status=409,
            code="conflict",
            title="Conflict",
            detail="Another request created the same record at the same moment; re-read before retrying.",
            instance=instance,
        )
    logger.error("write refused by the database (sqlstate %s)", sqlstate, exc_info=exc)
    return problem_body(
        status=422,
        code="constraint_violation",
        title="The request cannot be processed",
        detail="A value was refused by the database's integrity rules.",
        instance=instance,
    )


def _response(body: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
    response = Response(body, status=body["status"], content_type=PROBLEM_CONTENT_TYPE)
    for name, value in (headers or {}).items():
        response[name] = value
    return response


def problem_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF EXCEPTION_HANDLER: every exception a view lets out becomes problem+json."""
    request = context.get("request")
    instance = request.path if request is not None else ""
    set_rollback()
    if isinstance(exc, DomainError):
        body = problem_body(
            status=exc.status,
            code=exc.code,
            title=exc.title,
            detail=exc.detail,
            instance=instance,
            errors=exc.errors,
        )
        return _response(body, exc.headers)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, RequestDataTooBig):
        body = problem_body(
            status=413,
            code="payload_too_large",
            title="Payload too large",
            detail="The request body exceeds the size limit.",
            instance=instance,
        )
        return _response(body)
    elif isinstance(exc, SuspiciousOperation):
        exc = drf.ParseError(detail=str(exc) or "Malformed request.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    elif isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc)
        body = problem_body(
            status=503,
            code="service_unavailable",
            title="Service temporarily unavailable",
            detail="The database is unavailable; retry later (safe with the same Idempotency-Key).",
            instance=instance,
        )
        return _response(body, {"Retry-After": "5"})
    elif isinstance(exc, IntegrityError | DataError):
        return _response(_constraint_problem(exc, instance))
    elif isinstance(exc, DatabaseError):
        return None
    if not isinstance(exc, drf.APIException):
        return None
    code, title = _DRF_CODES.get(type(exc), ("error", "Error"))
    for klass, (klass_code, klass_title) in _DRF_CODES.items():
        if type(exc) is not klass and isinstance(exc, klass) and code == "error":
            code, title = klass_code, klass_title
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = str(exc.auth_header)  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(math.ceil(exc.wait))  # type: ignore[attr-defined]
    if isinstance(exc, drf.ValidationError):
        errors = flatten_validation_errors(exc.detail)
        detail = "; ".join(f"{e.field or 'body'}: {e.message}" for e in errors[:5]) or "Invalid input."
        body = problem_body(
            status=400, code=code, title=title, detail=detail, instance=instance, errors=errors
        )
    else:
        body = problem_body(
            status=exc.status_code, code=code, title=title, detail=str(exc.detail), instance=instance
        )
    return _response(body, headers)


def problem_json_response(
    request: HttpRequest, *, status: int, code: str, title: str, detail: str
) -> JsonResponse:
    """For plain Django views and handlers (handler404/500) outside DRF."""
    body = problem_body(status=status, code=code, title=title, detail=detail, instance=request.path)
    return JsonResponse(body, status=status, content_type=PROBLEM_CONTENT_TYPE)
