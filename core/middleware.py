"""Request id (and the request log line that carries it), and security headers."""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

from core.actors import Principal

_request_id: ContextVar[str] = ContextVar("request_id", default="")
_request: ContextVar[HttpRequest | None] = ContextVar("request", default=None)
request_logger = logging.getLogger("redline.request")
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:-]{1,64}")  # fullmatch: `$` would let a trailing newline in

# Strict CSP: no inline script or style, no eval, nothing from another origin.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PERMISSIONS_POLICY = "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()"


# Paths machines call (the REST API, the published JSON Schemas, TAXII 2.1): errors are problem+json or
# TAXII error messages, never pages or redirects, and responses vary on the credentials.
MACHINE_PATH_PREFIXES = ("/api/", "/schemas/", "/taxii2/")


def is_machine_path(path: str) -> bool:
    return path.startswith(MACHINE_PATH_PREFIXES)


def current_request_id() -> str:
    """The id of the request being served ('' outside a request): goes into audit events and logs."""
    return _request_id.get()


def current_org_id() -> str:
    """The acting organisation of the request being served, once authentication has named it ('' before,
    for anonymous callers and outside a request). Read from what the API's authentication (request.user)
    or the pages' principal middleware already resolved: a log line never costs a query."""
    request = _request.get()
    return org_id_of(request) if request is not None else ""


def org_id_of(request: HttpRequest) -> str:
    """The acting organisation's id as far as this request has resolved it (see current_org_id)."""
    for principal in (request.__dict__.get("user"), request.__dict__.get("_redline_principal")):
        # type(), not isinstance(): request.user may be a lazy object that isinstance would evaluate.
        if type(principal) is Principal and principal.org_id is not None:
            return str(principal.org_id)
    return ""


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the caller or makes one, and echoes it on the response; logs
    one line per request (method, path, status, duration), carrying the request and organisation ids."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        # Also on the request: Django logs a 4xx/5xx (django.request) after the middleware has returned.
        request.request_id = request_id  # type: ignore[attr-defined]
        token = _request_id.set(request_id)
        request_token = _request.set(request)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            if settings.REDLINE_REQUEST_LOG:
                request_logger.info(
                    "%s %s %s",
                    request.method,
                    request.path,
                    response.status_code,
                    extra={
                        "method": request.method,
                        "path": request.path,
                        "status": response.status_code,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
                    },
                )
        finally:
            _request.reset(request_token)
            _request_id.reset(token)
        response["X-Request-ID"] = request_id
        return response


class SecurityHeadersMiddleware:
    """CSP, Permissions-Policy, and no-store on anything served to an authenticated caller."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.setdefault("Permissions-Policy", PERMISSIONS_POLICY)
        user = getattr(request, "user", None)
        authenticated = bool(user is not None and user.is_authenticated)
        if authenticated or "HTTP_AUTHORIZATION" in request.META:
            response["Cache-Control"] = "no-store"
        if is_machine_path(request.path):
            # What an API read returns depends on who asks (TLP): a shared cache must key on the credentials.
            patch_vary_headers(response, ("Authorization", "Cookie"))
        return response


class DomainErrorPageMiddleware:
    """A service error (core.errors.DomainError) that escapes a browser view becomes a page with its status
    (404 for out-of-scope records, 403, 409, ...). The API renders the same errors as problem+json itself."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        from core.errors import DomainError
        from core.web import domain_error_page

        if isinstance(exception, DomainError) and not is_machine_path(request.path):
            return domain_error_page(request, exception)
        return None
