"""Notification tasks (thin: they take ids and call a service)."""

from __future__ import annotations

from celery import shared_task

from coordination.services import deliveries_retry_due, delivery_send


@shared_task
def send_delivery(delivery_id: str) -> str:
    """Send one delivery (queued on commit by the fan-out; safe to run twice: the row is locked)."""
    return delivery_send(delivery_id=delivery_id)


@shared_task
def retry_due_deliveries() -> dict[str, int]:
    """Beat: send deliveries whose backoff has run out, and those whose task was lost."""
    return deliveries_retry_due()
