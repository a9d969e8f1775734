"""Periodic housekeeping of the core tables (thin: each task calls one function)."""

from __future__ import annotations

from celery import shared_task

from core.idempotency import idempotency_purge_expired
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
