"""Request id and security headers."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from contextvars import ContextVar

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

_request_id: ContextVar[str] = ContextVar("request_id", default="")
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


class RequestIdMiddleware:
    """Takes a well-formed X-Request-ID from the caller or makes one, and echoes it on the response."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.headers.get("X-Request-ID", "")
        request_id = incoming if _REQUEST_ID_RE.fullmatch(incoming) else uuid.uuid4().hex
        token = _request_id.set(request_id)
        try:
            response = self.get_response(request)
        finally:
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
