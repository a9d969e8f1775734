"""The audit log FilterSet (`GET /api/v1/audit/`): which events, not whose (selectors scope by caller),
and the `modified_after` filter every list shares (the sync API)."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import django_filters as df
from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import QueryDict
from django_filters.filters import QuerySetRequestMixin
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field

from core.models import AuditCheckpoint, AuditEvent
from core.sync import sync_horizon

# RFC 3339 (the ISO 8601 profile the API writes): a date, a time, and an explicit offset. A date alone or a
# time without an offset would be read in some server timezone: a mirror must not depend on one.
_RFC3339 = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(?::[0-9]{2}(?:\.[0-9]{1,6})?)?"
    r"(?:[Zz]|[+-][0-9]{2}:[0-9]{2})"
)
MODIFIED_AFTER_HELP = (
    "Sync: only records changed after this time (RFC 3339 with an offset, e.g. `2026-01-05T10:00:00Z`; "
    "URL-encode a `+`). Pages then run oldest first by (`modified_at`, id), and only records stamped "
    "before the sync horizon (every earlier write committed) are served, so a mirror that follows `next` "
    "to the end and next time asks `modified_after=<the largest modified_at it saw>` sees every change "
    "exactly once, with no gap."
)


class StrictDateTimeField(forms.Field):
    """A timestamp with an explicit offset; anything else (a date, a naive time, `yesterday`) is a 400."""

    def to_python(self, value: Any) -> datetime | None:
        if value in (None, ""):
            return None
        text = str(value)
        if not _RFC3339.fullmatch(text):
            raise ValidationError(
                "Must be an RFC 3339 timestamp with an offset, e.g. 2026-01-05T10:00:00Z.", code="invalid"
            )
        try:
            return as_utc(datetime.fromisoformat(text.upper()))
        except ValueError as exc:  # 2025-02-30, 25:00
            raise ValidationError("Not a valid date and time.", code="invalid") from exc


_PG_MAX_OFFSET = timedelta(hours=15, minutes=59)


def as_utc(value: datetime) -> datetime:
    """The same instant with an offset PostgreSQL takes. Python accepts offsets up to 23:59 but PostgreSQL
    only up to 15:59 (a query with `+17:32` failed in the database: found by schemathesis), so such an
    instant is moved to UTC; if that leaves the calendar (year 1 minus an offset) it is a ValueError, so a
    400 for the caller. Other offsets are kept (9999-12-31T23:59:59-14:00 is valid and has no UTC form)."""
    offset = value.utcoffset()
    if offset is None or abs(offset) <= _PG_MAX_OFFSET:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ValueError(str(exc)) from exc


class UtcIsoDateTimeField(df.fields.IsoDateTimeField):
    """django-filter's ISO 8601 field, with an offset PostgreSQL takes (see `as_utc`)."""

    def to_python(self, value: Any) -> datetime | None:
        parsed: datetime | None = super().to_python(value)
        if parsed is None:
            return None
        try:
            return as_utc(parsed)
        except ValueError as exc:
            raise ValidationError("Not a valid date and time.", code="invalid") from exc


class UtcIsoDateTimeFilter(df.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


@extend_schema_field(OpenApiTypes.DATETIME)
class ModifiedAfterFilter(df.Filter):
    """`modified_after`: rows changed after the time, held to the sync horizon (core.sync). The keyset
    paginator orders a request carrying it oldest first (core.api.pagination)."""

    field_class = StrictDateTimeField

    def __init__(self, field_name: str = "modified_at", **kwargs: Any) -> None:
        kwargs.setdefault("help_text", MODIFIED_AFTER_HELP)
        super().__init__(field_name=field_name, lookup_expr="gt", **kwargs)

    def filter(self, qs: QuerySet[Any], value: datetime | None) -> QuerySet[Any]:
        if value is None:
            return qs
        return qs.filter(**{f"{self.field_name}__gt": value, f"{self.field_name}__lt": sync_horizon()})


class FilterSet(df.FilterSet):
    """django-filter's FilterSet without its per-request rebuilding (a list request is a few milliseconds;
    django-filter spent one of them deep-copying the declared filters and two building a form class).

    Each request gets shallow copies of the declared filters (a filter's state is its `parent` and
    `model`, set here, and its method binding, renewed here), and the form class is built once per
    FilterSet class, when none of its fields depends on the request (a queryset taken from the request).
    The form instance is still Django's own (its fields are copied per form: pages may restyle them)."""

    def __init__(
        self,
        data: Any = None,
        queryset: QuerySet[Any] | None = None,
        *,
        request: Any = None,
        prefix: str | None = None,
    ) -> None:
        if queryset is None:
            queryset = self._meta.model._default_manager.all()
        model = queryset.model
        self.is_bound = data is not None
        self.data = data or QueryDict()
        self.queryset = queryset
        self.request = request
        self.form_prefix = prefix
        self.filters = copy.copy(self.base_filters)
        for name, declared in self.base_filters.items():
            filter_ = copy.copy(declared)
            filter_.model = model
            filter_.parent = self
            if filter_.method is not None:
                filter_.method = filter_.method  # a FilterMethod of this copy, not of the declared filter
            self.filters[name] = filter_

    def get_form_class(self) -> type[forms.Form]:
        # Per class and model (a filter's default label names the model's field).
        shared: dict[Any, type[forms.Form]] | None = type(self).__dict__.get("_shared_form_classes")
        if shared is None:
            shared = {}
            type(self)._shared_form_classes = shared
        form_class = shared.get(self.queryset.model)
        if form_class is None:
            form_class = super().get_form_class()
            form_class.base_fields = _FormFields(form_class.base_fields)
            if not any(isinstance(f, QuerySetRequestMixin) for f in self.filters.values()):
                shared[self.queryset.model] = form_class
        return form_class


class _FormFields(dict[str, forms.Field]):
    """A filter form's `base_fields`, which each form instance deep-copies (BaseForm.__init__), as Django
    does, except for the choice lists, copied one level deep: their (value, label) pairs are immutable,
    and a page that changes a field's choices assigns a new list. Deep-copying every pair of every choice
    filter was most of the cost of a filter form."""

    def __deepcopy__(self, memo: dict[int, Any]) -> dict[str, forms.Field]:
        copies = {}
        for name, field in self.items():
            choices = getattr(field, "_choices", None)
            # A plain list, or django-filter's ChoiceIterator around one (itself still deep-copied: it
            # points back at its field).
            listed = getattr(choices, "choices", choices)
            if isinstance(listed, list):
                memo[id(listed)] = list(listed)
            copies[name] = copy.deepcopy(field, memo)
        return copies


class AuditEventFilter(df.FilterSet):
    event_code = df.CharFilter(max_length=64, help_text="A stable event code, e.g. `incident.submitted`.")
    target_public_id = df.CharFilter(
        max_length=32, help_text="The target's public id, e.g. `SRI-2026-000001`."
    )
    occurred_after = UtcIsoDateTimeFilter(
        field_name="occurred_at", lookup_expr="gt", help_text="Only events after this time."
    )
    # Audit events never change: their sync time is when they occurred.
    modified_after = ModifiedAfterFilter(
        field_name="occurred_at",
        help_text="Sync: events recorded after this time, oldest first (see `modified_after` on the lists).",
    )

    class Meta:
        model = AuditEvent
        fields: list[str] = []


class AuditCheckpointFilter(df.FilterSet):
    """`GET /api/v1/audit/checkpoints`: checkpoints are never changed, so their sync time is `signed_at`."""

    modified_after = ModifiedAfterFilter(
        field_name="signed_at",
        help_text="Sync: checkpoints signed after this time, oldest first (see `modified_after` on lists).",
    )

    class Meta:
        model = AuditCheckpoint
        fields: list[str] = []
