from django.apps import AppConfig
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class IncidentsConfig(AppConfig):
    """Self-replication incident reports (issue 3) and their triage (issue 4)."""

    name = "incidents"

    def ready(self) -> None:
        # A misspelt severity would silently switch the triage clock off: fail at start-up instead.
        from incidents.models import Severity

        unknown = set(settings.REDLINE_TRIAGE_SLA_SEVERITIES) - set(Severity.values)
        if unknown:
            raise ImproperlyConfigured(
                f"REDLINE_TRIAGE_SLA_SEVERITIES: unknown severities {sorted(unknown)}; "
                f"use {', '.join(Severity.values)}."
            )
        if settings.REDLINE_TRIAGE_SLA_WORKING_DAYS < 1 or settings.REDLINE_DEADLINE_REMINDER_LEAD_HOURS < 0:
            raise ImproperlyConfigured(
                "REDLINE_TRIAGE_SLA_WORKING_DAYS must be at least 1 and "
                "REDLINE_DEADLINE_REMINDER_LEAD_HOURS at least 0."
            )
