"""Writes for organisations, memberships and API keys."""

from __future__ import annotations

import secrets
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from accounts.authentication import hash_secret
from accounts.models import KIND_ROLES, ROLE_SCOPES, ApiKey, Membership, Organization, Role
from accounts.selectors import _require_key_admin
from core.actors import Principal
from core.audit import audit_record
from core.errors import Conflict, Forbidden, ValidationFailed

# "rl" + 10 hex digits: 40 random bits. (With 24 bits, a collision - a 500 on the unique prefix - became
# likely after a few thousand keys.) A prefix already taken is drawn again.
PREFIX_HEX_DIGITS = 10
_PREFIX_ATTEMPTS = 5


def new_key_prefix() -> str:
    return "rl" + secrets.token_hex(PREFIX_HEX_DIGITS // 2)


def _unused_prefix() -> str:
    for _ in range(_PREFIX_ATTEMPTS):
        prefix = new_key_prefix()
        if not ApiKey.objects.filter(prefix=prefix).exists():
            return prefix
    raise Conflict("Could not draw an unused API key prefix; retry.", code="key_prefix_exhausted")


def organization_create(
    *,
    actor: Principal,
    short_name: str,
    name: str,
    kind: str,
    country: str,
    jurisdictions: list[str] | None = None,
    sharing_communities: list[str] | None = None,
    website: str = "",
) -> Organization:
    """Register a participant organisation (platform admins only)."""
    if actor.role != Role.PLATFORM_ADMIN:
        raise Forbidden("Only platform admins register organisations.")
    with transaction.atomic():
        if Organization.objects.filter(short_name=short_name).exists():
            raise Conflict(f"An organisation {short_name!r} exists already.", code="duplicate_short_name")
        org = Organization(
            short_name=short_name,
            name=name,
            kind=kind,
            country=country,
            jurisdictions=jurisdictions or [],
            sharing_communities=sharing_communities or [],
            website=website,
        )
        org.full_clean()
        org.save()
        audit_record(
            actor=actor, event_code="organization.created", target=org, after={"short_name": short_name}
        )
    return org


def membership_create(
    *, actor: Principal, user: AbstractBaseUser, organization: Organization, role: str
) -> Membership:
    """Give a user a role in an organisation; the role must fit the organisation's kind."""
    if actor.role != Role.PLATFORM_ADMIN and not (
        actor.role == Role.LAB_ADMIN and actor.org_id == organization.pk
    ):
        raise Forbidden("Only the organisation's admin or a platform admin adds members.")
    if role not in KIND_ROLES[organization.kind]:
        raise ValidationFailed(
            f"Role {role!r} does not exist in a {organization.kind} organisation.", code="invalid_role"
        )
    with transaction.atomic():
        membership, _ = Membership.objects.update_or_create(
            user=user, organization=organization, defaults={"role": role}
        )
        audit_record(
            actor=actor,
            event_code="membership.set",
            target=membership,
            after={"user": user.get_username(), "org": organization.short_name, "role": role},
        )
    return membership


def user_create(*, username: str, password: str, email: str = "") -> AbstractBaseUser:
    user_model = get_user_model()
    user: AbstractBaseUser = user_model.objects.create_user(username=username, password=password, email=email)
    return user


def api_key_create(
    *,
    actor: Principal,
    organization: Organization,
    name: str,
    role: str,
    scopes: list[str],
    expires_at: datetime | None = None,
) -> tuple[ApiKey, str]:
    """Issue a key for a service account of `organization`. Returns the key and its plaintext, which is
    never stored and cannot be shown again."""
    _require_key_admin(actor, organization.pk)
    if role not in KIND_ROLES[organization.kind] or (
        role == Role.PLATFORM_ADMIN and actor.role != Role.PLATFORM_ADMIN
    ):
        raise ValidationFailed(f"A key cannot act as {role!r} in this organisation.", code="invalid_role")
    if actor.role == Role.LAB_ADMIN and role not in (Role.LAB_SUBMITTER, Role.LAB_ADMIN):
        raise Forbidden("A lab admin can only issue lab roles.", code="invalid_role")
    unknown = set(scopes) - ROLE_SCOPES[role]
    if unknown:
        raise ValidationFailed(
            f"Scopes {sorted(unknown)} are not available to the role {role!r}.", code="invalid_scope"
        )
    if expires_at is not None and expires_at <= timezone.now():
        raise ValidationFailed("expires_at must be in the future.", code="invalid_expiry")
    secret = secrets.token_urlsafe(32)
    with transaction.atomic():
        prefix = _unused_prefix()
        key = ApiKey.objects.create(
            organization=organization,
            name=name,
            role=role,
            scopes=sorted(set(scopes)),
            prefix=prefix,
            secret_hash=hash_secret(secret),
            created_by_id=actor.user_id,
            expires_at=expires_at,
        )
        audit_record(
            actor=actor,
            event_code="api_key.created",
            target=key,
            after={
                "prefix": prefix,
                "name": name,
                "role": role,
                "scopes": key.scopes,
                "expires_at": expires_at,
            },
        )
    return key, f"{prefix}.{secret}"


def api_key_revoke(*, actor: Principal, key: ApiKey, reason: str = "") -> ApiKey:
    """Revoke a key; the next request that presents it gets 401. Revoking twice is a no-op."""
    _require_key_admin(actor, key.organization_id)
    with transaction.atomic():
        locked = ApiKey.objects.select_for_update().get(pk=key.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.revocation_reason = reason
            locked.save(update_fields=["revoked_at", "revocation_reason", "modified_at"])
            audit_record(
                actor=actor,
                event_code="api_key.revoked",
                target=locked,
                after={"prefix": locked.prefix, "reason": reason},
            )
    return locked
