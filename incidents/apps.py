from django.apps import AppConfig


class IncidentsConfig(AppConfig):
    """Self-replication incident reports (issue 3) and their triage (issue 4)."""

    name = "incidents"
