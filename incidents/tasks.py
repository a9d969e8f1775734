"""Periodic incident work (thin: each task calls one service)."""

from __future__ import annotations

from celery import shared_task

from incidents.services import deadline_notices_send


@shared_task
def send_deadline_notices() -> dict[str, int]:
    """Reminders before and alerts after the deadline clocks (beat, every 5 minutes)."""
    counts = deadline_notices_send()
    return {"reminders": counts.reminders, "alerts": counts.alerts}
