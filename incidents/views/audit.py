"""The audit log viewer and its signed checkpoints, for the readers `incidents.selectors.audit_event_list`
allows (reviewers and regulators of oversight bodies, platform admins); everyone else gets a 404.

Filters narrow what the selector returns (they never widen it); pages are keyset pages over
(occurred_at, id), newest first, as the API's. Each sealed event links to its inclusion proof in the API."""

from __future__ import annotations

import base64
from datetime import datetime, time, timedelta
from typing import Any
from urllib.parse import urlencode

import django_filters as df
from django import forms
from django.contrib.auth.decorators import login_required
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path
from django.utils import timezone
from rest_framework.request import Request

from accounts.models import Organization
from accounts.selectors import organization_list
from core.actors import Principal, web_principal
from core.api.pagination import AuditCursorPagination, CheckpointCursorPagination
from core.errors import Forbidden, NotFound
from core.filters import AuditEventFilter
from core.models import AuditCheckpoint, AuditEvent
from core.sealing import CHECKPOINT_ORIGIN, checkpoint_note
from core.signing import audit_signing_key, key_id_of, public_key_bytes
from incidents import selectors


def _start_of(day: Any) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


class AuditLogFilter(AuditEventFilter):
    """The API's audit FilterSet plus what a person browsing the log asks: object type, acting
    organisation and a date range."""

    target_type = df.CharFilter(
        max_length=64, label="Object type", help_text="e.g. incidents.incident, accounts.apikey"
    )
    actor_org = df.ModelChoiceFilter(
        label="Acting organisation",
        queryset=organization_list(),
        to_field_name="short_name",
        method="filter_actor_org",
        empty_label="Any",
    )
    since = df.DateFilter(
        label="From (date)", method="filter_since", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = df.DateFilter(
        label="Until (date, inclusive)", method="filter_until", widget=forms.DateInput(attrs={"type": "date"})
    )

    def filter_actor_org(
        self, queryset: QuerySet[AuditEvent], name: str, value: Organization
    ) -> QuerySet[AuditEvent]:
        return queryset.filter(actor_org_id=value.pk)

    def filter_since(self, queryset: QuerySet[AuditEvent], name: str, value: Any) -> QuerySet[AuditEvent]:
        return queryset.filter(occurred_at__gte=_start_of(value))

    def filter_until(self, queryset: QuerySet[AuditEvent], name: str, value: Any) -> QuerySet[AuditEvent]:
        return queryset.filter(occurred_at__lt=_start_of(value + timedelta(days=1)))


UI_FILTER_FIELDS = ("event_code", "target_type", "target_public_id", "actor_org", "since", "until")


def _audit_events_or_404(actor: Principal) -> QuerySet[AuditEvent]:
    """The selector's events; a principal it refuses gets a 404 (the page is not theirs)."""
    try:
        return selectors.audit_event_list(actor=actor)
    except Forbidden as exc:
        raise NotFound("No such page.") from exc


@login_required
def audit_log(request: HttpRequest) -> HttpResponse:
    actor = web_principal(request)
    events = _audit_events_or_404(actor)
    filterset = AuditLogFilter(request.GET, queryset=events)
    filterset.form.fields["target_public_id"].label = "Record id"
    page: list[AuditEvent] = []
    next_url = None
    status = 200
    if filterset.is_valid():
        paginator = AuditCursorPagination()
        page = paginator.paginate_queryset(filterset.qs, Request(request))
        if paginator.has_next and page:
            params = {k: v for k, v in request.GET.items() if k != "cursor"}
            params["cursor"] = paginator.encode_cursor(page[-1].occurred_at, page[-1].pk)
            next_url = f"{request.path}?{urlencode(params)}"
    else:
        status = 400
    org_ids = {event.actor_org_id for event in page if event.actor_org_id is not None}
    orgs = {org.pk: org for org in organization_list().filter(pk__in=org_ids)} if org_ids else {}
    rows = [(event, orgs.get(event.actor_org_id) if event.actor_org_id else None) for event in page]
    params = {k: v for k, v in request.GET.items() if k != "cursor"}
    return render(
        request,
        "incidents/audit/log.html",
        {
            "filterset": filterset,
            "filter_fields": [filterset.form[name] for name in UI_FILTER_FIELDS],
            "rows": rows,
            "next_url": next_url,
            "first_url": f"{request.path}?{urlencode(params)}" if "cursor" in request.GET else None,
            "filtered": any(params.get(name) for name in UI_FILTER_FIELDS),
        },
        status=status,
    )


@login_required
def audit_checkpoints(request: HttpRequest) -> HttpResponse:
    actor = web_principal(request)
    _audit_events_or_404(actor)  # who may read the log may read its checkpoints
    paginator = CheckpointCursorPagination()
    checkpoints: list[AuditCheckpoint] = paginator.paginate_queryset(
        AuditCheckpoint.objects.all(), Request(request)
    )
    next_url = None
    if paginator.has_next and checkpoints:
        cursor = paginator.encode_cursor(checkpoints[-1].signed_at, checkpoints[-1].pk)
        next_url = f"{request.path}?{urlencode({'cursor': cursor})}"
    key = audit_signing_key()
    rows = [
        (
            checkpoint,
            checkpoint_note(checkpoint.tree_size, checkpoint.root_hash, checkpoint.signed_at).decode(),
        )
        for checkpoint in checkpoints
    ]
    return render(
        request,
        "incidents/audit/checkpoints.html",
        {
            "rows": rows,
            "next_url": next_url,
            "paged": "cursor" in request.GET,
            "public_key": base64.b64encode(public_key_bytes(key)).decode(),
            "key_id": key_id_of(key),
            "origin": CHECKPOINT_ORIGIN,
        },
    )


urlpatterns: list[URLPattern | URLResolver] = [
    path("audit/", audit_log, name="audit-log"),
    path("audit/checkpoints/", audit_checkpoints, name="audit-checkpoints"),
]
