"""The MFA policy: which accounts must hold a second factor before they may use Redline.

Reviewers, regulators and platform admins (settings.REDLINE_MFA_REQUIRED_ROLES), and every Django staff
or superuser account, must have enrolled TOTP or a WebAuthn key. Recovery codes alone do not count: they
come with the first real factor."""

from __future__ import annotations

import time
from typing import Any

from allauth.mfa.models import Authenticator
from allauth.mfa.signals import authenticator_added, authenticator_removed, authenticator_reset
from django.conf import settings
from django.contrib.auth.signals import user_logged_in
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.models import Membership
from core.actors import Principal

SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)
# The session remembers that its user holds a second factor, so the gate costs no query per request;
# removing or resetting a factor through allauth forgets it (below), and a new sign-in starts a new session.
# A factor deleted elsewhere (the Django admin, a support script) is not seen by that session's signal, so
# the memory is checked against the database again once it is REDLINE_MFA_RECHECK_SECONDS old.
_ENROLLED_SESSION_KEY = "redline_mfa_enrolled"


def remember_enrolment(session: Any, user: Any) -> None:
    """Record in the session that `user` holds a second factor now (checked by the caller)."""
    session[_ENROLLED_SESSION_KEY] = [user.pk, int(time.time())]


def _remembered(session: Any, user: Any) -> bool:
    value = session.get(_ENROLLED_SESSION_KEY)
    # [user id, when it was checked]; anything else (an older session's bare id) is checked again.
    if not isinstance(value, list) or len(value) != 2 or value[0] != user.pk:
        return False
    return isinstance(value[1], int) and 0 <= time.time() - value[1] < settings.REDLINE_MFA_RECHECK_SECONDS


def mfa_required(user: Any) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    roles = settings.REDLINE_MFA_REQUIRED_ROLES
    return Membership.objects.filter(user_id=user.pk, role__in=roles).exists()


def has_second_factor(user: Any) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTORS).exists()


def needs_enrolment(
    user: Any, *, request: HttpRequest | None = None, principal: Principal | None = None
) -> bool:
    """True while an account the policy covers has no second factor yet.

    With a request, the verdict "has a second factor" is kept in the session; with the request's
    principal, the role comes from it rather than from another membership query. The role itself is
    never cached: a promotion to reviewer is gated on the next request."""
    if not user.is_authenticated:
        return False
    if principal is not None and principal.user_id == user.pk and not (user.is_staff or user.is_superuser):
        required = principal.role in settings.REDLINE_MFA_REQUIRED_ROLES
    else:
        required = mfa_required(user)
    if not required:
        return False
    session = getattr(request, "session", None)
    if session is not None and _remembered(session, user):
        return False
    if not has_second_factor(user):
        if session is not None:
            session.pop(_ENROLLED_SESSION_KEY, None)
        return True
    if session is not None:
        remember_enrolment(session, user)
    return False


@receiver(user_logged_in)
@receiver(authenticator_added)
def _note_enrolment(sender: Any, request: HttpRequest | None = None, user: Any = None, **kwargs: Any) -> None:
    """Signing in or adding a factor records it in the session, so the first page pays no extra query."""
    session = getattr(request, "session", None)
    if session is not None and user is not None and has_second_factor(user):
        remember_enrolment(session, user)


@receiver(authenticator_removed)
@receiver(authenticator_reset)
def _forget_enrolment(sender: Any, request: HttpRequest | None = None, **kwargs: Any) -> None:
    session = getattr(request, "session", None)
    if session is not None:
        session.pop(_ENROLLED_SESSION_KEY, None)
