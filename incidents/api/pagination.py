"""The incident list's pages: the core keyset pagination, plus the deadline queue's order."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.request import Request
from rest_framework.views import APIView

from core.api.pagination import KeysetCursorPagination


class IncidentCursorPagination(KeysetCursorPagination):
    """`ordering=next_due_at` walks the reports with an open deadline clock, the soonest (or most
    overdue) first, keyset on (next_due_at, id) like every other order; reports without an open clock
    are not in that order at all (a NULL has no place in a keyset)."""

    orderings = ("-modified_at", "modified_at", "next_due_at")  # type: ignore[assignment]
    ordering_description = (
        "`-modified_at` (newest first, default), `modified_at` (oldest first, for sync) or `next_due_at` "
        "(the deadline queue: only reports with a deadline not met, the earliest due first)."
    )

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        # One paginator instance per request: choosing the sort field here is request-local.
        if self._ordering(request) == "next_due_at":
            self.sort_field = "next_due_at"
            queryset = queryset.filter(next_due_at__isnull=False)
        return super().paginate_queryset(queryset, request, view)
