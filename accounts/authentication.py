"""DRF authentication: `Authorization: Api-Key <prefix>.<secret>` for programs, the session for browsers.

Both yield a core.actors.Principal as request.user, so views and services see one actor type.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Any

from django.db.models import Q
from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, SessionAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.request import Request

from accounts.models import ROLE_SCOPES, ApiKey, Membership, Organization, Role
from accounts.selectors import LAST_USED_RESOLUTION, membership_for_user
from core.actors import Principal

KEYWORD = "Api-Key"
# What accounts.services issues: an alphanumeric prefix and a URL-safe base64 secret.
_CREDENTIAL_RE = re.compile(r"^(?P<prefix>[A-Za-z0-9]{1,16})\.(?P<secret>[A-Za-z0-9_-]{1,128})$")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _org_principal(org: Organization, **fields: Any) -> Principal:
    return Principal(
        org_id=org.pk,
        org_short_name=org.short_name,
        org_kind=org.kind,
        org_jurisdictions=tuple(org.jurisdictions),
        org_communities=tuple(org.sharing_communities),
        **fields,
    )


def principal_for_key(key: ApiKey) -> Principal:
    return _org_principal(
        key.organization,
        kind="service_account",
        label=f"{key.organization.short_name}/{key.name}",
        role=key.role,
        scopes=frozenset(key.scopes) & ROLE_SCOPES.get(key.role, frozenset()),
        api_key_id=key.pk,
    )


def principal_for_membership(membership: Membership) -> Principal:
    return _org_principal(
        membership.organization,
        kind="user",
        label=membership.user.get_username(),
        role=membership.role,
        scopes=ROLE_SCOPES.get(membership.role, frozenset()),
        user_id=membership.user.pk,
    )


def system_principal(org: Organization, *, label: str, role: str) -> Principal:
    """A command or loader acting for `org` in `role`: the services apply that role's rules to it."""
    return _org_principal(org, kind="system", label=label, role=role, scopes=ROLE_SCOPES[role])


class ApiKeyAuthentication(BaseAuthentication):
    """Verifies the key on every request (no cache: revocation and expiry act on the next request)."""

    def authenticate(self, request: Request) -> tuple[Principal, ApiKey] | None:
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        keyword, _, credential = header.partition(" ")
        if keyword.lower() != KEYWORD.lower():  # auth schemes are case-insensitive (RFC 9110 11.1)
            return None
        # Checked before any query: a NUL or a surrogate in the header must be a 401, not a database error.
        match = _CREDENTIAL_RE.match(credential.strip())
        if match is None:
            raise AuthenticationFailed("Malformed API key: expected 'Api-Key <prefix>.<secret>'.")
        prefix, secret = match["prefix"], match["secret"]
        key = ApiKey.objects.select_related("organization").filter(prefix=prefix).first()
        if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(secret)):
            raise AuthenticationFailed("Invalid API key.")
        now = timezone.now()
        if key.revoked_at is not None:
            raise AuthenticationFailed("This API key has been revoked.")
        if key.expires_at is not None and key.expires_at <= now:
            raise AuthenticationFailed("This API key has expired.")
        # Last-used is kept to a minute's resolution so a busy pipeline does not write on every request
        # (the conditional UPDATE keeps concurrent requests from writing twice).
        if key.last_used_at is None or key.last_used_at < now - LAST_USED_RESOLUTION:
            ApiKey.objects.filter(pk=key.pk).filter(
                Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
            ).update(last_used_at=now)
        return principal_for_key(key), key

    def authenticate_header(self, request: Request) -> str:
        return f'{KEYWORD} realm="api"'


def principal_for_user(user: Any) -> Principal | None:
    """A signed-in user's principal: their membership's, a superuser without one as platform admin, and
    None for an account that belongs to no organisation. The API and the browser pages both use it."""
    if user is None or not user.is_authenticated:
        return None
    membership = membership_for_user(user_id=user.pk, org_id=None)
    if membership is not None:
        membership.user = user  # already loaded: not a second query for the same row
        return principal_for_membership(membership)
    if user.is_superuser:
        return Principal(
            kind="user",
            label=user.get_username(),
            role=Role.PLATFORM_ADMIN,
            scopes=ROLE_SCOPES[Role.PLATFORM_ADMIN],
            user_id=user.pk,
        )
    return None


class SessionPrincipalAuthentication(SessionAuthentication):
    """Django's session (with CSRF enforced on unsafe methods), resolved to the user's membership."""

    def authenticate(self, request: Request) -> tuple[Principal, Any] | None:
        result = super().authenticate(request)
        if result is None:
            return None
        user = result[0]
        # accounts.middleware.request_principal's, when the MFA gate has resolved it for this request
        carried = getattr(request._request, "_redline_principal", None)
        if carried is not None and carried.user_id == user.pk:
            principal = carried
        else:
            principal = principal_for_user(user)
        if principal is None or not principal.is_authenticated:
            raise AuthenticationFailed("This account belongs to no organisation.")
        return principal, None
