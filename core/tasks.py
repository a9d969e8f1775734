"""Periodic housekeeping of the core tables (thin: each task calls one function)."""

from __future__ import annotations

from celery import shared_task

from core.idempotency import idempotency_purge_expired


@shared_task
def purge_idempotency_records() -> int:
    """Forget Idempotency-Keys older than REDLINE_IDEMPOTENCY_TTL_HOURS."""
    return idempotency_purge_expired()
