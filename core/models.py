"""Core tables: the audit log, the outbox and idempotency records."""

from __future__ import annotations

import uuid

from django.db import models


class AuditEvent(models.Model):
    """One append-only audit row per state change, written in the same transaction as the change.

    `event_code` is a stable dotted code (`evaluation.created`, `api_key.revoked`); codes are never renamed.
    The actor is stored as plain values (core imports no app models) so the row outlives any account.
    A database trigger refuses DELETE and every UPDATE but one: the sealer setting a NULL `sequence` (and
    its `leaf_hash`) once (migrations 0002, 0003; core.sealing explains why numbering happens at sealing).
    """

    id = models.BigAutoField(primary_key=True)
    # The position in the Merkle log (0-based leaf index), gap-free; NULL until the event is sealed.
    sequence = models.BigIntegerField(null=True, blank=True, unique=True, editable=False)
    # Hex SHA-256 leaf hash (RFC 9162) computed at sealing; `audit_verify` recomputes it to name a changed
    # event. The checkpoint roots, not this column, are what make the log tamper-evident.
    leaf_hash = models.CharField(max_length=64, blank=True, editable=False)
    occurred_at = models.DateTimeField(auto_now_add=True, db_index=True)
    event_code = models.CharField(max_length=64, db_index=True)
    actor_kind = models.CharField(max_length=32)
    actor_label = models.CharField(max_length=200)
    actor_user_id = models.BigIntegerField(null=True, blank=True)
    actor_api_key_id = models.UUIDField(null=True, blank=True)
    actor_org_id = models.UUIDField(null=True, blank=True, db_index=True)
    actor_role = models.CharField(max_length=32, blank=True)
    target_type = models.CharField(max_length=64)
    target_id = models.CharField(max_length=64)
    target_public_id = models.CharField(max_length=32, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    request_id = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["target_type", "target_id", "occurred_at"], name="audit_target_idx")]

    def __str__(self) -> str:
        return f"{self.occurred_at:%Y-%m-%dT%H:%M:%S} {self.event_code} {self.target_type}:{self.target_id}"


class AuditCheckpoint(models.Model):
    """A signed tree head: the first `tree_size` sealed audit events hash to `root_hash` (RFC 9162 MTH).

    `signature` is Ed25519 (base64) over the note of core.sealing.checkpoint_note, by the key named
    `key_id`; the key lives in the environment or a file, never here, so rewriting this table cannot
    forge a checkpoint. Regulators keep copies; a trigger refuses UPDATE and DELETE.
    """

    id = models.BigAutoField(primary_key=True)
    tree_size = models.BigIntegerField(unique=True)
    root_hash = models.CharField(max_length=64)
    signed_at = models.DateTimeField()
    signature = models.CharField(max_length=128)
    key_id = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=models.Q(tree_size__gt=0), name="checkpoint_size_gt_0")
        ]

    def __str__(self) -> str:
        return f"checkpoint {self.tree_size} {self.root_hash[:16]}"


class OutboxEvent(models.Model):
    """Something that happened and must be told (DESIGN 2, 7): written by a service in the same
    transaction as the change, so the event exists exactly when the change does.

    `data` holds the facts of the event (ids, action, states, stage), never a rendered payload: each
    channel builds its payload per recipient, with what that recipient may see. `dispatched_at` is set once
    the registered handlers (REDLINE_OUTBOX_HANDLERS) have turned the event into deliveries; until then the
    sweeper keeps handing it to them. Rows are kept (the record of what was announced) and never updated
    but for the dispatch bookkeeping.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    topic = models.CharField(max_length=64, db_index=True)
    subject_type = models.CharField(max_length=64)
    subject_id = models.CharField(max_length=64)
    subject_public_id = models.CharField(max_length=32, blank=True)
    data = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatch_attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        indexes = [
            models.Index(
                fields=["created_at"],
                name="outbox_undispatched_idx",
                condition=models.Q(dispatched_at__isnull=True),
            ),
            models.Index(fields=["subject_type", "subject_id", "created_at"], name="outbox_subject_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.topic} {self.subject_type}:{self.subject_public_id or self.subject_id}"


class IdempotencyRecord(models.Model):
    """The stored first response to a POST sent with an Idempotency-Key (DESIGN 6).

    Written in the same transaction as the write it answers for, so either both exist or neither does;
    a request in flight holds a transaction-scoped advisory lock on (scope, key).
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    scope = models.CharField(max_length=80)
    key = models.CharField(max_length=255)
    method = models.CharField(max_length=8)
    path = models.CharField(max_length=500)
    fingerprint = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_body = models.JSONField(null=True)
    response_headers = models.JSONField(default=dict)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_uniq")]

    def __str__(self) -> str:
        return f"{self.scope} {self.key} -> {self.response_status}"


class SharedRecord(models.Model):
    """The envelope every shareable record carries (DESIGN 3): ids, schema version, timestamps, TLP,
    external references and aliases. Concrete models add `owner_org`. Records are never deleted."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    public_id = models.CharField(max_length=32, unique=True, editable=False)
    schema_version = models.CharField(max_length=8, default="1.0")
    created_at = models.DateTimeField(auto_now_add=True)
    modified_at = models.DateTimeField(auto_now=True)
    tlp = models.CharField(max_length=16, default="clear")
    # [{"source_name", "external_id", "url", "description"}]
    external_references = models.JSONField(default=list, blank=True)
    # [{"database": "aiid" | "oecd_aim" | "avid" | "atlas", "id", "url"}]
    aliases = models.JSONField(default=list, blank=True)

    class Meta:
        abstract = True
