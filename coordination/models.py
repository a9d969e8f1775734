"""Notification channels fed by the outbox (DESIGN 7): webhook endpoints with their signing secrets,
per-user email subscriptions, and the delivery rows that double as the sending queue."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.db import models
from django.db.models import Q

from accounts.models import Membership, Organization
from core.models import OutboxEvent


class Subscription(models.TextChoices):
    """What a subscriber asks to be told about (always narrowed to what it may see)."""

    NEW_IN_JURISDICTION = "new_in_jurisdiction", "New incidents in my organisation's jurisdictions"
    OWN_REPORTS = "own_reports", "Changes to my organisation's reports"
    DEADLINES = "deadlines", "Deadline reminders and overdue alerts"


class WebhookEndpoint(models.Model):
    """An organisation's HTTPS receiver. `failing_since` is the start of the current unbroken run of
    failed attempts; when it is older than REDLINE_WEBHOOK_DISABLE_AFTER_HOURS the endpoint is disabled
    (`disabled_at`) and stops receiving until an admin re-enables it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="webhook_endpoints")
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    subscriptions = ArrayField(models.CharField(max_length=32, choices=Subscription.choices), default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    modified_at = models.DateTimeField(auto_now=True, db_index=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    disabled_reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["organization", "created_at"], name="webhook_org_idx")]

    def __str__(self) -> str:
        return f"{self.organization_id}: {self.url}"

    @property
    def is_active(self) -> bool:
        return self.disabled_at is None


class WebhookSecret(models.Model):
    """A signing secret (`whsec_<base64>`). It must be usable to sign, so it cannot be hashed: it is only
    ever read by the signer, never serialized, logged or replayed. A rotation adds a new secret and sets
    `expires_at` on the old one; until then both sign (space-separated signatures)."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="secrets")
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"secret of {self.endpoint_id} from {self.created_at:%Y-%m-%d}"  # never the secret itself


class EmailSubscription(models.Model):
    """Which topics a member wants by email. The email carries what that membership may see."""

    membership = models.OneToOneField(Membership, on_delete=models.CASCADE, related_name="email_subscription")
    subscriptions = ArrayField(models.CharField(max_length=32, choices=Subscription.choices), default=list)
    modified_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"email for membership {self.membership_id}"


class Channel(models.TextChoices):
    WEBHOOK = "webhook", "Webhook"
    EMAIL = "email", "Email"


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    DELIVERED = "delivered", "Delivered"
    FAILED = "failed", "Failed (attempts exhausted)"


class Delivery(models.Model):
    """One event for one recipient: unique per (event, endpoint) and (event, user), so a re-dispatched
    event never sends twice. The payload is rendered at fan-out with the recipient's visibility and kept,
    so every retry sends the same body under the same `webhook-id` (this row's id). The row is the queue:
    `next_attempt_at` holds the backoff, the retry sweep reads it."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    event = models.ForeignKey(OutboxEvent, on_delete=models.PROTECT, related_name="+")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    endpoint = models.ForeignKey(
        WebhookEndpoint, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=1000, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["event", "endpoint"],
                condition=Q(endpoint__isnull=False),
                name="delivery_event_endpoint_uniq",
            ),
            models.UniqueConstraint(
                fields=["event", "user"], condition=Q(user__isnull=False), name="delivery_event_user_uniq"
            ),
            models.CheckConstraint(
                condition=(Q(channel="webhook", endpoint__isnull=False, user__isnull=True))
                | Q(channel="email", endpoint__isnull=True, user__isnull=False),
                name="delivery_one_recipient",
            ),
            models.CheckConstraint(
                condition=Q(status__in=DeliveryStatus.values), name="delivery_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["next_attempt_at"], name="delivery_due_idx", condition=Q(status="pending")),
            models.Index(fields=["endpoint", "created_at"], name="delivery_endpoint_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} {self.pk} ({self.status})"


class DeliveryAttempt(models.Model):
    """One try at sending a delivery: what came back, or why it failed."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempt_log")
    attempted_at = models.DateTimeField()
    succeeded = models.BooleanField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    error = models.CharField(max_length=1000, blank=True)
    duration_ms = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["attempted_at", "id"]

    def __str__(self) -> str:
        return f"attempt of {self.delivery_id}: {self.status_code or self.error}"


# --- TAXII 2.1 (issue 6): the collection index, inbound status resources and received objects -------------


class TaxiiObject(models.Model):
    """One STIX object of one incident in the TAXII read collections: the index, never the content.

    Filled by the outbox handler (coordination.taxii.handlers) whenever an incident event is dispatched:
    one row per (incident, STIX id); a new `version` of the object moves the row to a new `date_added`
    (TAXII: the object was added again), an unchanged one leaves it where it is. The content is never
    stored: a read regenerates it with coordination.stix for the caller, through the incident selectors,
    so visibility is decided at read time, never from this row.

    `date_added` is strictly increasing in commit order: writers hold one transaction-scoped advisory lock
    and stamp max(now, last + 1 microsecond), so a reader always sees a prefix of the index (no later
    commit lands behind an `added_after` or `next` it has already passed) and no two rows share a stamp."""

    id = models.BigAutoField(primary_key=True)
    incident = models.ForeignKey("incidents.Incident", on_delete=models.CASCADE, related_name="+")
    stix_id = models.CharField(max_length=100)
    stix_type = models.CharField(max_length=40)
    version = models.CharField(max_length=32, help_text="The object's `modified` (or `created`), as served.")
    date_added = models.DateTimeField(unique=True)

    class Meta:
        ordering = ["date_added", "id"]
        constraints = [
            models.UniqueConstraint(fields=["incident", "stix_id"], name="taxii_object_incident_stix_uniq")
        ]
        indexes = [
            models.Index(fields=["stix_id", "date_added"], name="taxii_object_stix_idx"),
            models.Index(fields=["stix_type", "date_added"], name="taxii_object_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.stix_id} @ {self.date_added:%Y-%m-%dT%H:%M:%S.%f}"


class TaxiiStatusState(models.TextChoices):
    PENDING = "pending", "Pending"
    COMPLETE = "complete", "Complete"


class TaxiiStatus(models.Model):
    """The TAXII 2.1 status resource of one POST to an inbound collection. Bundles are processed inside
    the request, so a status is `complete` when it is first returned; it is kept for the sender to read
    again (GET .../status/<id>/, the sending organisation only). `successes` / `failures` / `pendings` are
    lists of {id, version, message} (TAXII status-details)."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    sender_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    sender_label = models.CharField(max_length=200)
    api_root = models.CharField(max_length=80, help_text="'default' or the sharing community's slug.")
    collection_id = models.UUIDField()
    bundle_sha256 = models.CharField(max_length=64)
    request_timestamp = models.DateTimeField()
    status = models.CharField(
        max_length=16, choices=TaxiiStatusState.choices, default=TaxiiStatusState.PENDING
    )
    total_count = models.PositiveIntegerField(default=0)
    success_count = models.PositiveIntegerField(default=0)
    failure_count = models.PositiveIntegerField(default=0)
    pending_count = models.PositiveIntegerField(default=0)
    successes = models.JSONField(default=list, blank=True)
    failures = models.JSONField(default=list, blank=True)
    pendings = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-request_timestamp", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(status__in=TaxiiStatusState.values), name="taxii_status_state_valid"
            ),
            models.CheckConstraint(
                condition=Q(
                    total_count=models.F("success_count")
                    + models.F("failure_count")
                    + models.F("pending_count")
                ),
                name="taxii_status_counts_add_up",
            ),
        ]

    def __str__(self) -> str:
        return f"status {self.pk} ({self.status}: {self.success_count}/{self.total_count})"


class InboundObject(models.Model):
    """Provenance of one STIX object a partner registry pushed and Redline accepted: who sent it (the
    sending organisation and its key's label), in which POST (`status`), the object's id and version, when,
    and the incident it filed or revised. Unique per (sender, id, version): a replay is refused, never
    merged. The received object is kept as sent."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    status = models.ForeignKey(TaxiiStatus, on_delete=models.PROTECT, related_name="inbound_objects")
    sender_org = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="+")
    stix_id = models.CharField(max_length=100)
    stix_type = models.CharField(max_length=40)
    version = models.CharField(max_length=32)
    received_at = models.DateTimeField()
    incident = models.ForeignKey(
        "incidents.Incident", on_delete=models.PROTECT, related_name="inbound_objects"
    )
    revision_number = models.PositiveIntegerField()
    tlp = models.CharField(max_length=16)
    payload = models.JSONField()

    class Meta:
        ordering = ["received_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sender_org", "stix_id", "version"], name="inbound_object_sender_version_uniq"
            )
        ]

    def __str__(self) -> str:
        return f"{self.stix_id} v{self.version} from {self.sender_org_id}"
