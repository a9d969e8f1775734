"""Every write of notifications: managing webhook endpoints (org admins), rotating their secrets, and
sending deliveries with retries, backoff and auto-disable.

A delivery is sent by `delivery_send` with its row locked FOR UPDATE SKIP LOCKED for the whole attempt:
the on-commit task, a redelivered broker message and the retry sweep can all reach the same row, but only
one of them sends at a time, and none sends a row that is no longer pending or not yet due. A worker that
dies mid-POST rolls the attempt back (the row stays pending and is sent again): delivery is at least once,
and the unchanged `webhook-id` lets the consumer drop the duplicate.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal
from uuid import UUID

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from coordination import selectors
from coordination.models import (
    Channel,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    EmailSubscription,
    InboundObject,
    Subscription,
    TaxiiObject,
    TaxiiStatus,
    TaxiiStatusState,
    WebhookEndpoint,
    WebhookSecret,
)
from coordination.signing import secret_generate, signature_header
from coordination.ssrf import UnsafeWebhookUrl, safe_post, vet
from coordination.stix import incident_stix_objects, stix_id
from coordination.taxii.inbound import Verdict, check_object
from core.actors import SYSTEM, Principal
from core.audit import audit_record
from core.errors import Conflict, DomainError, Forbidden, ValidationFailed
from core.models import OutboxEvent
from incidents.models import Incident
from incidents.services import partner_incident_receive

logger = logging.getLogger(__name__)

ENDPOINT_CREATED = "webhook.created"
ENDPOINT_UPDATED = "webhook.updated"
ENDPOINT_SECRET_ROTATED = "webhook.secret_rotated"  # noqa: S105 - an event code
ENDPOINT_DISABLED = "webhook.disabled"
ENDPOINT_ENABLED = "webhook.enabled"
ENDPOINT_TEST_PINGED = "webhook.test_pinged"
TEST_PING_TOPIC = "webhook.test"

Outcome = Literal["delivered", "retry", "failed", "skipped"]


def _check_url(url: str) -> None:
    try:
        vet(url)
    except UnsafeWebhookUrl as error:
        raise ValidationFailed(str(error), code="unsafe_webhook_url") from error


def _state(endpoint: WebhookEndpoint) -> dict[str, Any]:
    return {
        "url": endpoint.url,
        "description": endpoint.description,
        "subscriptions": list(endpoint.subscriptions),
        "disabled_at": endpoint.disabled_at,
    }


def _require_admin_of(actor: Principal, endpoint: WebhookEndpoint | None = None) -> UUID:
    org_id = selectors._require_webhook_admin(actor)
    if endpoint is not None and endpoint.organization_id != org_id:
        raise Forbidden("This webhook belongs to another organisation.", code="not_webhook_admin")
    return org_id


def webhook_endpoint_create(
    *, actor: Principal, url: str, subscriptions: list[str], description: str = ""
) -> tuple[WebhookEndpoint, str]:
    """Register an endpoint for the actor's organisation. Returns it and its first secret (shown once)."""
    org_id = _require_admin_of(actor)
    _check_url(url)
    with transaction.atomic():
        endpoint = WebhookEndpoint.objects.create(
            organization_id=org_id,
            url=url,
            description=description,
            subscriptions=sorted(set(subscriptions)),
            created_by_id=actor.user_id,
        )
        secret = secret_generate()
        WebhookSecret.objects.create(endpoint=endpoint, secret=secret)
        audit_record(actor=actor, event_code=ENDPOINT_CREATED, target=endpoint, after=_state(endpoint))
    return endpoint, secret


def webhook_endpoint_update(
    *, actor: Principal, endpoint: WebhookEndpoint, changes: dict[str, Any]
) -> WebhookEndpoint:
    """Change url, description or subscriptions (a new url is vetted like a new endpoint)."""
    _require_admin_of(actor, endpoint)
    if "url" in changes:
        _check_url(changes["url"])
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = _state(locked)
        for name in ("url", "description"):
            if name in changes:
                setattr(locked, name, changes[name])
        if "subscriptions" in changes:
            locked.subscriptions = sorted(set(changes["subscriptions"]))
        locked.save()
        audit_record(
            actor=actor, event_code=ENDPOINT_UPDATED, target=locked, before=before, after=_state(locked)
        )
    return locked


def webhook_secret_rotate(
    *, actor: Principal, endpoint: WebhookEndpoint, reason: str = ""
) -> tuple[WebhookEndpoint, str]:
    """A new secret signs from now on; the current ones keep signing alongside for
    REDLINE_WEBHOOK_SECRET_OVERLAP_HOURS (so the consumer can switch without losing a message)."""
    _require_admin_of(actor, endpoint)
    now = timezone.now()
    overlap_ends = now + timedelta(hours=settings.REDLINE_WEBHOOK_SECRET_OVERLAP_HOURS)
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        WebhookSecret.objects.filter(endpoint=locked, expires_at__isnull=True).update(expires_at=overlap_ends)
        WebhookSecret.objects.filter(endpoint=locked, expires_at__gt=overlap_ends).update(
            expires_at=overlap_ends
        )
        secret = secret_generate()
        WebhookSecret.objects.create(endpoint=locked, secret=secret)
        WebhookSecret.objects.filter(endpoint=locked, expires_at__lte=now).delete()  # expired: forget them
        locked.save(update_fields=["modified_at"])
        audit_record(
            actor=actor,
            event_code=ENDPOINT_SECRET_ROTATED,
            target=locked,
            after={"old_expire_at": overlap_ends, "reason": reason},
        )
    return locked, secret


def webhook_endpoint_set_enabled(
    *, actor: Principal, endpoint: WebhookEndpoint, enabled: bool, reason: str = ""
) -> WebhookEndpoint:
    """Disable (it stops receiving; pending deliveries wait) or re-enable (failure window reset, pending
    deliveries due now)."""
    if actor is not SYSTEM:
        _require_admin_of(actor, endpoint)
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookEndpoint.objects.select_for_update().get(pk=endpoint.pk)
        before = _state(locked)
        if enabled:
            if locked.disabled_at is None:
                return locked
            locked.disabled_at = None
            locked.disabled_reason = ""
            locked.failing_since = None
            Delivery.objects.filter(endpoint=locked, status=DeliveryStatus.PENDING).update(
                next_attempt_at=now
            )
        else:
            if locked.disabled_at is not None:
                return locked
            locked.disabled_at = now
            locked.disabled_reason = reason[:500]
        locked.save()
        audit_record(
            actor=actor,
            event_code=ENDPOINT_ENABLED if enabled else ENDPOINT_DISABLED,
            target=locked,
            before=before,
            after={**_state(locked), "reason": reason},
        )
    return locked


def webhook_test_ping(*, actor: Principal, endpoint: WebhookEndpoint, reason: str = "") -> Delivery:
    """Send a `webhook.test` event to this one endpoint, through the normal delivery path: a Delivery
    row (signed like any other, SSRF-guarded, retried with backoff, listed in the history) queued on
    commit. The ping names the endpoint and its organisation only, never a record. A disabled endpoint
    is refused (409): its deliveries would wait for a re-enable."""
    _require_admin_of(actor, endpoint)
    with transaction.atomic():
        locked = (
            WebhookEndpoint.objects.select_for_update().select_related("organization").get(pk=endpoint.pk)
        )
        if locked.disabled_at is not None:
            raise Conflict("Re-enable the webhook before sending it a test ping.", code="webhook_disabled")
        now = timezone.now()
        # The event has exactly one recipient, decided here, so there is nothing for the outbox handlers
        # to fan out: the row is the record of what was sent and is born dispatched.
        event = OutboxEvent.objects.create(
            topic=TEST_PING_TOPIC,
            subject_type=locked._meta.label_lower,
            subject_id=str(locked.pk),
            data={"requested_by": actor.label},
            dispatched_at=now,
            dispatch_attempts=1,
        )
        delivery = Delivery.objects.create(
            event=event,
            channel=Channel.WEBHOOK,
            endpoint=locked,
            payload={
                "type": TEST_PING_TOPIC,
                "timestamp": event.created_at.isoformat(),
                "data": {
                    "endpoint_id": str(locked.pk),
                    "organization": locked.organization.short_name,
                    "message": "Test ping from Redline: this endpoint receives signed deliveries.",
                },
            },
            next_attempt_at=now,
        )
        audit_record(
            actor=actor,
            event_code=ENDPOINT_TEST_PINGED,
            target=locked,
            after={"delivery_id": str(delivery.pk), "url": locked.url, "reason": reason},
        )
        delivery_id = str(delivery.pk)
        transaction.on_commit(lambda: _enqueue_delivery(delivery_id))
    return delivery


def _enqueue_delivery(delivery_id: str) -> None:
    """After commit: queue the send. A lost message is picked up by the retry sweep (the row is due)."""
    from coordination.tasks import send_delivery  # tasks import this module

    try:
        send_delivery.delay(delivery_id)
    except Exception:  # the retry sweep sends it; the ping already committed
        logger.warning("queueing delivery %s failed", delivery_id, exc_info=True)


def email_subscription_set(*, actor: Principal, subscriptions: list[str]) -> EmailSubscription:
    """The acting user's email topics (a user acts for one membership: its org's visibility applies)."""
    from accounts.selectors import membership_for_user

    if actor.user_id is None or actor.org_id is None:
        raise Forbidden("Email notifications are for organisation members.", code="not_a_member")
    membership = membership_for_user(user_id=actor.user_id, org_id=actor.org_id)
    if membership is None:
        raise Forbidden("Email notifications are for organisation members.", code="not_a_member")
    unknown = set(subscriptions) - set(Subscription.values)
    if unknown:
        raise ValidationFailed(f"Unknown subscriptions: {sorted(unknown)}.")
    subscription, _ = EmailSubscription.objects.update_or_create(
        membership=membership, defaults={"subscriptions": sorted(set(subscriptions))}
    )
    return subscription


# --- sending -------------------------------------------------------------------------------------------


def backoff_delay(attempt: int, *, rng: random.Random | None = None) -> timedelta:
    """How long to wait after the `attempt`-th failure: base * 2^(attempt-1), capped, with +-25% jitter
    (so a receiver coming back is not hit by every retry at once)."""
    base = settings.REDLINE_WEBHOOK_RETRY_BASE_SECONDS
    cap = settings.REDLINE_WEBHOOK_RETRY_MAX_SECONDS
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    jitter = (rng or random).uniform(0.75, 1.25)
    return timedelta(seconds=delay * jitter)


@dataclass(frozen=True)
class _Result:
    succeeded: bool
    status_code: int | None
    error: str
    duration_ms: int


def webhook_body(delivery: Delivery) -> bytes:
    """The exact bytes sent (and signed): compact, key order kept as rendered."""
    return json.dumps(delivery.payload, separators=(",", ":"), ensure_ascii=False).encode()


def webhook_headers(delivery: Delivery, *, body: bytes, now: datetime) -> dict[str, str]:
    """Standard Webhooks headers. `webhook-id` is the delivery id: the same for every retry of this event
    to this endpoint, which is what consumers dedupe on."""
    assert delivery.endpoint is not None
    live = (
        WebhookSecret.objects.filter(endpoint=delivery.endpoint)
        .exclude(expires_at__lte=now)
        .order_by("-created_at", "-id")
    )
    timestamp = int(now.timestamp())
    msg_id = f"msg_{delivery.pk.hex}"
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            secrets_=[s.secret for s in live], msg_id=msg_id, timestamp=timestamp, body=body
        ),
        "Content-Type": "application/json",
        "User-Agent": "Redline-Webhooks/1",
    }


def _post_webhook(delivery: Delivery, now: datetime) -> _Result:
    assert delivery.endpoint is not None
    body = webhook_body(delivery)
    headers = webhook_headers(delivery, body=body, now=now)
    try:
        result = safe_post(delivery.endpoint.url, body=body, headers=headers)
    except UnsafeWebhookUrl as error:
        return _Result(False, None, f"refused: {error}", 0)
    except Exception as error:  # timeouts, refused connections, TLS: recorded, retried
        return _Result(False, None, f"{type(error).__name__}: {error}"[:1000], 0)
    if 200 <= result.status < 300:
        return _Result(True, result.status, "", result.duration_ms)
    return _Result(False, result.status, f"HTTP {result.status}", result.duration_ms)


def email_render(delivery: Delivery) -> tuple[str, str]:
    """Subject and body of a notification email: only the stored (recipient-scoped) payload."""
    data = delivery.payload.get("data", {})
    subject = f"[Redline] {delivery.payload.get('type')} {data.get('public_id', '')}".strip()
    lines = [f"{key}: {value}" for key, value in data.items()]
    return subject, "\n".join([f"Event: {delivery.payload.get('type')}", *lines, ""])


def _send_email(delivery: Delivery) -> _Result:
    assert delivery.user is not None
    subject, body = email_render(delivery)
    try:
        EmailMessage(subject=subject, body=body, to=[delivery.user.email]).send(fail_silently=False)
    except Exception as error:  # SMTP down, refused: recorded, retried
        return _Result(False, None, f"{type(error).__name__}: {error}"[:1000], 0)
    return _Result(True, None, "", 0)


def delivery_send(*, delivery_id: UUID | str) -> Outcome:
    """Attempt one delivery if it is pending, due and not being sent elsewhere (see module docstring)."""
    with transaction.atomic():
        now = timezone.now()
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("endpoint", "user")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return "skipped"
        endpoint = delivery.endpoint
        if endpoint is not None and endpoint.disabled_at is not None:
            return "skipped"  # waits for a re-enable
        result = (
            _post_webhook(delivery, now) if delivery.channel == Channel.WEBHOOK else _send_email(delivery)
        )
        DeliveryAttempt.objects.create(
            delivery=delivery,
            attempted_at=now,
            succeeded=result.succeeded,
            status_code=result.status_code,
            error=result.error,
            duration_ms=result.duration_ms,
        )
        delivery.attempts += 1
        outcome: Outcome
        if result.succeeded:
            delivery.status = DeliveryStatus.DELIVERED
            delivery.delivered_at = timezone.now()
            delivery.next_attempt_at = None
            delivery.last_error = ""
            outcome = "delivered"
        else:
            delivery.last_error = result.error
            if delivery.attempts >= settings.REDLINE_WEBHOOK_MAX_ATTEMPTS:
                delivery.status = DeliveryStatus.FAILED
                delivery.next_attempt_at = None
                outcome = "failed"
            else:
                delivery.next_attempt_at = now + backoff_delay(delivery.attempts)
                outcome = "retry"
        delivery.save(update_fields=["status", "attempts", "delivered_at", "next_attempt_at", "last_error"])
        if endpoint is not None:
            _record_endpoint_health(endpoint.pk, succeeded=result.succeeded, now=now)
    if result.error:
        logger.info("delivery %s attempt %s failed: %s", delivery.pk, delivery.attempts, result.error)
    return outcome


def _record_endpoint_health(endpoint_id: UUID, *, succeeded: bool, now: datetime) -> None:
    """A success clears the failure run; a failure starts one, or disables the endpoint once the run is
    older than REDLINE_WEBHOOK_DISABLE_AFTER_HOURS."""
    if succeeded:
        WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=False).update(failing_since=None)
        return
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(failing_since=now)
    window = timedelta(hours=settings.REDLINE_WEBHOOK_DISABLE_AFTER_HOURS)
    endpoint = WebhookEndpoint.objects.filter(
        pk=endpoint_id, disabled_at__isnull=True, failing_since__lte=now - window
    ).first()
    if endpoint is not None:
        webhook_endpoint_set_enabled(
            actor=SYSTEM,
            endpoint=endpoint,
            enabled=False,
            reason=f"Every delivery failed for {settings.REDLINE_WEBHOOK_DISABLE_AFTER_HOURS} hours.",
        )


def deliveries_retry_due(*, limit: int = 200) -> dict[str, int]:
    """The retry sweep (beat): send every pending delivery whose next attempt is due (retries, and first
    attempts whose task was lost). Each is locked on its own, so parallel sweeps share the work."""
    counts: dict[str, int] = {}
    for delivery_id in selectors.due_delivery_ids(now=timezone.now(), limit=limit):
        try:
            outcome = delivery_send(delivery_id=delivery_id)
        except Exception:  # one bad row must not stop the sweep
            logger.exception("delivery %s failed unexpectedly", delivery_id)
            outcome = "retry"
        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


# --- TAXII 2.1 (issue 6): the collection index and the partner exchange ----------------------------------

# pg_advisory_xact_lock key serialising index writers ("taxiidx" in ASCII): see TaxiiObject.
TAXII_INDEX_LOCK = 0x7461786969647800
OBJECT_RECEIVED = "exchange.object_received"


def stix_index_incident(*, incident_id: Any) -> int:
    """(Re)index the STIX objects of one incident for TAXII: a row per object, moved to a new
    `date_added` when its version changed. Returns how many rows were added or moved.

    The objects are rendered as the system sees them (every object any reader might see); which of them a
    reader gets is decided again at read time. Writers take one transaction-scoped advisory lock and stamp
    after the newest row, so `date_added` grows in commit order (TaxiiObject explains why)."""
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [TAXII_INDEX_LOCK])
        incident = Incident.objects.select_related("owner_org", "scaffold").filter(pk=incident_id).first()
        if incident is None:
            return 0
        objects = incident_stix_objects(actor=SYSTEM, incident=incident)
        existing = {row.stix_id: row for row in TaxiiObject.objects.filter(incident=incident)}
        changed = [
            obj
            for obj in objects
            if obj["id"] not in existing or existing[obj["id"]].version != selectors.taxii_index_version(obj)
        ]
        if not changed:
            return 0
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT GREATEST(clock_timestamp(), "
                "(SELECT max(date_added) + interval '1 microsecond' FROM coordination_taxiiobject))"
            )
            base: datetime = cursor.fetchone()[0]
        for offset, obj in enumerate(changed):
            stamp = base + timedelta(microseconds=offset)
            version = selectors.taxii_index_version(obj)
            row = existing.get(obj["id"])
            if row is None:
                TaxiiObject.objects.create(
                    incident=incident,
                    stix_id=obj["id"],
                    stix_type=obj["type"],
                    version=version,
                    date_added=stamp,
                )
            else:
                TaxiiObject.objects.filter(pk=row.pk).update(version=version, date_added=stamp)
    return len(changed)


def stix_index_all(*, batch: int = 200) -> int:
    """Index every incident (a backfill after deployment, or a repair): idempotent, one incident per
    transaction. Returns how many rows were added or moved."""
    total = 0
    last: Any = None
    while True:
        ids = Incident.objects.order_by("pk")
        if last is not None:
            ids = ids.filter(pk__gt=last)
        chunk = list(ids.values_list("pk", flat=True)[:batch])
        if not chunk:
            return total
        for incident_id in chunk:
            total += stix_index_incident(incident_id=incident_id)
        last = chunk[-1]


def _detail(verdict: Verdict, message: str | None = None) -> dict[str, str]:
    return {"id": verdict.stix_id, "version": verdict.version, "message": message or verdict.message}


def _receive_incident(
    *, actor: Principal, status: TaxiiStatus, sender_identity: str, obj: dict[str, Any], verdict: Verdict
) -> str:
    """File one checked incident, with its provenance and audit event, in its own transaction (a failure
    rolls back everything of this object and nothing of the others). Returns the success message."""
    assert verdict.incident is not None and actor.org_id is not None
    fields, org_id = verdict.incident, actor.org_id
    with transaction.atomic():
        received = InboundObject.objects.filter(sender_org_id=actor.org_id, stix_id=verdict.stix_id)
        if received.filter(version=verdict.version).exists():
            raise Conflict(
                "Already received (this id and version); nothing changed.", code="already_received"
            )
        newest = received.order_by("-version").values_list("version", flat=True).first()
        if newest is not None and newest > verdict.version:
            raise Conflict(f"Older than the version already received ({newest}).", code="stale_version")
        receipt = partner_incident_receive(
            actor=actor,
            stix_id=verdict.stix_id,
            title=fields["title"],
            description=fields["description"],
            tlp=fields["tlp"],
            determination=fields["determination"],
            severity=fields["severity"],
        )
        inbound = InboundObject.objects.create(
            status=status,
            sender_org_id=org_id,
            stix_id=verdict.stix_id,
            stix_type="incident",
            version=verdict.version,
            received_at=timezone.now(),
            incident=receipt.incident,
            revision_number=receipt.revision.number,
            tlp=fields["tlp"],
            payload=obj,
        )
        audit_record(
            actor=actor,
            event_code=OBJECT_RECEIVED,
            target=inbound,
            after={
                "status": str(status.pk),
                "stix_id": verdict.stix_id,
                "version": verdict.version,
                "sender_identity": sender_identity,
                "incident": receipt.incident.public_id,
                "revision": receipt.revision.number,
                "created": receipt.created,
                "tlp": fields["tlp"],
            },
        )
    what = "filed as" if receipt.created else f"revision {receipt.revision.number} of"
    return f"Received: {what} {receipt.incident.public_id} (in the triage queue)."


def exchange_receive(
    *, actor: Principal, api_root: str, collection_id: str, envelope: dict[str, Any]
) -> TaxiiStatus:
    """A partner registry's POST to an inbound collection: every object checked and, if it is an incident
    that passes, filed as a report of the sending organisation (or a revision of the one an earlier
    version filed), each in its own transaction with an `exchange.object_received` audit event and the
    submission's outbox event (reviewers are told as for any report). Refused objects create nothing and
    are listed with the reason. Returns the (complete) status resource."""
    if not selectors.taxii_is_partner(actor) or actor.org_id is None:
        raise Forbidden(
            "Only a partner registry (an API key of a regulator or coordination body with the scope "
            "'exchange:write') writes to this collection.",
            code="not_partner",
        )
    objects = envelope.get("objects")
    if not isinstance(objects, list):
        raise ValidationFailed("A TAXII envelope needs an `objects` list.", code="not_an_envelope")
    sender_identity = stix_id("identity", actor.org_id)
    digest = hashlib.sha256(json.dumps(envelope, sort_keys=True).encode()).hexdigest()
    status = TaxiiStatus.objects.create(
        sender_org_id=actor.org_id,
        sender_label=actor.label,
        api_root=api_root,
        collection_id=collection_id,
        bundle_sha256=digest,
        request_timestamp=timezone.now(),
    )
    successes: list[dict[str, str]] = []
    failures: list[dict[str, str]] = []
    for obj in objects:
        verdict = check_object(obj, sender_identity=sender_identity)
        if not verdict.ok:
            failures.append(_detail(verdict))
            continue
        if verdict.incident is None:
            successes.append(_detail(verdict))
            continue
        try:
            message = _receive_incident(
                actor=actor, status=status, sender_identity=sender_identity, obj=obj, verdict=verdict
            )
        except DomainError as error:
            failures.append(_detail(verdict, error.detail))
            continue
        except IntegrityError:  # a concurrent POST of the same id and version got in first
            failures.append(_detail(verdict, "Already received (this id and version); nothing changed."))
            continue
        successes.append(_detail(verdict, message))
    TaxiiStatus.objects.filter(pk=status.pk).update(
        status=TaxiiStatusState.COMPLETE,
        total_count=len(objects),
        success_count=len(successes),
        failure_count=len(failures),
        pending_count=0,
        successes=successes,
        failures=failures,
        pendings=[],
    )
    status.refresh_from_db()
    return status
