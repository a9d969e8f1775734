"""Periodic housekeeping of the core tables (thin: each task calls one function)."""

from __future__ import annotations

from celery import shared_task

from core.idempotency import idempotency_purge_expired
from core.outbox import outbox_dispatch_or_record, outbox_sweep
from core.sealing import audit_seal


@shared_task
def purge_idempotency_records() -> int:
    """Forget Idempotency-Keys older than REDLINE_IDEMPOTENCY_TTL_HOURS."""
    return idempotency_purge_expired()


@shared_task
def seal_audit_log() -> int | None:
    """Seal new audit events into a signed checkpoint; returns its tree size (None if nothing was new)."""
    checkpoint = audit_seal()
    return checkpoint.tree_size if checkpoint is not None else None


@shared_task
def dispatch_outbox_event(event_id: str) -> bool:
    """Hand one outbox event to its handlers (queued on commit by core.outbox.outbox_emit)."""
    return outbox_dispatch_or_record(event_id)


@shared_task
def sweep_outbox() -> int:
    """Dispatch outbox events whose on-commit hand-over was lost."""
    return outbox_sweep()
