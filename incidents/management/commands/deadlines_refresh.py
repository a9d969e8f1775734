"""Recompute every report's deadline clocks: after upgrading to the release that added them, or after
changing REDLINE_TRIAGE_SLA_WORKING_DAYS / REDLINE_TRIAGE_SLA_SEVERITIES (stored due times do not follow
a settings change by themselves)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction

from incidents.models import Incident
from incidents.services import incident_refresh_deadlines


class Command(BaseCommand):
    help = "Recompute and store the deadline clocks of every incident (idempotent)."

    def handle(self, *args: Any, **options: Any) -> None:
        count = 0
        for pk in Incident.objects.order_by("pk").values_list("pk", flat=True).iterator():
            # One short transaction per report, its row locked like any write that moves a clock.
            with transaction.atomic():
                incident = Incident.objects.select_for_update().get(pk=pk)
                incident_refresh_deadlines(incident=incident)
            count += 1
        self.stdout.write(f"refreshed the deadlines of {count} incidents")
