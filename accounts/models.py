"""Organisations, their members' roles, and their API keys."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

country_code = RegexValidator(r"^[A-Z]{2}$", "An ISO 3166-1 alpha-2 code, e.g. FR.")
jurisdiction_code = RegexValidator(r"^([A-Z]{2}|EU)$", "An ISO 3166-1 alpha-2 code or EU.")


class OrganizationKind(models.TextChoices):
    LAB = "lab", "AI lab"
    REGULATOR = "regulator", "Regulator"
    EVALUATOR = "evaluator", "Evaluator"
    COORDINATION_BODY = "coordination_body", "Coordination body"


class Role(models.TextChoices):
    LAB_SUBMITTER = "lab_submitter", "Lab submitter"
    LAB_ADMIN = "lab_admin", "Lab admin"
    REVIEWER = "reviewer", "Reviewer"
    REGULATOR = "regulator", "Regulator"
    PLATFORM_ADMIN = "platform_admin", "Platform admin"


class Scope(models.TextChoices):
    """What an API key may do. Session users act with every scope their role allows."""

    REGISTRY_WRITE = "registry:write", "Register models and scaffolds, record and import evaluations"
    INCIDENTS_WRITE = "incidents:write", "File and amend incident reports"
    API_KEYS_MANAGE = "api_keys:manage", "List, create and revoke the organisation's API keys"
    WEBHOOKS_MANAGE = "webhooks:manage", "Register, change, rotate and re-enable the organisation's webhooks"
    EXCHANGE_WRITE = (
        "exchange:write",
        "Push STIX bundles to the TAXII inbound collection (partner registries)",
    )


# Which roles may hold which scopes; a key's scopes must be a subset of its role's.
ROLE_SCOPES: dict[str, frozenset[str]] = {
    Role.LAB_SUBMITTER: frozenset({Scope.REGISTRY_WRITE, Scope.INCIDENTS_WRITE}),
    Role.LAB_ADMIN: frozenset(
        {Scope.REGISTRY_WRITE, Scope.INCIDENTS_WRITE, Scope.API_KEYS_MANAGE, Scope.WEBHOOKS_MANAGE}
    ),
    Role.REVIEWER: frozenset({Scope.REGISTRY_WRITE, Scope.INCIDENTS_WRITE}),
    # incidents:write: regulators comment, set their organisation's assessment and lower TLP on reports.
    # webhooks:manage: an oversight org has no lab_admin; its regulators run its receivers.
    # exchange:write: a regulator's or coordination body's own registry pushes reports over TAXII.
    Role.REGULATOR: frozenset(
        {Scope.REGISTRY_WRITE, Scope.INCIDENTS_WRITE, Scope.WEBHOOKS_MANAGE, Scope.EXCHANGE_WRITE}
    ),
    Role.PLATFORM_ADMIN: frozenset(Scope.values),
}

# Which roles make sense in which kind of organisation.
KIND_ROLES: dict[str, frozenset[str]] = {
    OrganizationKind.LAB: frozenset({Role.LAB_SUBMITTER, Role.LAB_ADMIN}),
    OrganizationKind.EVALUATOR: frozenset({Role.LAB_SUBMITTER, Role.LAB_ADMIN}),
    OrganizationKind.REGULATOR: frozenset({Role.REVIEWER, Role.REGULATOR, Role.PLATFORM_ADMIN}),
    OrganizationKind.COORDINATION_BODY: frozenset({Role.REVIEWER, Role.REGULATOR, Role.PLATFORM_ADMIN}),
}


class Organization(models.Model):
    """A lab, regulator, evaluator or coordination body. The directory itself is public (TLP:CLEAR)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    short_name = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=32, choices=OrganizationKind.choices)
    country = models.CharField(max_length=2, validators=[country_code])
    jurisdictions = ArrayField(
        models.CharField(max_length=2, validators=[jurisdiction_code]), default=list, blank=True
    )
    sharing_communities = ArrayField(models.SlugField(max_length=64), default=list, blank=True)
    website = models.URLField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        ordering = ["short_name"]
        constraints = [
            models.CheckConstraint(condition=Q(country__regex=r"^[A-Z]{2}$"), name="org_country_iso2"),
            models.CheckConstraint(condition=Q(kind__in=OrganizationKind.values), name="org_kind_valid"),
        ]

    def __str__(self) -> str:
        return self.short_name

    @property
    def is_oversight(self) -> bool:
        """Regulators and coordination bodies: the participants that review and assess."""
        return self.kind in (OrganizationKind.REGULATOR, OrganizationKind.COORDINATION_BODY)


class Membership(models.Model):
    """A user's role in an organisation."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="memberships")
    role = models.CharField(max_length=32, choices=Role.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "organization"], name="membership_user_org_uniq"),
            models.CheckConstraint(condition=Q(role__in=Role.values), name="membership_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.user} @ {self.organization} ({self.role})"


class ApiKey(models.Model):
    """An organisation's API key: the credential of a service account (a pipeline, a partner system).

    The secret is shown once at creation; only its SHA-256 is stored (the secret is 256 random bits, so a
    fast hash is enough and keeps per-request verification cheap). Presented as `Api-Key <prefix>.<secret>`;
    the prefix is the lookup key. Revocation and expiry take effect on the very next request: keys are
    never cached.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="api_keys")
    name = models.CharField(max_length=100, help_text="The service account this key belongs to.")
    role = models.CharField(max_length=32, choices=Role.choices)
    scopes = ArrayField(models.CharField(max_length=32, choices=Scope.choices), default=list)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=500, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    modified_at = models.DateTimeField(auto_now=True, db_index=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(role__in=Role.values), name="api_key_role_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.prefix} ({self.organization.short_name}: {self.name})"
