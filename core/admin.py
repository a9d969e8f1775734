"""The audit log in the admin: read-only (the table is append-only in the database too)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from core.models import AuditEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written only by services: the admin shows them and never changes them."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ("occurred_at", "event_code", "actor_label", "target_type", "target_public_id")
    list_filter = ("event_code", "target_type")
    search_fields = ("target_public_id", "target_id", "actor_label", "request_id")
