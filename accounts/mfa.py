"""The MFA policy: which accounts must hold a second factor before they may use Redline.

Reviewers, regulators and platform admins (settings.REDLINE_MFA_REQUIRED_ROLES), and every Django staff
or superuser account, must have enrolled TOTP or a WebAuthn key. Recovery codes alone do not count: they
come with the first real factor."""

from __future__ import annotations

from typing import Any

from allauth.mfa.models import Authenticator
from django.conf import settings

from accounts.models import Membership

SECOND_FACTORS = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)


def mfa_required(user: Any) -> bool:
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    roles = settings.REDLINE_MFA_REQUIRED_ROLES
    return Membership.objects.filter(user_id=user.pk, role__in=roles).exists()


def has_second_factor(user: Any) -> bool:
    return Authenticator.objects.filter(user_id=user.pk, type__in=SECOND_FACTORS).exists()


def needs_enrolment(user: Any) -> bool:
    """True while an account the policy covers has no second factor yet."""
    return mfa_required(user) and not has_second_factor(user)
