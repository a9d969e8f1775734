"""Builders shared by the notification tests."""

from __future__ import annotations

from typing import Any

from django.utils import timezone

from accounts.models import Membership, Organization, Role
from coordination.models import Channel, Delivery, WebhookEndpoint
from core.actors import Principal
from core.models import OutboxEvent
from incidents import services as incident_services
from incidents.models import Incident
from tests.factories import MembershipFactory, member_principal


def admin_of(org: Organization) -> Principal:
    """A user who may manage `org`'s webhooks."""
    return member_principal(org, Role.REGULATOR if org.is_oversight else Role.LAB_ADMIN)


def submit(
    submitter: Membership | Principal, *, tlp: str = "green", countries: list[str] | None = None
) -> Incident:
    """File a report through the service (which emits `incident.submitted` to the outbox)."""
    from accounts.authentication import principal_for_membership

    actor = submitter if isinstance(submitter, Principal) else principal_for_membership(submitter)
    return incident_services.incident_submit(
        actor=actor,
        data={
            "record_class": "real_world_incident",
            "title": f"Replica started ({tlp})",
            "description": "An agent copied its weights to a rented host.",
            "submitter_capacity": "provider",
            "instruction_provenance": "uninstructed",
            "countries": countries or ["FR"],
            "tlp": tlp,
        },
        links=incident_services.Links(
            models=[incident_services.InvolvedModel(role="originating", model_name="in-house")]
        ),
    ).incident


def lab_member(org: Organization, role: str = Role.LAB_SUBMITTER, email: str = "") -> Membership:
    membership: Membership = MembershipFactory(organization=org, role=role, user__email=email)
    return membership


def make_delivery(endpoint: WebhookEndpoint, payload: dict[str, Any] | None = None) -> Delivery:
    """A pending webhook delivery of a synthetic event, due now."""
    event = OutboxEvent.objects.create(
        topic="incident.submitted", subject_type="incidents.incident", subject_id="0", data={}
    )
    delivery: Delivery = Delivery.objects.create(
        event=event,
        endpoint=endpoint,
        channel=Channel.WEBHOOK,
        payload=payload
        or {"type": "incident.submitted", "timestamp": timezone.now().isoformat(), "data": {"id": "x"}},
        next_attempt_at=timezone.now(),
    )
    return delivery
