"""The outbox handler (REDLINE_OUTBOX_HANDLERS): one incident or deadline event becomes one delivery row
per subscribed webhook endpoint and per subscribed user who may see the incident.

Who is told (each narrowed by the incident visibility rule for that subscriber, DESIGN 4):
- `new_in_jurisdiction`: `incident.submitted` when the incident's jurisdictions meet the subscriber org's;
- `own_reports`: every `incident.*` event of a report the subscriber's organisation owns;
- `deadlines`: `deadline.*` for reports the organisation owns, and, for regulators and coordination
  bodies, for every report they may see.

The payload is rendered here, once per recipient, with only what that recipient may see, and stored on
the delivery so every retry sends the same bytes. It stays small (ids, title, status, TLP, the transition
or deadline facts, a link); for TLP:RED and TLP:AMBER+STRICT it drops the title too, so a forwarded
notification discloses nothing but that something changed: the reader follows the link, and the API
applies the rule again.

Runs inside `outbox_dispatch`'s transaction: rows are get_or_create'd on (event, endpoint) / (event, user)
unique constraints, so a re-dispatch after a crash creates nothing twice; the sending tasks are queued on
commit, for the rows this dispatch created.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import Organization
from coordination import selectors
from coordination.models import Channel, Delivery, Subscription
from core.actors import Principal
from core.models import OutboxEvent
from incidents.models import Incident

INCIDENT_SUBJECT = "incidents.incident"
# Facts of an event that may travel (never free text such as reasons or amendment summaries).
EVENT_FIELDS = ("action", "from", "to", "revision", "regime", "stage", "sequence", "due_at")
MINIMISED_TLPS = ("red", "amber+strict")


def subscriptions_for(topic: str) -> list[str]:
    """Which subscriptions an event topic may concern."""
    if topic == "incident.submitted":
        return [Subscription.NEW_IN_JURISDICTION, Subscription.OWN_REPORTS]
    if topic.startswith("incident."):
        return [Subscription.OWN_REPORTS]
    if topic.startswith("deadline."):
        return [Subscription.DEADLINES]
    return []


def wants(*, subscriptions: list[str], org: Organization, topic: str, incident: Incident) -> bool:
    """Whether a subscriber of `org` with `subscriptions` asked to hear of this event (visibility is
    checked separately)."""
    owned = incident.owner_org_id == org.pk
    if Subscription.OWN_REPORTS in subscriptions and topic.startswith("incident.") and owned:
        return True
    if (
        Subscription.NEW_IN_JURISDICTION in subscriptions
        and topic == "incident.submitted"
        and set(incident.jurisdictions) & set(org.jurisdictions)
    ):
        return True
    return (
        Subscription.DEADLINES in subscriptions
        and topic.startswith("deadline.")
        and (owned or org.is_oversight)
    )


def render_payload(*, event: OutboxEvent, incident: Incident) -> dict[str, Any]:
    """The notification body for a recipient who may see `incident` (as loaded through their visibility)."""
    base_url = settings.REDLINE_PUBLIC_BASE_URL.rstrip("/")
    data: dict[str, Any] = {
        "id": str(incident.pk),
        "public_id": incident.public_id,
        "status": incident.status,
        "tlp": incident.tlp,
        "url": f"{base_url}/api/v1/incidents/{incident.public_id}",
    }
    if incident.tlp not in MINIMISED_TLPS:
        data["title"] = incident.title
        data["owner_org"] = incident.owner_org.short_name
    data.update({name: event.data[name] for name in EVENT_FIELDS if name in event.data})
    return {"type": event.topic, "timestamp": event.created_at.isoformat(), "data": data}


def _visible(principal: Principal, incident_id: UUID) -> Incident | None:
    return selectors.incident_visible_to(actor=principal, incident_id=incident_id)


def fan_out(event: OutboxEvent) -> None:
    """Turn one outbox event into delivery rows (see the module docstring)."""
    if event.subject_type != INCIDENT_SUBJECT:
        return
    subscriptions = subscriptions_for(event.topic)
    if not subscriptions:
        return
    incident = Incident.objects.select_related("owner_org").filter(pk=event.subject_id).first()
    if incident is None:
        return
    now = timezone.now()
    created: list[Delivery] = []

    def deliver(principal: Principal, channel: str, **recipient: Any) -> None:
        """One delivery per (event, recipient), rendered for what the recipient may see; none if it
        may not see the incident. get_or_create: a re-dispatched event never delivers twice."""
        seen = _visible(principal, incident.pk)
        if seen is None:
            return
        delivery, was_created = Delivery.objects.get_or_create(
            event=event,
            **recipient,
            defaults={
                "channel": channel,
                "payload": render_payload(event=event, incident=seen),
                "next_attempt_at": now,
            },
        )
        if was_created:
            created.append(delivery)

    for endpoint in selectors.active_endpoints(subscriptions=subscriptions):
        if wants(
            subscriptions=endpoint.subscriptions,
            org=endpoint.organization,
            topic=event.topic,
            incident=incident,
        ):
            deliver(selectors.endpoint_principal(endpoint.organization), Channel.WEBHOOK, endpoint=endpoint)
    for subscription in selectors.email_subscribers(subscriptions=subscriptions):
        membership = subscription.membership
        if wants(
            subscriptions=subscription.subscriptions,
            org=membership.organization,
            topic=event.topic,
            incident=incident,
        ):
            deliver(
                selectors.subscriber_principal_for_email(subscription), Channel.EMAIL, user=membership.user
            )
    ids = [str(delivery.pk) for delivery in created]
    if ids:
        transaction.on_commit(lambda: _enqueue(ids))


def _enqueue(delivery_ids: list[str]) -> None:
    """After commit: one sending task per delivery. A lost message is picked up by the retry sweep."""
    import logging

    from coordination.tasks import send_delivery

    for delivery_id in delivery_ids:
        try:
            send_delivery.delay(delivery_id)
        except Exception:  # the retry sweep sends it; the dispatch already committed
            logging.getLogger(__name__).warning("queueing delivery %s failed", delivery_id, exc_info=True)
