"""Keyset cursor pagination: a stable order over (sort key, id), no COUNT(*), deep pages as cheap as page 1.

The cursor is an opaque base64 token holding the last row's sort value and id. Ordering is either the view's
default (newest first) or `ordering=modified_at` (oldest first). A request with `modified_after` (a sync
read, core.sync) always pages oldest first. Ties on the sort key are broken by the primary key, so no row
is skipped or repeated across pages even when many rows share a timestamp.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from django.db.models import Q, QuerySet
from django.utils.dateparse import parse_datetime
from rest_framework.pagination import BasePagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.errors import ValidationFailed

DEFAULT_LIMIT = 50
SYNC_PARAM = "modified_after"
MAX_LIMIT = 200
_LIMIT_RE = re.compile(r"[0-9]{1,4}")


class KeysetCursorPagination(BasePagination):
    """`?limit=` (1-200, default 50) and `?cursor=`; `?ordering=modified_at|-modified_at`."""

    sort_field = "modified_at"
    orderings = ("-modified_at", "modified_at")
    ordering_description = "`-modified_at` (newest first, default) or `modified_at` (oldest first, for sync)."

    def _limit(self, request: Request) -> int:
        raw = request.query_params.get("limit")
        if raw is None:
            return DEFAULT_LIMIT
        # Not str.isdigit(): it accepts '²' (which int() refuses) and 5000-digit numbers.
        if not _LIMIT_RE.fullmatch(raw) or not 1 <= int(raw) <= MAX_LIMIT:
            raise ValidationFailed(f"limit must be an integer from 1 to {MAX_LIMIT}.", code="invalid_limit")
        return int(raw)

    def _ordering(self, request: Request) -> str:
        if request.query_params.get(SYNC_PARAM):
            # A sync read (core.filters.ModifiedAfterFilter) pages oldest first on the sort key: a row
            # changed while the partner pages moves past the cursor, to a later page, never behind it.
            ascending = self.sort_field
            ordering = request.query_params.get("ordering", ascending)
            if ordering != ascending:
                raise ValidationFailed(
                    f"With {SYNC_PARAM}, pages run oldest first: ordering={ascending} or none.",
                    code="invalid_ordering",
                )
            return ordering
        ordering = request.query_params.get("ordering", self.orderings[0])
        if ordering not in self.orderings:
            raise ValidationFailed(
                f"ordering must be one of {', '.join(self.orderings)}.", code="invalid_ordering"
            )
        return ordering

    @staticmethod
    def encode_cursor(value: datetime, pk: Any) -> str:
        raw = json.dumps([value.isoformat(), str(pk)]).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @staticmethod
    def parse_pk(raw: str) -> str:
        """A cursor's primary key, validated and normalised (UUID keys; subclasses for other kinds)."""
        return str(uuid.UUID(raw))

    @classmethod
    def decode_cursor(cls, token: str) -> tuple[datetime, str]:
        try:
            if len(token) > 200:
                raise ValueError
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            stamp, pk = json.loads(raw)
            value = parse_datetime(stamp)
            # encode_cursor always writes an offset: a naive time is a forged cursor.
            if value is None or value.tzinfo is None or not isinstance(pk, str):
                raise ValueError
            pk = cls.parse_pk(pk)
        except (ValueError, TypeError, AttributeError, binascii.Error, UnicodeDecodeError) as exc:
            raise ValidationFailed("The cursor is not valid.", code="invalid_cursor") from exc
        return value, pk

    def paginate_queryset(
        self, queryset: QuerySet[Any], request: Request, view: APIView | None = None
    ) -> list[Any]:
        self.request = request
        self.limit = self._limit(request)
        self.ordering = self._ordering(request)
        descending = self.ordering.startswith("-")
        field = self.sort_field
        cursor = request.query_params.get("cursor")
        if cursor:
            value, pk = self.decode_cursor(cursor)
            # The redundant `<=` / `>=` bound is what lets PostgreSQL start the index scan at the cursor: with
            # the OR alone it walks (and throws away) every row of the earlier pages, so page 500 cost 300x
            # page 1 at 1M rows.
            if descending:
                queryset = queryset.filter(
                    Q(**{f"{field}__lte": value}),
                    Q(**{f"{field}__lt": value}) | Q(**{field: value, "pk__lt": pk}),
                )
            else:
                queryset = queryset.filter(
                    Q(**{f"{field}__gte": value}),
                    Q(**{f"{field}__gt": value}) | Q(**{field: value, "pk__gt": pk}),
                )
        order = (f"-{field}", "-pk") if descending else (field, "pk")
        rows = list(queryset.order_by(*order)[: self.limit + 1])
        self.has_next = len(rows) > self.limit
        self.page = rows[: self.limit]
        return self.page

    def _row_key(self, row: Any) -> tuple[datetime, Any]:
        if isinstance(row, dict):
            return row[self.sort_field], row["pk"] if "pk" in row else row["id"]
        return getattr(row, self.sort_field), row.pk

    def get_next_link(self) -> str | None:
        if not self.has_next or not self.page:
            return None
        value, pk = self._row_key(self.page[-1])
        params = {k: v for k, v in self.request.query_params.items() if k != "cursor"}
        params["cursor"] = self.encode_cursor(value, pk)
        return self.request.build_absolute_uri(self.request.path) + "?" + urlencode(params)

    def get_paginated_response(self, data: Any) -> Response:
        return Response(OrderedDict([("next", self.get_next_link()), ("results", data)]))

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        return {
            "type": "object",
            "required": ["next", "results"],
            "properties": {
                "next": {
                    "type": ["string", "null"],
                    "format": "uri",
                    "description": "URL of the next page, or null on the last page.",
                },
                "results": schema,
            },
        }

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {
                "name": "cursor",
                "required": False,
                "in": "query",
                "description": "Opaque cursor from a previous page's `next`.",
                "schema": {"type": "string"},
            },
            {
                "name": "limit",
                "required": False,
                "in": "query",
                "description": f"Page size, 1 to {MAX_LIMIT} (default {DEFAULT_LIMIT}).",
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT},
            },
            {
                "name": "ordering",
                "required": False,
                "in": "query",
                "description": self.ordering_description,
                "schema": {"type": "string", "enum": list(self.orderings)},
            },
        ]


_BIGINT_RE = re.compile(r"[0-9]{1,19}")


class AuditCursorPagination(KeysetCursorPagination):
    """The audit log: keyset on (occurred_at, id) with bigint ids, newest first by default."""

    sort_field = "occurred_at"
    orderings = ("-occurred_at", "occurred_at")
    ordering_description = "`-occurred_at` (newest first, default) or `occurred_at` (oldest first)."

    @staticmethod
    def parse_pk(raw: str) -> str:
        if not _BIGINT_RE.fullmatch(raw) or int(raw) >= 2**63:
            raise ValueError(raw)
        return raw


class CreatedCursorPagination(KeysetCursorPagination):
    """Append-only child records (comments): keyset on (created_at, id), oldest first by default."""

    sort_field = "created_at"
    orderings = ("created_at", "-created_at")
    ordering_description = "`created_at` (oldest first, default) or `-created_at` (newest first)."


class CheckpointCursorPagination(AuditCursorPagination):
    """Audit checkpoints: keyset on (signed_at, id), newest first by default."""

    sort_field = "signed_at"
    orderings = ("-signed_at", "signed_at")
    ordering_description = "`-signed_at` (newest first, default) or `signed_at` (oldest first)."
