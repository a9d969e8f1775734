"""Deliveries are appended, never modified: they page by creation time."""

from core.api.pagination import KeysetCursorPagination


class DeliveryCursorPagination(KeysetCursorPagination):
    sort_field = "created_at"
    orderings = ("-created_at", "created_at")
    ordering_description = "`-created_at` (newest first, default) or `created_at`."
