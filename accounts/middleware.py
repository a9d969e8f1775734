"""The browser's acting principal, and the MFA enrolment gate."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.functional import SimpleLazyObject

from accounts.authentication import principal_for_user
from accounts.mfa import needs_enrolment
from core.actors import ANONYMOUS, Principal
from core.api.errors import problem_json_response
from core.middleware import is_machine_path

# What an account that still has to enrol may reach: sign-in and MFA set-up (allauth, under /accounts/),
# static files, health and problem-type pages.
_ENROLMENT_OPEN_PREFIXES = ("/accounts/", "/static/", "/healthz", "/problems/")


class PrincipalMiddleware:
    """Sets request.principal for the browser pages (the API's authentication classes do the same for
    DRF requests): the signed-in user's membership, or the anonymous principal."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.principal = SimpleLazyObject(lambda: request_principal(request))  # type: ignore[attr-defined]
        return self.get_response(request)


def request_principal(request: HttpRequest) -> Principal:
    """The signed-in user's principal, resolved once per request: the pages, the MFA gate and the API's
    session authentication share it instead of each loading the membership again."""
    cached = getattr(request, "_redline_principal", None)
    if cached is None:
        cached = principal_for_user(getattr(request, "user", None)) or ANONYMOUS
        request._redline_principal = cached  # type: ignore[attr-defined]
    return cached


class MfaEnrolmentMiddleware:
    """An account the MFA policy covers (accounts.mfa) reaches nothing but MFA set-up until it has a
    second factor: pages redirect to TOTP activation, session API calls get a 403 problem."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user: Any = getattr(request, "user", None)
        if (
            user is not None
            and user.is_authenticated
            and not request.path.startswith(_ENROLMENT_OPEN_PREFIXES)
            and needs_enrolment(user, request=request, principal=request_principal(request))
        ):
            if is_machine_path(request.path) and "HTTP_AUTHORIZATION" not in request.META:
                return problem_json_response(
                    request,
                    status=403,
                    code="mfa_enrolment_required",
                    title="Second factor required",
                    detail="This account must enrol a second factor (TOTP or a security key) at "
                    "/accounts/2fa/ before it can use Redline.",
                )
            if not is_machine_path(request.path):
                messages.warning(
                    request,
                    "Your role requires a second factor. Set up an authenticator app or a security key "
                    "to continue; keep the recovery codes somewhere safe.",
                )
                return HttpResponseRedirect(reverse("mfa_index"))
        return self.get_response(request)
