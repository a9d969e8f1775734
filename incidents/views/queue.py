"""The incident list (`/incidents/`, everyone: what the principal may see) and the triage queue
(`/triage/`, oversight staff): the API's FilterSet and keyset pagination as pages, plus the queue's claim
and bulk-assign actions, which call the workflow service exactly as the API's action endpoints do."""

from __future__ import annotations

import base64
import binascii
import copy
import json
import threading
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape  # what django.utils.html.escape does, without its lazy-string wrapper
from typing import Any, TypedDict, cast
from urllib.parse import quote

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, QueryDict
from django.middleware.csrf import get_token
from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import get_language
from django.views.decorators.http import require_GET, require_POST
from rest_framework.request import Request

from core.actors import Principal, web_principal
from core.enums import ScenarioType
from core.errors import DomainError, NotFound, ValidationFailed
from incidents import selectors, services, workflows
from incidents.api.pagination import IncidentCursorPagination
from incidents.filters import IncidentFilter
from incidents.forms.queue import BulkAssignForm, ClaimForm, ListControlsForm
from incidents.models import (
    DeadlineRegime,
    DeadlineStage,
    Incident,
    IncidentStatus,
    Severity,
)

DUE_SOON = timedelta(hours=48)
ORDERING_LABELS = {
    "-modified_at": "Recently updated first",
    "modified_at": "Least recently updated first",
    "next_due_at": "Next deadline first",
    "-submitted_at": "Newest submission first",
}
LIST_PARTIAL = "incidents/queue/_results.html"
# The filters shown at once; the others wait under "More filters".
PRIMARY_FILTERS = ("search", "status", "severity", "tlp", "scenario_type", "overdue")
# What `reverse` leaves unquoted in a path segment (RFC 3986 sub-delimiters, and ~ : @).
URL_SAFE = "!$&'()*+,;=~:@"


# --- pagination ---------------------------------------------------------------------------------------


class IncidentPagePagination(IncidentCursorPagination):
    """The API's keyset pagination for the pages: the same limit and ordering validation and the same
    cursor codec, keyset on (sort key, id), no COUNT(*) and no OFFSET. Two things a page needs besides:
    `before=` (the Previous link: the same keyset walked backwards) and, ordered by `next_due_at`, the
    reports without an open clock after the dated ones (the queue must not hide a report only because no
    clock runs for it; the API's deadline queue leaves them out instead). Plus `-submitted_at`."""

    orderings = (*IncidentCursorPagination.orderings, "-submitted_at")  # type: ignore[assignment]
    nullable = frozenset({"next_due_at"})

    def __init__(self, *, default_ordering: str) -> None:
        self.default_ordering = default_ordering

    def _ordering(self, request: Request) -> str:
        ordering = request.query_params.get("ordering") or self.default_ordering
        if ordering not in self.orderings:
            raise ValidationFailed(
                f"ordering must be one of {', '.join(self.orderings)}.", code="invalid_ordering"
            )
        return ordering

    def encode_key(self, value: datetime | None, pk: Any) -> str:
        if value is not None:
            return self.encode_cursor(value, pk)
        return base64.urlsafe_b64encode(json.dumps([None, str(pk)]).encode()).decode().rstrip("=")

    def decode_key(self, token: str) -> tuple[datetime | None, str]:
        try:
            return self.decode_cursor(token)
        except ValidationFailed as invalid:
            try:  # a row without a clock: [null, pk]
                raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
                stamp, pk = json.loads(raw)
                if stamp is not None or not isinstance(pk, str) or len(token) > 200:
                    raise invalid
                return None, self.parse_pk(pk)
            except (ValueError, TypeError, binascii.Error, UnicodeDecodeError) as exc:
                raise invalid from exc

    def page_of(
        self, queryset: QuerySet[Incident, dict[str, Any]], request: HttpRequest
    ) -> list[dict[str, Any]]:
        drf_request = Request(request)
        self.limit = self._limit(drf_request)
        self.ordering = self._ordering(drf_request)
        field, descending = self.ordering.lstrip("-"), self.ordering.startswith("-")
        self.sort_field = field
        nullable = field in self.nullable
        token, backward = request.GET.get("cursor"), False
        if not token and request.GET.get("before"):
            token, backward = request.GET["before"], True
        if token:
            queryset = queryset.filter(
                self._beyond(field, descending, backward, nullable, *self.decode_key(token))
            )
        # Forward: the sort key in its direction, rows without one last, the id breaking ties. Backward:
        # all of it reversed; the page is flipped back below.
        reverse_order = descending != backward
        nulls = ({"nulls_first": True} if backward else {"nulls_last": True}) if nullable else {}
        key = F(field).desc(**nulls) if reverse_order else F(field).asc(**nulls)
        pk = "-pk" if reverse_order else "pk"
        rows = list(queryset.order_by(key, pk)[: self.limit + 1])
        more = len(rows) > self.limit
        rows = rows[: self.limit]
        if backward:
            rows.reverse()
        self.page_rows = rows
        self.has_next = bool(rows) and (more if not backward else True)
        self.has_previous = bool(rows) and (more if backward else bool(token))
        return rows

    @staticmethod
    def _beyond(
        field: str, descending: bool, backward: bool, nullable: bool, value: datetime | None, pk: str
    ) -> Q:
        """The rows after (forward) or before (backward) the key (value, pk) in the page order."""
        op = "lt" if descending != backward else "gt"
        if value is None:
            beyond = Q(**{f"{field}__isnull": True, f"pk__{op}": pk})
            return (beyond | Q(**{f"{field}__isnull": False})) if backward else beyond
        beyond = Q(**{f"{field}__{op}": value}) | Q(**{field: value, f"pk__{op}": pk})
        if nullable and not backward:
            return beyond | Q(**{f"{field}__isnull": True})
        # The redundant bound is what PostgreSQL turns into an index condition: a deep page starts its
        # scan at the cursor instead of reading and discarding every row of the pages before it.
        return Q(**{f"{field}__{op}e": value}) & beyond

    def link(self, request: HttpRequest, *, forward: bool) -> str | None:
        """The Next / Previous URL: the page's filters and order, with the cursor of its last / first row."""
        if not (self.has_next if forward else self.has_previous):
            return None
        row = self.page_rows[-1] if forward else self.page_rows[0]
        params = request.GET.copy()
        params.pop("cursor", None)
        params.pop("before", None)
        params["cursor" if forward else "before"] = self.encode_key(row[self.sort_field], row["id"])
        return f"{request.path}?{params.urlencode()}"


# --- rows ---------------------------------------------------------------------------------------------

# A page reads the API list's plain rows (`selectors.incident_list_rows`: dicts, not model instances, and
# not the ~50 other columns), with what a page row shows besides the API's columns.
REGIMES = list(DeadlineRegime)
# The display names of the columns' choices (what `get_<field>_display` gives).
STATUS_LABELS = dict(IncidentStatus.choices)
SEVERITY_LABELS = dict(Severity.choices)
SCENARIO_LABELS = dict(ScenarioType.choices)
STAGE_LABELS = dict(DeadlineStage.choices)
_NO_DUE = mark_safe('<span class="text-body-secondary">—</span>')  # also: an assignee not shown
_DUE_BADGES = {
    "overdue": ' <span class="badge deadline-overdue">Overdue</span>',
    "due-soon": ' <span class="badge deadline-due-soon">Due soon</span>',
    "": "",
}


class Row(TypedDict):
    """One result row with every label worked out (display names, deadline cells, links, what the actor
    may do), from a plain row: no model instance, no query per row."""

    id: Any
    public_id: str
    url: str
    claim_url: str
    title: str
    snippet: str
    tlp_class: str
    tlp_label: str
    status: str
    severity: str
    scenario: str
    submitter: str
    next_due: SafeString
    regime_dues: list[SafeString]
    assignee_shown: bool
    assignee: str
    can_claim: bool


@dataclass(frozen=True)
class _Facts:
    """What the workflow table and the assignee rule read on a report, from a plain row: they take the
    row for the Incident it stands for (parties, state, guards)."""

    owner_org_id: Any
    status: str
    severity: str
    assignee_id: Any
    pending_accept_by_id: Any


class _DueText:
    """The deadline cells of one page: a due time and how it stands now (overdue, due within DUE_SOON,
    later), in the page's words, escaped. Month names and the clock read once per page."""

    def __init__(self) -> None:
        self.now = timezone.now()
        self.soon = self.now + DUE_SOON
        self.months = [""] + [str(MONTHS_3[month]).title() for month in range(1, 13)]

    def cell(self, due_at: datetime | None, label: str = "") -> SafeString:
        if due_at is None:
            return _NO_DUE
        state = "overdue" if due_at < self.now else "due-soon" if due_at < self.soon else ""
        local = timezone.localtime(due_at)
        text = f"{local.day} {self.months[local.month]} {local.year:04d} {local.hour:02d}:{local.minute:02d}"
        html = f'<time datetime="{local.isoformat()}">{text} UTC</time>'
        if label:
            html += f' <span class="small text-body-secondary">{escape(label)}</span>'
        return mark_safe(html + _DUE_BADGES[state])  # noqa: S308 - built from escaped parts

    def regime_cells(self, clocks: list[dict[str, str]] | None) -> list[SafeString]:
        """One cell per regime: its earliest open clock (`selectors.incident_page_rows` lists them earliest
        first), with its stage, or none."""
        first: dict[str, dict[str, str]] = {}
        for listed in clocks or ():
            first.setdefault(listed["regime"], listed)
        cells = []
        for regime in REGIMES:
            clock = first.get(regime)
            if clock is None:
                cells.append(_NO_DUE)
            else:
                stage = STAGE_LABELS.get(clock["stage"], clock["stage"])
                cells.append(self.cell(datetime.fromisoformat(clock["due_at"]), stage))
        return cells


def _link_template(name: str) -> tuple[str, str]:
    """A URL pattern's text around its `ref` (reversed once per page, not once per row)."""
    head, _, tail = reverse(name, kwargs={"ref": "__ref__"}).partition("__ref__")
    return head, tail


def _rows(
    actor: Principal, page: list[dict[str, Any]], snippets: dict[Any, str], *, queue: bool
) -> list[Row]:
    due = _DueText()
    claim = workflows.TABLE[workflows.Action.CLAIM]
    # The request's principal is a lazy proxy: each of the rules' attribute reads, per row, would go
    # through it. A copy of a resolved one is the plain Principal.
    actor = copy.copy(actor)
    detail_head, detail_tail = _link_template("incident-detail")
    claim_head, claim_tail = _link_template("triage-claim")
    rows: list[Row] = []
    for row in page:
        facts = cast(
            Incident,
            _Facts(
                owner_org_id=row["owner_org_id"],
                status=row["status"],
                severity=row["severity"],
                assignee_id=row["assignee_id"],
                pending_accept_by_id=row["pending_accept_by_id"],
            ),
        )
        shown = selectors.assignee_visible(actor, facts)
        ref = quote(row["public_id"], safe=URL_SAFE)
        severity, scenario = row["severity"], row["scenario_type"]
        rows.append(
            {
                "id": row["id"],
                "public_id": row["public_id"],
                "url": f"{detail_head}{ref}{detail_tail}",
                "claim_url": f"{claim_head}{ref}{claim_tail}",
                "title": row["title"],
                "snippet": snippets.get(row["id"], ""),
                "tlp_class": row["tlp"].replace("+", "-"),
                "tlp_label": f"TLP:{row['tlp'].upper()}",
                "status": STATUS_LABELS.get(row["status"], row["status"]),
                "severity": SEVERITY_LABELS.get(severity, severity) if severity else "—",
                "scenario": SCENARIO_LABELS.get(scenario, scenario) if scenario else "—",
                "submitter": row["owner_org__short_name"],
                "next_due": due.cell(row["next_due_at"]),
                "regime_dues": due.regime_cells(row["open_clocks"]) if queue else [],
                "assignee_shown": shown,
                "assignee": (row["assignee__username"] or "") if shown else "",
                "can_claim": queue and workflows.refusal(actor, facts, claim) is None,
            }
        )
    return rows


def _row_html(
    row: Row, *, queue: bool, bulk_assign: bool, show_assignee: bool, next_input: str, csrf_input: str
) -> SafeString:
    """One result row's <tr>. Written here rather than in the template: a page of 50 to 200 rows of up to
    14 cells is thousands of template nodes, most of the page's time; this is the same markup, every value
    escaped (titles, snippets and names are user input). `next_input` and `csrf_input` are ready markup."""
    ref = escape(row["public_id"])
    cells = []
    if bulk_assign:
        cells.append(
            f'<td><input type="checkbox" name="incident" value="{ref}" id="select-{ref}" form="bulk-assign">'
            f'<label for="select-{ref}" class="visually-hidden">Select {ref}</label></td>'
        )
    snippet = escape(row["snippet"])
    cells += [
        f'<th scope="row"><a href="{escape(row["url"])}">{ref}</a></th>',
        f"<td>{escape(row['title'])}"
        + (f'<div class="small text-body-secondary">{snippet}</div>' if snippet else "")
        + "</td>",
        f'<td><span class="tlp tlp-{escape(row["tlp_class"])}">{escape(row["tlp_label"])}</span></td>',
        f'<td><span class="badge text-bg-secondary">{escape(row["status"])}</span></td>',
        f"<td>{escape(row['severity'])}</td>",
        f"<td>{escape(row['scenario'])}</td>",
        f"<td>{escape(row['submitter'])}</td>",
        f"<td>{row['next_due']}</td>",
    ]
    if queue:
        cells += [f"<td>{due}</td>" for due in row["regime_dues"]]
    if show_assignee:
        cells.append(
            f"<td>{escape(row['assignee'] or 'Unassigned') if row['assignee_shown'] else _NO_DUE}</td>"
        )
    if queue:
        claim = (
            f'<form method="post" action="{escape(row["claim_url"])}">{csrf_input}{next_input}'
            f'<button type="submit" class="btn btn-sm btn-primary" aria-label="Claim {ref}">Claim</button>'
            "</form>"
            if row["can_claim"]
            else ""
        )
        cells.append(f"<td>{claim}</td>")
    return mark_safe(f"<tr>{''.join(cells)}</tr>\n")  # noqa: S308 - every value above is escaped


# --- pages --------------------------------------------------------------------------------------------


def _presets(actor: Principal, base: str) -> list[tuple[str, str]]:
    """Saved views as plain links: the filter state lives in the URL."""
    soon = (timezone.now() + DUE_SOON).replace(microsecond=0).isoformat()
    presets = [
        ("Overdue", {"overdue": "true", "ordering": "next_due_at"}),
        ("Due in 48 h", {"overdue": "false", "due_before": soon, "ordering": "next_due_at"}),
    ]
    if selectors.is_triage_staff(actor) and actor.user_id is not None:
        presets.append(("Assigned to me", {"assignee": "me", "ordering": "next_due_at"}))
    if selectors.is_triage_staff(actor):
        presets.append(("Unassigned submitted", {"status": "submitted", "unassigned": "true"}))
    links = []
    for label, params in presets:
        query = QueryDict(mutable=True)
        query.update(params)
        links.append((label, f"{base}?{query.urlencode()}"))
    return links


@contextmanager
def _search_limit(request: HttpRequest) -> Iterator[None]:
    context = (
        selectors.incident_search_time_limit() if request.GET.get("search", "").strip() else nullcontext()
    )
    with context:
        yield


def _list_page(request: HttpRequest, *, queue: bool) -> HttpResponse:
    """One list page: the FilterSet over the visible rows, a keyset page, the rows, full page or partial."""
    actor = web_principal(request)
    default_ordering = "next_due_at" if queue else "-modified_at"
    queryset = selectors.incident_page_rows(queue=queue, actor=actor)
    if queue and not request.GET.get("status"):
        queryset = queryset.filter(status__in=selectors.QUEUE_OPEN_STATES)
    filterset = IncidentFilter(request.GET, queryset=queryset, request=request)
    _dress_filter_form(filterset.form, queue=queue)
    controls = ListControlsForm(
        orderings=[(key, ORDERING_LABELS[key]) for key in IncidentPagePagination.orderings],
        initial={"ordering": request.GET.get("ordering") or default_ordering},
    )
    paginator = IncidentPagePagination(default_ordering=default_ordering)
    rows: list[Row] = []
    valid = filterset.is_valid()
    if valid:
        with _search_limit(request):
            page = paginator.page_of(filterset.qs, request)
            text = request.GET.get("search", "").strip()
            snippets = (
                selectors.incident_search_snippets(actor=actor, incidents=page, text=text) if text else {}
            )
        rows = _rows(actor, page, snippets, queue=queue)
    base = reverse("triage-queue" if queue else "incident-list")
    reviewers = selectors.assignable_reviewers(actor=actor) if queue else []
    more_fields = [field for field in filterset.form if field.name not in PRIMARY_FILTERS]
    this_url = request.get_full_path()
    show_assignee = any(row["assignee_shown"] for row in rows) or selectors.is_triage_staff(actor)
    next_input = format_html('<input type="hidden" name="next" value="{}">', this_url)
    csrf_input = (
        format_html('<input type="hidden" name="csrfmiddlewaretoken" value="{}">', get_token(request))
        if queue
        else ""
    )
    flags = {"queue": queue, "bulk_assign": bool(reviewers), "show_assignee": show_assignee}
    rows_html = [_row_html(row, next_input=next_input, csrf_input=csrf_input, **flags) for row in rows]
    context = {
        "queue": queue,
        "filter_form": filterset.form,
        "primary_fields": [filterset.form[name] for name in PRIMARY_FILTERS],
        "more_fields": more_fields,
        "more_filters_open": any(request.GET.get(field.name) for field in more_fields),
        "controls": controls,
        "rows": rows_html,
        "regimes": [regime.label for regime in REGIMES],
        "next_url": paginator.link(request, forward=True) if valid else None,
        "previous_url": paginator.link(request, forward=False) if valid else None,
        "first_url": f"{base}?{_without_cursor(request.GET)}",
        "paged": bool(request.GET.get("cursor") or request.GET.get("before")),
        "presets": _presets(actor, base),
        "base_url": base,
        "view_url": request.build_absolute_uri(),
        "this_url": this_url,
        "reviewers": reviewers,
        **flags,
    }
    # An htmx request gets a 200 even for invalid filters, or it would not swap the errors in.
    status = 200 if valid or request.htmx else 400  # type: ignore[attr-defined]
    if request.htmx:  # type: ignore[attr-defined]
        response = render(request, LIST_PARTIAL, context, status=status)
    else:
        context["filters_html"] = _filters_html(request, context, queue=queue, valid=valid)
        template = "incidents/queue/triage.html" if queue else "incidents/queue/list.html"
        response = render(request, template, context, status=status)
    # The same URL answers a page or a partial: a cache (the browser's history) must tell them apart.
    patch_vary_headers(response, ("HX-Request",))
    return response


# The filter form of a full page, rendered: its ~20 fields and ~120 options through Django's form templates
# cost more than the rest of the page together. Its HTML depends on nothing but the page (queue or list),
# the language and the filter values in the URL (no user, no CSRF token: a GET form), so each worker keeps
# the last few it rendered. Invalid values (their errors) and very long ones are rendered every time.
FILTERS_TEMPLATE = "incidents/queue/_filters.html"
_FILTERS_CACHE_SIZE = 64
_FILTERS_KEY_MAX_CHARS = 1000
_filters_cache: OrderedDict[tuple[Any, ...], SafeString] = OrderedDict()
_filters_lock = threading.Lock()


def _filters_html(request: HttpRequest, context: dict[str, Any], *, queue: bool, valid: bool) -> SafeString:
    names = (*context["filter_form"].fields, "ordering")
    values = tuple((name, tuple(request.GET.getlist(name))) for name in names if name in request.GET)
    key = (queue, get_language(), values)
    cacheable = valid and sum(len(value) for _, given in values for value in given) <= _FILTERS_KEY_MAX_CHARS
    if cacheable:
        with _filters_lock:
            html = _filters_cache.get(key)
            if html is not None:
                _filters_cache.move_to_end(key)
                return html
    html = render_to_string(FILTERS_TEMPLATE, context)  # no request: nothing in it is per user
    if cacheable:
        with _filters_lock:
            _filters_cache[key] = html
            while len(_filters_cache) > _FILTERS_CACHE_SIZE:
                _filters_cache.popitem(last=False)
    return html


# The FilterSet's labels and help texts are made for API clients; a page says it in fewer words.
UI_FIELDS: dict[str, tuple[str, str]] = {
    "search": ("Search", 'Words, "a phrase", -excluded.'),
    "tlp": ("TLP", ""),
    "scenario_type": ("Scenario", ""),
    "overdue": ("Overdue", "A deadline not met is past due."),
    "due_before": ("Due before", "A date and time (UTC), e.g. 2026-03-01T12:00Z."),
    "regime": ("Deadline regime", ""),
    "assignee": ("Assignee", "A username, or me."),
    "unassigned": ("Unassigned", ""),
    "modified_after": ("Modified after", "A date and time (UTC), e.g. 2026-03-01T12:00Z."),
    "submitter": ("Submitter", "Organisation short name."),
    "model": ("Model", "Model public id, e.g. FM-2025-0007."),
    "eu_category": ("EU category", ""),
}
YES_NO = [("", "Any"), ("true", "Yes"), ("false", "No")]


def _dress_filter_form(form: Any, *, queue: bool) -> None:
    """Labels for people, and an "Any" choice on every select (a yes/no filter has none of its own:
    the first option would be picked, and sent, by every submission of the form)."""
    for name, (label, help_text) in UI_FIELDS.items():
        if name in form.fields:
            form.fields[name].label = label
            form.fields[name].help_text = help_text
    for name, field in form.fields.items():
        if name in ("overdue", "unassigned"):
            field.choices = YES_NO
        elif getattr(field, "empty_label", None) is not None:
            # django-filter's choice fields put `empty_label` first whenever their choices are set.
            field.empty_label = (
                "Open (submitted, in review, needs information)" if queue and name == "status" else "Any"
            )
            field.choices = [choice for choice in field.choices if choice[0] != ""]


def _without_cursor(query: QueryDict) -> str:
    params = query.copy()
    params.pop("cursor", None)
    params.pop("before", None)
    return params.urlencode()


@require_GET
def incident_list(request: HttpRequest) -> HttpResponse:
    """Every incident the principal may see (anonymous visitors: TLP:CLEAR), filtered and sorted."""
    return _list_page(request, queue=False)


def _triage_actor(request: HttpRequest) -> Principal:
    actor = web_principal(request)
    if not selectors.is_triage_staff(actor):
        raise NotFound("No such page.")
    return actor


@login_required
@require_GET
def triage_queue(request: HttpRequest) -> HttpResponse:
    """Open reports by next deadline, for oversight staff (anyone else: 404)."""
    _triage_actor(request)
    return _list_page(request, queue=True)


def _back(request: HttpRequest, raw: str) -> HttpResponseRedirect:
    """Back to the queue the action came from, filters and page kept; never to another site."""
    allowed = url_has_allowed_host_and_scheme(
        raw, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return HttpResponseRedirect(raw if raw and allowed else reverse("triage-queue"))


@login_required
@require_POST
def triage_claim(request: HttpRequest, ref: str) -> HttpResponseRedirect:
    """Claim one report: the API's claim action, one service call; its refusal becomes a message."""
    actor = _triage_actor(request)
    form = ClaimForm(request.POST)
    back = form.cleaned_data["next"] if form.is_valid() else ""
    incident = selectors.incident_get(actor=actor, ref=ref)  # out of scope: 404
    try:
        services.incident_transition(actor=actor, incident=incident, action=workflows.Action.CLAIM)
    except DomainError as exc:
        messages.error(request, f"Could not claim {incident.public_id}: {exc.detail}")
    else:
        messages.success(request, f"You claimed {incident.public_id}; it is now in review.")
    return _back(request, back)


@login_required
@require_POST
def triage_assign(request: HttpRequest) -> HttpResponseRedirect:
    """Assign the selected reports to one reviewer: one service call, one transaction per report, so one
    refusal does not undo the others; the outcome is reported per report."""
    actor = _triage_actor(request)
    form = BulkAssignForm(request.POST, reviewers=selectors.assignable_reviewers(actor=actor))
    back = str(request.POST.get("next", ""))
    if not form.is_valid():
        for field, errors in form.errors.items():
            label = form.fields[field].label if field in form.fields else ""
            for error in errors:
                messages.error(request, f"{label}: {error}" if label else str(error))
        return _back(request, back)
    assignee: str = form.cleaned_data["assignee"]
    assigned: list[str] = []
    failed: list[str] = []
    for ref in form.cleaned_data["incident"]:
        try:
            incident = selectors.incident_get(actor=actor, ref=ref)
            services.incident_transition(
                actor=actor, incident=incident, action=workflows.Action.ASSIGN, assignee=assignee
            )
        except DomainError as exc:
            failed.append(f"{ref}: {exc.detail}")
        else:
            assigned.append(incident.public_id)
    summary = f"{len(assigned)} assigned to {assignee}, {len(failed)} failed"
    if failed:
        messages.warning(request, f"{summary}: {'; '.join(failed)}")
    else:
        messages.success(request, f"{summary}.")
    return _back(request, back)


urlpatterns: list[URLPattern | URLResolver] = [
    path("incidents/", incident_list, name="incident-list"),
    path("triage/", triage_queue, name="triage-queue"),
    path("triage/assign/", triage_assign, name="triage-assign"),
    path("triage/<str:ref>/claim/", triage_claim, name="triage-claim"),
]
