"""The audit log FilterSet (`GET /api/v1/audit/`): which events, not whose (selectors scope by caller)."""

from __future__ import annotations

import django_filters as df

from core.models import AuditEvent


class AuditEventFilter(df.FilterSet):
    event_code = df.CharFilter(max_length=64, help_text="A stable event code, e.g. `incident.submitted`.")
    target_public_id = df.CharFilter(
        max_length=32, help_text="The target's public id, e.g. `SRI-2026-000001`."
    )
    occurred_after = df.IsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gt", help_text="Only events after this time."
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []
