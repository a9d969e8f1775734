"""The incident page (`/incidents/<ref>/`): the report as the API's detail shows it to this principal, its
deadline clocks, one timeline (workflow steps, revisions, comments, assessments), evidence, and the actions
the transition table allows this user now; plus the revision diff and the evidence download.

Every read goes through incidents.selectors (out of scope: 404) and every write is one call of the same
service the API calls, with the same parameters and the same If-Match check (the page's ETag travels in a
hidden `version` field)."""

from __future__ import annotations

import base64
import json
import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import FileResponse, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import NoReverseMatch, URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.views.decorators.http import require_GET, require_POST
from rest_framework.request import Request

from core.actors import Principal, web_principal
from core.api.views import check_if_match, etag_for
from core.errors import DomainError, NotFound, PreconditionFailed, ValidationFailed
from core.web import add_domain_errors
from incidents import selectors, services, workflows
from incidents.api.serializers import IncidentDeadlineSerializer, IncidentDetailSerializer
from incidents.forms.detail import (
    AssessmentForm,
    CommentForm,
    VersionedForm,
    action_form,
)
from incidents.models import Assessment, CommentVisibility, DeadlineRegime, Incident, IncidentTransition
from incidents.workflows import Action, Party

PAGE = "incidents/detail/page.html"
ACTION_VALUES = frozenset(step.value for step in Action)
DUE_SOON = timedelta(hours=48)
DUPLICATE_CANDIDATES = 10
STALE = (
    "This report changed since you loaded it (someone else acted on it or amended it). "
    "Nothing was done: check its current state below and try again."
)
ACTION_LABELS: dict[Action, str] = {
    Action.CLAIM: "Claim",
    Action.UNCLAIM: "Unclaim",
    Action.ASSIGN: "Assign",
    Action.REQUEST_INFORMATION: "Request information",
    Action.RESPOND: "Respond",
    Action.ACCEPT: "Accept",
    Action.CONFIRM_ACCEPT: "Confirm acceptance",
    Action.REJECT: "Reject",
    Action.MARK_DUPLICATE: "Mark as duplicate",
    Action.SUPERSEDE: "Supersede",
    Action.CLOSE: "Close",
    Action.WITHDRAW: "Withdraw",
}
DONE: dict[Action, str] = {
    Action.CLAIM: "You claimed {ref}; it is now in review.",
    Action.UNCLAIM: "You released {ref}.",
    Action.ASSIGN: "{ref} was assigned.",
    Action.REQUEST_INFORMATION: "The submitter of {ref} was asked for more information.",
    Action.RESPOND: "Your response on {ref} was sent; it is back in review.",
    Action.ACCEPT: "You accepted {ref}.",
    Action.CONFIRM_ACCEPT: "You confirmed the acceptance of {ref}.",
    Action.REJECT: "You rejected {ref}.",
    Action.MARK_DUPLICATE: "{ref} was marked as a duplicate.",
    Action.SUPERSEDE: "{ref} was marked as superseded.",
    Action.CLOSE: "You closed {ref}.",
    Action.WITHDRAW: "{ref} was withdrawn.",
}
# Actions that ask for something before they run (the rest are one button).
CONFIRM: dict[Action, str] = {
    Action.ACCEPT: "Accept this report?",
    Action.CONFIRM_ACCEPT: "Confirm the acceptance of this report?",
    Action.CLOSE: "Close this report?",
}
# Where the service puts a "no such report" for an action that names another report.
REFERENCE_FIELDS = {Action.MARK_DUPLICATE: "duplicate_of", Action.SUPERSEDE: "replaced_by"}


# --- the report's fields, exactly the API detail's -----------------------------------------------------

# The API detail's keys, grouped for reading. Keys the page shows elsewhere (title, actions, clocks,
# models) are left out here; a test checks every other key of the serializer is in a group.
FIELD_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Status",
        (
            "status",
            "report_stage",
            "severity",
            "rejection_reason",
            "duplicate_of",
            "replaced_by",
            "withdrawal_reason",
            "next_due_at",
        ),
    ),
    (
        "Report",
        (
            "record_class",
            "description",
            "ai_system_relation",
            "submitter_capacity",
            "scenario_type",
            "instruction_provenance",
            "outcome",
            "harm_types",
            "determination",
            "eu_category",
            "high_risk_system",
            "critical_infrastructure",
            "scaffold",
            "related_evaluations",
        ),
    ),
    (
        "When and where",
        (
            "occurred_start",
            "occurred_end",
            "occurred_precision",
            "detected_at",
            "provider_aware_at",
            "resolved_at",
            "countries",
            "jurisdictions",
        ),
    ),
    (
        "Replication",
        (
            "observed_behaviours",
            "milestones_reached",
            "replica_count",
            "replication_depth",
            "replica_location",
            "separateness",
            "replica_liveness_verified",
            "replica_liveness_method",
            "containment_status",
            "actions_taken",
            "harm_quantification",
        ),
    ),
    (
        "Analysis",
        (
            "chain_of_events",
            "root_cause_analysis",
            "recommendation",
            "steps_to_reproduce",
            "taxonomy_mappings",
        ),
    ),
    (
        "Record",
        (
            "public_id",
            "id",
            "owner_org",
            "submitted_by",
            "submitted_at",
            "revision_number",
            "external_id",
            "external_references",
            "schema_version",
            "created_at",
            "modified_at",
        ),
    ),
)
SHOWN_ELSEWHERE = frozenset({"title", "tlp", "available_actions", "deadlines", "models", "aliases"})
CHOICE_FIELDS = frozenset(
    {
        "status",
        "report_stage",
        "severity",
        "rejection_reason",
        "record_class",
        "ai_system_relation",
        "submitter_capacity",
        "scenario_type",
        "instruction_provenance",
        "outcome",
        "determination",
        "eu_category",
        "occurred_precision",
        "containment_status",
    }
)
CHOICE_LISTS = frozenset({"harm_types", "milestones_reached", "separateness"})
DATETIMES = frozenset(
    {
        "next_due_at",
        "occurred_start",
        "occurred_end",
        "detected_at",
        "provider_aware_at",
        "resolved_at",
        "submitted_at",
        "created_at",
        "modified_at",
    }
)
LONG_TEXT = frozenset(
    {
        "description",
        "withdrawal_reason",
        "actions_taken",
        "chain_of_events",
        "root_cause_analysis",
        "recommendation",
        "steps_to_reproduce",
    }
)
REPORT_LINKS = frozenset({"duplicate_of", "replaced_by"})
LABELS = {
    "id": "UUID",
    "public_id": "Public id",
    "owner_org": "Submitting organisation",
    "ai_system_relation": "AI system relation",
    "eu_category": "EU category",
    "high_risk_system": "High-risk AI system",
    "next_due_at": "Next deadline",
    "report_stage": "Report stage",
    "harm_types": "Harm types",
    "replica_liveness_verified": "Replica liveness verified",
    "external_id": "Submitter's own id",
    "revision_number": "Revision",
}


def humanize(value: str) -> str:
    """An enum value as words: `live_separate_replica` -> `Live separate replica`."""
    return value.replace("_", " ").capitalize() if value else ""


@dataclass(frozen=True)
class FieldRow:
    """One field of the report for the template: `kind` picks how it is drawn."""

    name: str
    label: str
    kind: str  # empty, text, long, datetime, bool, list, report, behaviours, mapping, references, json
    value: Any


def _field_row(name: str, value: Any) -> FieldRow:
    label = LABELS.get(name, humanize(name))
    if value is None or value == "" or value == [] or value == {}:
        return FieldRow(name, label, "empty", None)
    if name in CHOICE_FIELDS:
        return FieldRow(name, label, "text", humanize(str(value)))
    if name in CHOICE_LISTS:
        return FieldRow(name, label, "list", [humanize(str(item)) for item in value])
    if name in DATETIMES:
        return FieldRow(name, label, "datetime", parse_datetime(str(value)))
    if name in LONG_TEXT:
        return FieldRow(name, label, "long", value)
    if name in REPORT_LINKS:
        return FieldRow(name, label, "report", value)
    if isinstance(value, bool):
        return FieldRow(name, label, "bool", value)
    if name == "observed_behaviours":
        rows = [
            {
                **item,
                "behaviour": humanize(str(item.get("behaviour", ""))),
                "at": parse_datetime(str(item.get("timestamp") or "")),
            }
            for item in value
            if isinstance(item, dict)
        ]
        return FieldRow(name, label, "behaviours", rows)
    if name in ("harm_quantification", "taxonomy_mappings"):
        pairs = [
            (humanize(str(key)), ", ".join(map(str, v)) if isinstance(v, list) else v)
            for key, v in value.items()
        ]
        return FieldRow(name, label, "mapping", pairs)
    if name in ("external_references", "aliases"):
        rows = [
            {
                "name": item.get("source_name") or item.get("database") or "",
                "id": item.get("external_id") or item.get("id") or "",
                "description": item.get("description", ""),
                # Only web addresses become links: never a javascript: or data: URL from a submission.
                "url": item.get("url")
                if str(item.get("url", "")).startswith(("https://", "http://"))
                else "",
            }
            for item in value
            if isinstance(item, dict)
        ]
        return FieldRow(name, label, "references", rows)
    if isinstance(value, list):
        return FieldRow(name, label, "list", [str(item) for item in value])
    return FieldRow(name, label, "text", value)


def field_groups(data: dict[str, Any]) -> list[tuple[str, list[FieldRow]]]:
    """The API detail's fields in reading groups; a key the API left out is left out here too."""
    return [
        (title, [_field_row(name, data[name]) for name in names if name in data])
        for title, names in FIELD_GROUPS
    ]


# --- clocks ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Clock:
    regime: str
    stage: str
    sequence: int
    due_at: datetime
    satisfied_at: datetime | None
    status: str  # met, met_late, overdue, due_soon, pending
    label: str
    css: str
    left: str


def duration_words(seconds: int) -> str:
    """`2 days 3 h`, `5 h 10 min`, `12 min`."""
    seconds = abs(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = math.ceil(rest / 60) if not days else 0
    parts = []
    if days:
        parts.append(f"{days} day{'s' if days != 1 else ''}")
    if hours:
        parts.append(f"{hours} h")
    if minutes and not days:
        parts.append(f"{minutes} min")
    return " ".join(parts) or "0 min"


CLOCK_STATES = {
    "met": ("Met", "deadline-met"),
    "met_late": ("Met late", "deadline-overdue"),
    "overdue": ("Overdue", "deadline-overdue"),
    "due_soon": ("Due soon", "deadline-due-soon"),
    "pending": ("Pending", "text-bg-secondary"),
}


def clocks(incident: Incident) -> list[Clock]:
    """The report's deadline clocks with the API's status (one `now` for all) and the time left."""
    regimes = dict(DeadlineRegime.choices)
    context: dict[str, Any] = {"now": timezone.now()}
    rows = []
    for deadline, data in zip(
        incident.deadlines.all(),
        IncidentDeadlineSerializer(incident.deadlines.all(), many=True, context=context).data,
        strict=True,
    ):
        status = data["status"]
        remaining = data["remaining_seconds"]
        if status == "pending" and remaining is not None and remaining < DUE_SOON.total_seconds():
            status = "due_soon"
        if remaining is None:
            left = ""
        elif remaining < 0:
            left = f"overdue by {duration_words(remaining)}"
        else:
            left = f"{duration_words(remaining)} left"
        label, css = CLOCK_STATES[status]
        rows.append(
            Clock(
                regime=regimes.get(deadline.regime, deadline.regime),
                stage=humanize(deadline.stage),
                sequence=deadline.sequence,
                due_at=deadline.due_at,
                satisfied_at=deadline.satisfied_at,
                status=status,
                label=label,
                css=css,
                left=left,
            )
        )
    return rows


# --- timeline ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One line of the timeline: a workflow step, a revision, a comment or an assessment."""

    kind: str  # transition, revision, comment, assessment
    at: datetime
    order: int
    title: str
    by: str = ""
    body: str = ""
    badge: str = ""
    badge_class: str = "text-bg-secondary"
    details: tuple[str, ...] = ()
    link: str = ""


def _transition_entry(step: IncidentTransition) -> Entry:
    label = (
        ACTION_LABELS.get(Action(step.action), humanize(step.action))
        if step.action in ACTION_VALUES
        else step.action
    )
    details = step.details or {}
    if details.get("awaiting_confirmation"):
        title = f"{label}: awaits a second reviewer's confirmation"
    else:
        title = f"{label}: {humanize(step.from_state)} → {humanize(step.to_state)}"
    named = tuple(
        f"{humanize(key)}: {details[key]}"
        for key in ("assignee", "duplicate_of", "replaced_by")
        if details.get(key)
    )
    reason = humanize(step.reason) if step.action == Action.REJECT else step.reason
    return Entry("transition", step.created_at, 1, title, by=step.actor_label, body=reason, details=named)


def timeline(actor: Principal, incident: Incident) -> list[Entry]:
    """Every dated thing of the report the principal may see (each list through its selector), oldest
    first."""
    ref = incident.public_id
    entries = [
        Entry(
            "revision",
            r.received_at,
            0,
            f"Revision {r.number}" + (" (first report)" if r.number == 1 else ""),
            by=r.submitted_by,
            body=r.change_summary,
            link=reverse("incident-revision", kwargs={"ref": ref, "number": r.number}),
        )
        for r in selectors.revision_list(actor=actor, incident_ref=ref).defer("payload")
    ]
    entries += [_transition_entry(t) for t in selectors.transition_list(actor=actor, incident=incident)]
    for c in selectors.comment_list(actor=actor, incident_ref=ref):
        internal = c.visibility == CommentVisibility.INTERNAL
        entries.append(
            Entry(
                "comment",
                c.created_at,
                2,
                "Internal comment" if internal else "Comment shared with the submitter",
                by=f"{c.author} ({c.author_org.short_name})",
                body=c.body,
                badge="Internal: reviewers and regulators only" if internal else "Shared",
                badge_class="text-bg-warning" if internal else "text-bg-info",
            )
        )
    for a in selectors.assessment_list(actor=actor, incident_ref=ref):
        severity = f"; severity override: {humanize(a.severity_override)}" if a.severity_override else ""
        entries.append(
            Entry(
                "assessment",
                a.modified_at,
                3,
                f"Assessment by {a.org.short_name}: {humanize(a.verdict)}{severity}",
                by=a.updated_by,
                body=a.notes,
                badge=f"TLP:{a.tlp.upper()}",
                badge_class=f"tlp tlp-{a.tlp.replace('+', '-')}",
            )
        )
    return sorted(entries, key=lambda entry: (entry.at, entry.order))


# --- actions -----------------------------------------------------------------------------------------


@dataclass
class ActionView:
    """One action button the table allows, with its form when it needs input."""

    action: str
    label: str
    form: VersionedForm
    needs_input: bool
    confirm: str = ""
    link: str = ""
    open: bool = False


@dataclass
class Bound:
    """Forms posted back with errors, to draw in place of the blank ones."""

    action: str = ""
    action_form: VersionedForm | None = None
    comment: CommentForm | None = None
    assessment: AssessmentForm | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _link_for(name: str, ref: str) -> str:
    try:
        return reverse(name, kwargs={"ref": ref})
    except NoReverseMatch:  # another helper's page may not exist yet: then no link
        return ""


def action_views(actor: Principal, incident: Incident, version: str, bound: Bound) -> list[ActionView]:
    """Exactly `workflows.available_actions(actor, incident)`, in table order, each with its form."""
    reviewers = selectors.assignable_reviewers(actor=actor)
    views = []
    for name in workflows.available_actions(actor, incident):
        step = Action(name)
        form = (
            bound.action_form
            if bound.action == name and bound.action_form is not None
            else action_form(step, reviewers=reviewers, initial={"version": version})
        )
        visible = [f for f in form.fields if f != "version"]
        link = _link_for("incident-respond", incident.public_id) if step == Action.RESPOND else ""
        views.append(
            ActionView(
                action=name,
                label=ACTION_LABELS[step],
                form=form,
                needs_input=bool(visible),
                confirm=CONFIRM.get(step, ""),
                link=link,
                open=bound.action == name,
            )
        )
    return views


# --- the page ----------------------------------------------------------------------------------------


def _own_assessment(actor: Principal, incident: Incident) -> Assessment | None:
    try:
        return selectors.assessment_get_own(actor=actor, incident_ref=incident.public_id)
    except NotFound:
        return None


def page_context(actor: Principal, incident: Incident, bound: Bound | None = None) -> dict[str, Any]:
    bound = bound or Bound()
    data = IncidentDetailSerializer(incident, context={"actor": actor}).data
    version = etag_for(incident)
    staff = selectors.is_oversight_staff(actor)
    submitter = Party.SUBMITTER in workflows.parties_of(actor, incident)
    visible_models = {
        m.public_id for m in selectors.incident_visible_models(actor=actor, incident=incident).values()
    }
    models = [
        {
            "model": item["model"],
            "model_name": item["model_name"],
            "role": humanize(item["role"]),
            # A link only to a model this principal may open (the page 404s on the others).
            "url": _link_for("model-detail", item["model"]) if item["model"] in visible_models else "",
        }
        for item in data.get("models", [])
    ]
    context: dict[str, Any] = {
        "incident": incident,
        "data": data,
        "tlp_class": f"tlp-{incident.tlp.replace('+', '-')}",
        "tlp_label": f"TLP:{incident.tlp.upper()}",
        "status_label": humanize(incident.status),
        "stage_label": humanize(incident.report_stage),
        "groups": field_groups(data),
        "models": models,
        "clocks": clocks(incident),
        "timeline": timeline(actor, incident),
        "evidence": list(selectors.evidence_list(actor=actor, incident_ref=incident.public_id)),
        "actions": action_views(actor, incident, version, bound),
        "version": version,
        "is_submitter": submitter,
        "is_staff": staff,
        "amend_url": _link_for("incident-amend", incident.public_id) if submitter else "",
        "aliases": data.get("aliases", []),
        "exports": [
            ("STIX 2.1 bundle", reverse("api:incident-stix", kwargs={"ref": incident.public_id})),
            ("Export CRF (JSON)", reverse("api:incident-crf", kwargs={"ref": incident.public_id})),
            ("Export EU template", reverse("api:incident-eu-template", kwargs={"ref": incident.public_id})),
            (
                "EU template (printable)",
                reverse("api:incident-eu-template-html", kwargs={"ref": incident.public_id}),
            ),
        ],
    }
    # Comments: oversight staff write internal or shared ones, the submitting organisation shared ones.
    if staff or (actor.org_id is not None and actor.org_id == incident.owner_org_id):
        context["comment_form"] = bound.comment or CommentForm(internal_allowed=staff)
    if staff and actor.org_id is not None:
        own = _own_assessment(actor, incident)
        context["own_assessment"] = own
        context["assessment_form"] = bound.assessment or AssessmentForm(
            initial={
                "version": etag_for(own) if own else "",
                **(
                    {name: getattr(own, name) for name in ("verdict", "severity_override", "notes", "tlp")}
                    if own
                    else {}
                ),
            }
        )
        candidates = selectors.duplicate_candidates(
            actor=actor, incident=incident, limit=DUPLICATE_CANDIDATES
        )
        context["candidates"] = candidates
    return context


def _page(
    request: HttpRequest, actor: Principal, incident: Incident, bound: Bound | None = None, status: int = 200
) -> HttpResponse:
    return render(request, PAGE, page_context(actor, incident, bound), status=status)


@require_GET
def incident_detail(request: HttpRequest, ref: str) -> HttpResponse:
    """One report as this principal may see it (anonymous visitors: TLP:CLEAR ones); otherwise 404."""
    actor = web_principal(request)
    return _page(request, actor, selectors.incident_get(actor=actor, ref=ref))


def _back(incident: Incident, anchor: str = "") -> HttpResponseRedirect:
    url = reverse("incident-detail", kwargs={"ref": incident.public_id})
    return HttpResponseRedirect(f"{url}#{anchor}" if anchor else url)


class _IfMatch:
    """The If-Match header a page form carries in its `version` field (core.api.views.check_if_match
    reads nothing else of the request)."""

    def __init__(self, version: str) -> None:
        self.headers = {"If-Match": version} if version else {}


def check_version(version: str, incident: Incident) -> None:
    """The API's If-Match check on the page's version: 412 `etag_mismatch` when the report changed."""
    check_if_match(cast(Request, _IfMatch(version)), incident)


@login_required
@require_POST
def incident_action(request: HttpRequest, ref: str, action: str) -> HttpResponse:
    """One workflow action, as the API's `POST /api/v1/incidents/{ref}/<action>`: visibility (404),
    If-Match (the page's version), then one `services.incident_transition` call with the same parameters.
    Bad input redraws the page with the errors on the action's form; a refusal is a message."""
    actor = web_principal(request)
    incident = selectors.incident_get(actor=actor, ref=ref)
    if action not in ACTION_VALUES:
        raise NotFound(f"No action {action!r}.")
    step = Action(action)
    form = action_form(step, reviewers=selectors.assignable_reviewers(actor=actor), data=request.POST)
    if form.is_valid():
        params = {name: value for name, value in form.cleaned_data.items() if name != "version"}
        try:
            check_version(form.cleaned_data["version"], incident)
            services.incident_transition(actor=actor, incident=incident, action=step, **params)
        except PreconditionFailed:
            messages.error(request, STALE)
            return _back(incident)
        except ValidationFailed as exc:
            add_domain_errors(form, exc)
        except NotFound as exc:
            if step not in REFERENCE_FIELDS:
                raise
            form.add_error(
                REFERENCE_FIELDS[step],
                f"No report {params[REFERENCE_FIELDS[step]]!r} that you can see. ({exc.detail})",
            )
        except DomainError as exc:
            messages.error(request, f"{ACTION_LABELS[step]}: not done. {exc.detail}")
            return _back(incident)
        else:
            messages.success(request, DONE[step].format(ref=incident.public_id))
            return _back(incident)
    return _page(request, actor, incident, Bound(action=action, action_form=form), status=400)


@login_required
@require_POST
def incident_comment(request: HttpRequest, ref: str) -> HttpResponse:
    """Add a comment through `services.comment_add` (the API's POST .../comments)."""
    actor = web_principal(request)
    incident = selectors.incident_get(actor=actor, ref=ref)
    form = CommentForm(request.POST, internal_allowed=selectors.is_oversight_staff(actor))
    if form.is_valid():
        try:
            comment = services.comment_add(
                actor=actor,
                incident=incident,
                visibility=form.cleaned_data["visibility"],
                body=form.cleaned_data["body"],
            )
        except ValidationFailed as exc:
            add_domain_errors(form, exc)
        except DomainError as exc:
            if exc.status == 404:
                raise
            messages.error(request, f"Comment not added. {exc.detail}")
            return _back(incident)
        else:
            shared = comment.visibility == CommentVisibility.SHARED
            messages.success(
                request, "Comment added (shared with the submitter)." if shared else "Internal comment added."
            )
            return _back(incident, "timeline")
    return _page(request, actor, incident, Bound(comment=form), status=400)


@login_required
@require_POST
def incident_assessment(request: HttpRequest, ref: str) -> HttpResponse:
    """Create or replace the organisation's assessment container through `services.assessment_set`, with
    the container's version as If-Match (the API's PUT .../assessments/mine)."""
    actor = web_principal(request)
    incident = selectors.incident_get(actor=actor, ref=ref)
    form = AssessmentForm(request.POST)
    if form.is_valid():
        data = {name: form.cleaned_data[name] for name in ("verdict", "severity_override", "notes", "tlp")}
        try:
            services.assessment_set(
                actor=actor, incident=incident, data=data, if_match=form.cleaned_data["version"] or None
            )
        except PreconditionFailed:
            messages.error(
                request,
                "Your organisation's assessment changed since you loaded this page. Nothing was saved: "
                "check the current assessment and try again.",
            )
            return _back(incident, "assessment")
        except ValidationFailed as exc:
            add_domain_errors(form, exc)
        except DomainError as exc:
            if exc.status == 404:
                raise
            messages.error(request, f"Assessment not saved. {exc.detail}")
            return _back(incident, "assessment")
        else:
            messages.success(request, "Assessment saved.")
            return _back(incident, "assessment")
    return _page(request, actor, incident, Bound(assessment=form), status=400)


# --- revision diff and evidence download -------------------------------------------------------------


class CompareForm(forms.Form):
    against = forms.TypedChoiceField(label="Compare with revision", coerce=int)


def _shown(value: Any) -> str | None:
    """A payload value as text: strings as they are, anything else as indented JSON."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True)


@require_GET
def incident_revision(request: HttpRequest, ref: str, number: int) -> HttpResponse:
    """Revision `number` field by field against the one before it (or `?against=<n>`): the selectors'
    revision_compare, the same comparison as the API's `revisions/compare`."""
    actor = web_principal(request)
    incident = selectors.incident_get(actor=actor, ref=ref)
    revisions = list(selectors.revision_list(actor=actor, incident_ref=ref).defer("payload"))
    revision = selectors.revision_get(actor=actor, incident_ref=ref, number=number)
    others = [r.number for r in revisions if r.number != number]
    form = CompareForm(request.GET or None, initial={"against": number - 1})
    form.fields["against"].choices = [(n, f"Revision {n}") for n in others]  # type: ignore[attr-defined]
    against = number - 1
    if request.GET and form.is_valid():
        against = form.cleaned_data["against"]
    if against >= 1:
        comparison = selectors.revision_compare(
            actor=actor, incident_ref=ref, from_number=against, to_number=number
        )
        changes = comparison["changes"]
    else:  # the first revision: every field is new
        changes = selectors.revision_diff({}, revision.payload)
    context = {
        "incident": incident,
        "tlp_class": f"tlp-{incident.tlp.replace('+', '-')}",
        "tlp_label": f"TLP:{incident.tlp.upper()}",
        "revision": revision,
        "against": against,
        "changes": [
            {
                "field": humanize(change["field"]),
                "key": change["field"],
                "from": _shown(change["from"]),
                "to": _shown(change["to"]),
            }
            for change in changes
        ],
        "form": form if others else None,
        "revisions": revisions,
    }
    status = 400 if request.GET and not form.is_valid() else 200
    return render(request, "incidents/detail/revision.html", context, status=status)


@require_GET
def incident_evidence_download(request: HttpRequest, ref: str, evidence_id: str) -> FileResponse:
    """The file, streamed through `services.evidence_open` (visibility checked, download audited), with
    the API's headers: an attachment the browser never sniffs or runs."""
    actor = web_principal(request)
    evidence = selectors.evidence_get(actor=actor, incident_ref=ref, evidence_id=evidence_id)
    handle = services.evidence_open(actor=actor, evidence=evidence)
    response = FileResponse(
        handle, as_attachment=True, filename=evidence.file_name, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "sandbox"
    response["Repr-Digest"] = f"sha-256=:{base64.b64encode(bytes.fromhex(evidence.sha256)).decode()}:"
    return response


urlpatterns: list[URLPattern | URLResolver] = [
    path("incidents/<str:ref>/", incident_detail, name="incident-detail"),
    path("incidents/<str:ref>/revisions/<int:number>/", incident_revision, name="incident-revision"),
    path(
        "incidents/<str:ref>/evidence/<str:evidence_id>/download",
        incident_evidence_download,
        name="incident-evidence-download",
    ),
    path("incidents/<str:ref>/actions/<str:action>", incident_action, name="incident-action"),
    path("incidents/<str:ref>/comments", incident_comment, name="incident-comment"),
    path("incidents/<str:ref>/assessment", incident_assessment, name="incident-assessment"),
]
