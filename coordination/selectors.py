"""Reads for notifications: endpoints and deliveries of the caller's organisation, and who may be told
of an incident event (always through the incident visibility rule, DESIGN 4)."""

from __future__ import annotations

from uuid import UUID

from django.db.models import Prefetch, Q, QuerySet

from accounts.authentication import principal_for_membership, system_principal
from accounts.models import Organization, Role
from coordination.models import Delivery, DeliveryAttempt, EmailSubscription, WebhookEndpoint
from core.actors import Principal
from core.errors import Forbidden, NotFound
from incidents.models import Incident
from incidents.selectors import incident_list

WEBHOOK_ADMIN_ROLES = (Role.LAB_ADMIN, Role.REGULATOR, Role.PLATFORM_ADMIN)
WEBHOOKS_SCOPE = "webhooks:manage"


def _require_webhook_admin(actor: Principal) -> UUID:
    """Org admins (lab_admin; regulator in oversight orgs) manage their own organisation's endpoints;
    any other member is refused (403)."""
    allowed = actor.role in WEBHOOK_ADMIN_ROLES and actor.has_scope(WEBHOOKS_SCOPE)
    if actor.org_id is None or not allowed:
        raise Forbidden("Only an organisation admin may manage its webhooks.", code="not_webhook_admin")
    return actor.org_id


def endpoint_list(*, actor: Principal) -> QuerySet[WebhookEndpoint]:
    """The caller's organisation's endpoints (admins only)."""
    org_id = _require_webhook_admin(actor)
    return WebhookEndpoint.objects.filter(organization_id=org_id).select_related("organization", "created_by")


def endpoint_get(*, actor: Principal, ref: str) -> WebhookEndpoint:
    """One endpoint of the caller's organisation; another org's endpoint is 404."""
    try:
        pk = UUID(ref)
    except ValueError:
        raise NotFound(f"No webhook {ref!r}.") from None
    endpoint = endpoint_list(actor=actor).filter(pk=pk).first()
    if endpoint is None:
        raise NotFound(f"No webhook {ref!r}.")
    return endpoint


def delivery_list(*, actor: Principal, endpoint: WebhookEndpoint) -> QuerySet[Delivery]:
    """An endpoint's deliveries, newest first, each with its attempts."""
    endpoint_get(actor=actor, ref=str(endpoint.pk))
    return (
        Delivery.objects.filter(endpoint=endpoint)
        .select_related("event")
        .prefetch_related(
            Prefetch("attempt_log", queryset=DeliveryAttempt.objects.order_by("attempted_at", "id"))
        )
    )


def endpoint_principal(org: Organization) -> Principal:
    """Whom an endpoint speaks for: its organisation, as a service of that org (no user, no key), so a
    TLP:RED report, which reaches named people only, never goes to a webhook."""
    role = Role.REGULATOR if org.is_oversight else Role.LAB_SUBMITTER
    return system_principal(org, label=f"webhooks@{org.short_name}", role=role)


def incident_visible_to(*, actor: Principal, incident_id: UUID | str) -> Incident | None:
    """The incident as `actor` may see it, or None."""
    return incident_list(actor=actor).filter(pk=incident_id).first()


def active_endpoints(*, subscriptions: list[str]) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(
        disabled_at__isnull=True, subscriptions__overlap=subscriptions
    ).select_related("organization")


def email_subscribers(*, subscriptions: list[str]) -> QuerySet[EmailSubscription]:
    return (
        EmailSubscription.objects.filter(
            subscriptions__overlap=subscriptions, membership__user__is_active=True
        )
        .exclude(membership__user__email="")
        .select_related("membership__organization", "membership__user")
    )


def subscriber_principal_for_email(subscription: EmailSubscription) -> Principal:
    return principal_for_membership(subscription.membership)


def due_delivery_ids(*, now: object, limit: int) -> list[UUID]:
    """Pending deliveries whose next attempt is due, for channels still receiving."""
    return list(
        Delivery.objects.filter(status="pending", next_attempt_at__lte=now)
        .filter(Q(endpoint__isnull=True) | Q(endpoint__disabled_at__isnull=True))
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )


def email_subscriptions_of(*, actor: Principal) -> list[str]:
    """The acting user's email topics (empty when none, or when the actor is not a member user)."""
    if actor.user_id is None or actor.org_id is None:
        raise Forbidden("Email notifications are for organisation members.", code="not_a_member")
    row = EmailSubscription.objects.filter(
        membership__user_id=actor.user_id, membership__organization_id=actor.org_id
    ).first()
    return list(row.subscriptions) if row is not None else []
