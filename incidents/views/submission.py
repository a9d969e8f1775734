"""The lab's submission pages (issue 5 item 5): the multi-step report with drafts, the receipt, the
amendment and the answer to an information request.

The same rules as the API, from the same code: every step runs the API's input serializer
(incidents.api.serializers) over the assembled report and shows the errors of its own fields; filing calls
services.incident_submit with the links resolved by the API's own `resolve_links`; amending calls
services.incident_amend after the API's If-Match check; answering calls the workflow service's `respond`.
Only members of a lab or evaluator with incidents:write reach these pages; everybody else finds nothing
(404), and a report of another organisation is 404 too."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import URLPattern, URLResolver, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST
from rest_framework import serializers

from api_docs.contract import validate_submission
from core.actors import Principal, web_principal
from core.api.errors import flatten_validation_errors
from core.api.views import etag_for
from core.errors import DomainError, FieldError, NotFound, PreconditionFailed, ValidationFailed
from incidents import selectors, services, workflows
from incidents.api.serializers import (
    EvidenceUploadSerializer,
    IncidentAmendSerializer,
    IncidentWriteSerializer,
    TransitionSerializer,
)
from incidents.api.views import resolve_links
from incidents.deadlines import deadline_status
from incidents.forms.submission import (
    STEP_FORMS,
    STEPS,
    AmendSummaryForm,
    EvidenceForm,
    ModelsForm,
    RespondForm,
    StepForm,
    WhatHappenedForm,
    max_evidence_bytes,
    step_of,
)
from incidents.models import Evidence, Incident, IncidentDraft, IncidentStatus
from registry import selectors as registry_selectors

REVIEW = "review"
STEP_ORDER = [*STEPS, REVIEW]
STEP_TITLES = {**{form.slug: form.heading for form in STEP_FORMS}, REVIEW: "Review and submit"}
# What the API requires of a submission: marked on the labels.
API_REQUIRED = frozenset(name for name, field in IncidentWriteSerializer().fields.items() if field.required)
NEW_REPORT_DEFAULTS: dict[str, Any] = {"tlp": "amber", "report_stage": "initial"}


# --- plumbing -----------------------------------------------------------------------------------------


def _filer(request: HttpRequest) -> Principal:
    """The acting lab member; anybody else finds no submission page."""
    actor = web_principal(request)
    if not selectors.can_file_reports(actor):
        raise NotFound("No such page.")
    return actor


def _own_incident(actor: Principal, ref: str) -> Incident:
    """A report of the actor's own organisation (through the visibility rule); any other is 404."""
    incident = selectors.incident_get(actor=actor, ref=ref)
    if incident.owner_org_id != actor.org_id:
        raise NotFound(f"No incident {ref!r}.")
    return incident


def api_errors(serializer_class: type[serializers.Serializer], data: dict[str, Any]) -> list[FieldError]:
    """The API's field errors for `data`, exactly as its problem+json would list them."""
    serializer = serializer_class(data=data)
    if serializer.is_valid():
        return []
    return flatten_validation_errors(serializer.errors)


def link_errors(actor: Principal, data: dict[str, Any], *, partial: bool = False) -> list[FieldError]:
    """Whether the references (models, scaffold, evaluations) resolve for the actor, as the API resolves
    them (an out-of-scope id is the API's 404; here an error on its field)."""
    try:
        resolve_links(actor, dict(data), partial=partial)
    except NotFound as exc:
        return [FieldError(field=_link_field(exc), code=exc.code, message=exc.detail)]
    return []


def _link_field(exc: NotFound) -> str:
    if exc.detail.startswith("No scaffold"):
        return "scaffold"
    if exc.detail.startswith("No evaluation"):
        return "related_evaluations"
    return "models"


def _choices(actor: Principal) -> dict[str, Any]:
    """The registered models and scaffolds the lab may name (the registry's visibility rule)."""
    models = registry_selectors.frontier_model_list(actor=actor).order_by("name", "public_id")
    scaffolds = registry_selectors.scaffold_list(actor=actor).order_by("name", "public_id")
    return {
        "model_choices": [
            (m.public_id, f"{m.name} {m.version}".strip() + f" ({m.public_id})") for m in models
        ],
        "scaffold_choices": [
            (s.public_id, f"{s.name} {s.version}".strip() + f" ({s.public_id})") for s in scaffolds
        ],
    }


def _form(
    actor: Principal,
    form_class: type[StepForm],
    current: dict[str, Any],
    data: Any = None,
    **kwargs: Any,
) -> StepForm:
    extra: dict[str, Any] = {"api_required": API_REQUIRED, **kwargs}
    if form_class is ModelsForm:
        extra.update(_choices(actor))
        extra["rows"] = len(current.get("models") or []) + 1
    return form_class(data, initial=form_class.initial_from(current), **extra)


def _default_capacity(actor: Principal) -> str:
    return "evaluator" if actor.org_kind == "evaluator" else "provider"


def _step_url(draft: IncidentDraft, step: str) -> str:
    return reverse("incident-draft-step", args=[draft.pk, step])


@dataclass
class StepError:
    step: str
    title: str
    url: str
    field: str
    message: str


def _grouped(draft: IncidentDraft, errors: Sequence[FieldError]) -> list[StepError]:
    out = []
    for error in errors:
        form = step_of(error.field)
        step = form.slug if form else REVIEW
        out.append(
            StepError(
                step=step,
                title=STEP_TITLES[step],
                url=_step_url(draft, step),
                field=error.field or "report",
                message=error.message,
            )
        )
    return out


# --- the multi-step report ----------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def incident_new(request: HttpRequest) -> HttpResponse:
    """`/incidents/new/`: the author's drafts, and the first step of a new report (saving it makes a
    draft)."""
    actor = _filer(request)
    if request.method == "POST":
        return _save_step(request, actor, None, WhatHappenedForm)
    current = {**NEW_REPORT_DEFAULTS, "submitter_capacity": _default_capacity(actor)}
    form = _form(actor, WhatHappenedForm, current)
    return _render_step(request, None, form, drafts=selectors.incident_draft_list(actor=actor))


@login_required
@require_http_methods(["GET", "POST"])
def incident_draft_step(request: HttpRequest, draft_id: UUID, step: str) -> HttpResponse:
    """`/incidents/new/<draft>/<step>/`: one step of a draft (the author's own only)."""
    actor = _filer(request)
    draft = selectors.incident_draft_get(actor=actor, draft_id=draft_id)
    if step == REVIEW:
        return _review(request, actor, draft)
    form_class = STEPS.get(step)
    if form_class is None:
        raise NotFound("No such step.")
    if request.method == "POST":
        return _save_step(request, actor, draft, form_class)
    return _render_step(request, draft, _form(actor, form_class, draft.data))


def _render_step(
    request: HttpRequest,
    draft: IncidentDraft | None,
    form: StepForm,
    *,
    status: int = 200,
    drafts: Any = None,
    errors: Sequence[FieldError] = (),
) -> HttpResponse:
    slug = form.slug
    index = STEP_ORDER.index(slug)
    context = {
        "draft": draft,
        "form": form,
        "step": slug,
        "step_title": STEP_TITLES[slug],
        "steps": _progress(draft, slug),
        "step_number": index + 1,
        "step_count": len(STEP_ORDER),
        "is_first": index == 0,
        "next_title": STEP_TITLES[STEP_ORDER[index + 1]],
        "form_action": _step_url(draft, slug) if draft else reverse("incident-new"),
        "drafts": None
        if drafts is None
        else [
            {"draft": d, "step_title": STEP_TITLES.get(d.step, d.step), "url": _step_url(d, d.step)}
            for d in drafts
        ],
        "api_errors": list(errors),
    }
    return render(request, "incidents/submit/step.html", context, status=status)


def _progress(draft: IncidentDraft | None, current: str) -> list[dict[str, Any]]:
    return [
        {
            "slug": slug,
            "title": STEP_TITLES[slug],
            "number": number,
            "current": slug == current,
            "url": _step_url(draft, slug) if draft else None,
        }
        for number, slug in enumerate(STEP_ORDER, start=1)
    ]


def _save_step(
    request: HttpRequest, actor: Principal, draft: IncidentDraft | None, form_class: type[StepForm]
) -> HttpResponse:
    """Save the step into the draft whatever it holds, then: Save draft stays, Back goes back, Next
    goes on only when the API finds nothing wrong with this step's fields."""
    current = draft.data if draft else {}
    form = _form(actor, form_class, current, data=request.POST)
    form.is_valid()  # shape only: the fields check nothing, the serializer below does
    action = request.POST.get("action", "save")
    index = STEP_ORDER.index(form_class.slug)
    target = STEP_ORDER[max(index - 1, 0)] if action == "back" else form_class.slug
    values = form.to_api() if draft else {**NEW_REPORT_DEFAULTS, **form.to_api()}
    draft = services.incident_draft_save(actor=actor, draft=draft, step=target, data=values)
    if action == "back":
        return HttpResponseRedirect(_step_url(draft, target))
    if action != "next":
        messages.success(request, f"Draft saved at {timezone.localtime(draft.updated_at):%H:%M:%S} UTC.")
        return HttpResponseRedirect(_step_url(draft, form_class.slug))
    errors = [e for e in api_errors(IncidentWriteSerializer, draft.data) if form.owns(e.field)]
    if not errors and form_class is ModelsForm:
        links = {key: draft.data[key] for key in ("models", "scaffold") if key in draft.data}
        errors = link_errors(actor, links)
    if errors:
        form.place_errors(errors)
        return _render_step(request, draft, form, status=400, errors=errors)
    following = STEP_ORDER[index + 1]
    services.incident_draft_save(actor=actor, draft=draft, step=following, data={})
    return HttpResponseRedirect(_step_url(draft, following))


def _summary(actor: Principal, draft: IncidentDraft) -> list[dict[str, Any]]:
    """What the review step shows: each step's fields with the values entered, as labelled choices."""
    sections = []
    for form_class in STEP_FORMS:
        form = _form(actor, form_class, draft.data)
        rows: list[tuple[str, str]] = []
        if isinstance(form, ModelsForm):
            names = dict(_choices(actor)["model_choices"])
            for item in draft.data.get("models") or []:
                label = names.get(item.get("model") or "", item.get("model") or "") or item.get(
                    "model_name", ""
                )
                rows.append(("Model", f"{label} — {item.get('role') or '?'}"))
        for name in form_class.api_fields:
            if name == "models" or name not in form.fields:
                continue
            rows.append((str(form.fields[name].label), _display(form, name, draft.data.get(name))))
        sections.append(
            {
                "slug": form_class.slug,
                "title": form_class.heading,
                "rows": rows,
                "url": _step_url(draft, form_class.slug),
            }
        )
    return sections


def _display(form: StepForm, name: str, value: Any) -> str:
    if value in (None, "", []):
        return "—"
    if isinstance(value, bool):
        return "Yes" if value else "No"
    choices = dict(getattr(form.fields[name], "choices", []) or [])
    if isinstance(value, list):
        return ", ".join(str(choices.get(item, item)) for item in value)
    return str(choices.get(value, value))


def _review(request: HttpRequest, actor: Principal, draft: IncidentDraft) -> HttpResponse:
    """The last step: everything entered, every error the API would give, and Submit report."""
    evidence_form = EvidenceForm()
    status, failure = 200, ""
    errors = api_errors(IncidentWriteSerializer, draft.data)
    if request.method == "POST":
        action = request.POST.get("action", "submit")
        if action == "back":
            return HttpResponseRedirect(_step_url(draft, STEP_ORDER[-2]))
        if action == "delete":
            services.incident_draft_delete(actor=actor, draft=draft)
            messages.success(request, "Draft deleted.")
            return HttpResponseRedirect(reverse("incident-new"))
        evidence_form = EvidenceForm(request.POST, request.FILES)
        if not errors:
            try:
                receipt = _file(actor, draft)
            except DomainError as exc:
                errors, failure, status = exc.errors, exc.detail, exc.status
            else:
                _attach_after_filing(request, actor, receipt.incident, evidence_form)
                messages.success(request, f"Report {receipt.incident.public_id} filed.")
                return HttpResponseRedirect(reverse("incident-receipt", args=[receipt.incident.public_id]))
        else:
            status = 400
    context = {
        "draft": draft,
        "step": REVIEW,
        "step_title": STEP_TITLES[REVIEW],
        "steps": _progress(draft, REVIEW),
        "step_number": len(STEP_ORDER),
        "step_count": len(STEP_ORDER),
        "sections": _summary(actor, draft),
        "errors": _grouped(draft, errors),
        "api_errors": errors,
        "failure": failure,
        "evidence_form": evidence_form,
        "max_evidence_bytes": max_evidence_bytes(),
    }
    return render(request, "incidents/submit/review.html", context, status=status)


def _file(actor: Principal, draft: IncidentDraft) -> services.Receipt:
    """What the API's POST /incidents does, on the draft's data: parse, schema, links, incident_submit
    (with the draft deleted in the same transaction)."""
    serializer = IncidentWriteSerializer(data=draft.data)
    serializer.is_valid(raise_exception=False)
    data = dict(serializer.validated_data)
    validate_submission("incident", draft.data)
    try:
        links = resolve_links(actor, data)
    except NotFound as exc:
        raise NotFound(
            exc.detail, errors=[FieldError(field=_link_field(exc), code="not_found", message=exc.detail)]
        ) from exc
    assert links is not None
    return services.incident_draft_submit(actor=actor, draft=draft, data=data, links=links)


def _attach_after_filing(
    request: HttpRequest, actor: Principal, incident: Incident, form: EvidenceForm
) -> None:
    """The evidence file chosen on the review step, attached to the filed report with its own service
    call. A failure leaves the report filed as it was and says so (the receipt page takes the file)."""
    if not form.is_valid() or not form.cleaned_data.get("file"):
        return
    try:
        evidence = _evidence_add(actor, incident, form)
    except DomainError as exc:
        messages.error(
            request,
            f"The report is filed, but the evidence file was not attached: {exc.detail} "
            "Attach it again below.",
        )
    else:
        messages.success(request, f"Evidence {evidence.file_name} attached.")


def _evidence_add(actor: Principal, incident: Incident, form: EvidenceForm) -> Evidence:
    """The API's evidence upload: its serializer on the form's values, then services.evidence_add."""
    upload = form.cleaned_data["file"]
    serializer = EvidenceUploadSerializer(
        data={
            "file": upload,
            "kind": form.cleaned_data.get("kind") or "other",
            "description": form.cleaned_data.get("evidence_description") or "",
        }
    )
    if not serializer.is_valid():
        errors = flatten_validation_errors(serializer.errors)
        raise ValidationFailed("; ".join(e.message for e in errors), errors=errors)
    data = serializer.validated_data
    return services.evidence_add(
        actor=actor,
        incident=incident,
        upload=data["file"],
        kind=data["kind"],
        description=data["description"],
        declared_type=getattr(upload, "content_type", "") or "",
    )


def _place_evidence_errors(form: EvidenceForm, exc: DomainError) -> None:
    names = {"file": "file", "kind": "kind", "description": "evidence_description"}
    placed = False
    for error in exc.errors:
        target = names.get(error.field.split(".")[0])
        if target:
            form.add_error(target, error.message)
            placed = True
    if not placed:
        form.add_error("file", exc.detail)


@login_required
@require_POST
def incident_draft_delete(request: HttpRequest, draft_id: UUID) -> HttpResponse:
    actor = _filer(request)
    draft = selectors.incident_draft_get(actor=actor, draft_id=draft_id)
    services.incident_draft_delete(actor=actor, draft=draft)
    messages.success(request, "Draft deleted.")
    return HttpResponseRedirect(reverse("incident-new"))


# --- the receipt, with evidence upload ---------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def incident_receipt(request: HttpRequest, ref: str) -> HttpResponse:
    """`/incidents/<ref>/receipt/`: what the service's Receipt says (public id, receipt time, digest of
    the stored revision), the clocks that started, the evidence, and an upload for more."""
    actor = _filer(request)
    incident = _own_incident(actor, ref)
    form = EvidenceForm(file_required=True)
    status = 200
    if request.method == "POST":
        form = EvidenceForm(request.POST, request.FILES, file_required=True)
        if form.is_valid():
            try:
                evidence = _evidence_add(actor, incident, form)
            except DomainError as exc:
                _place_evidence_errors(form, exc)
                status = exc.status
            else:
                messages.success(
                    request, f"Evidence {evidence.file_name} attached ({evidence.sha256[:12]}…)."
                )
                return HttpResponseRedirect(reverse("incident-receipt", args=[incident.public_id]))
        else:
            status = 400
    revision = selectors.revision_get(
        actor=actor, incident_ref=incident.public_id, number=incident.revision_number
    )
    now = timezone.now()
    clocks = [
        {"deadline": d, "status": deadline_status(d.due_at, d.satisfied_at, now)}
        for d in incident.deadlines.all()
    ]
    context = {
        "incident": incident,
        "revision": revision,
        "clocks": clocks,
        "evidence": list(selectors.evidence_list(actor=actor, incident_ref=incident.public_id)),
        "form": form,
        "can_respond": workflows.refusal(actor, incident, workflows.TABLE[workflows.Action.RESPOND]) is None,
    }
    return render(request, "incidents/submit/receipt.html", context, status=status)


# --- amendment ---------------------------------------------------------------------------------------


def current_report(incident: Incident) -> dict[str, Any]:
    """The report as it stands, in the submission's shape (what the amendment form starts from)."""
    data: dict[str, Any] = {}
    for form_class in STEP_FORMS:
        for name in form_class.api_fields:
            if name not in ("models", "scaffold"):
                data[name] = getattr(incident, name)
    data["models"] = [
        {
            "model": link.model.public_id if link.model else None,
            "model_name": link.model_name,
            "role": link.role,
        }
        for link in incident.involved_models.all()
    ]
    data["scaffold"] = incident.scaffold.public_id if incident.scaffold else None
    data["related_evaluations"] = sorted(e.public_id for e in incident.related_evaluations.all())
    return data


LINK_KEYS = ("models", "scaffold", "related_evaluations")


@login_required
@require_http_methods(["GET", "POST"])
def incident_amend(request: HttpRequest, ref: str) -> HttpResponse:
    """`/incidents/<ref>/amend/`: the step forms prefilled from the report; what changed goes to
    services.incident_amend as the API's PATCH does (If-Match from the hidden version), making a revision."""
    actor = _filer(request)
    incident = _own_incident(actor, ref)
    current = current_report(incident)
    version = etag_for(incident)
    data = request.POST if request.method == "POST" else None
    step_forms = [_form(actor, form_class, current, data=data) for form_class in STEP_FORMS]
    for form in step_forms:
        form.fields.pop("external_id", None)  # an amendment never changes it (the API refuses it)
    summary_form = AmendSummaryForm(data, initial={"version": version})
    status, errors = 200, []
    if request.method == "POST":
        try:
            revision = _amend(actor, incident, current, version, step_forms, summary_form)
        except DomainError as exc:
            errors, status = list(exc.errors), exc.status
            for form in step_forms:
                form.place_errors(errors)
            leftover = [e for e in errors if step_of(e.field) is None and e.field != "change_summary"]
            for error in leftover:
                summary_form.add_error(
                    None, f"{error.field}: {error.message}" if error.field else error.message
                )
            if "change_summary" in {e.field for e in errors}:
                summary_form.add_error(
                    "change_summary", next(e.message for e in errors if e.field == "change_summary")
                )
            if not errors:
                summary_form.add_error(None, exc.detail)
        else:
            messages.success(request, f"Revision {revision} of {incident.public_id} filed.")
            return HttpResponseRedirect(reverse("incident-receipt", args=[incident.public_id]))
    context = {
        "incident": incident,
        "step_forms": step_forms,
        "summary_form": summary_form,
        "api_errors": errors,
    }
    return render(request, "incidents/submit/amend.html", context, status=status)


def _amend(
    actor: Principal,
    incident: Incident,
    current: dict[str, Any],
    version: str,
    step_forms: list[StepForm],
    summary_form: AmendSummaryForm,
) -> int:
    """Parse, If-Match, validate with the API's amend serializer, resolve links, amend: the revision
    number, or the DomainError to show."""
    if not summary_form.is_valid():
        raise ValidationFailed(
            "Check the summary.",
            errors=[
                FieldError(field=name, code="invalid", message=str(message))
                for name, messages_ in summary_form.errors.items()
                for message in messages_
            ],
        )
    if summary_form.cleaned_data["version"] != version:
        raise PreconditionFailed(
            "The report changed since you opened this page (another amendment or a workflow step). "
            "Reload the page to see the current report, then make your changes again.",
            code="etag_mismatch",
        )
    changes: dict[str, Any] = {}
    for form in step_forms:
        form.is_valid()
        values = form.to_api()
        changed = set(form.changed_data)
        for name, value in values.items():
            if name == "models":
                if any(field.startswith("models-") for field in changed):
                    changes[name] = value
            elif name in changed:
                changes[name] = value
    if any(key in changes for key in LINK_KEYS):
        # The API replaces all references when any is sent: send the others as they are.
        for key in LINK_KEYS:
            changes.setdefault(key, current[key])
    body = {**changes, "change_summary": summary_form.cleaned_data.get("change_summary", "")}
    errors = api_errors(IncidentAmendSerializer, body)
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors[:5]), errors=errors)
    serializer = IncidentAmendSerializer(data=body)
    serializer.is_valid(raise_exception=False)
    parsed = dict(serializer.validated_data)
    summary = parsed.pop("change_summary", "")
    try:
        links = resolve_links(actor, parsed, partial=True)
    except NotFound as exc:
        raise NotFound(
            exc.detail, errors=[FieldError(field=_link_field(exc), code="not_found", message=exc.detail)]
        ) from exc
    _, revision = services.incident_amend(
        actor=actor, incident=incident, changes=parsed, links=links, summary=summary
    )
    return revision.number


# --- answering an information request ----------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def incident_respond(request: HttpRequest, ref: str) -> HttpResponse:
    """`/incidents/<ref>/respond/`: the reviewer's request, a response, optional evidence, and Send
    response: the workflow's `respond` (needs_information -> in_review) as the API's respond action."""
    actor = _filer(request)
    incident = _own_incident(actor, ref)
    respond_form = RespondForm(request.POST or None)
    evidence_form = EvidenceForm(request.POST or None, request.FILES or None)
    status = 200
    if request.method == "POST":
        failed = _respond(actor, incident, respond_form, evidence_form)
        if failed is not None:
            status = failed
        else:
            messages.success(request, f"Response sent: {incident.public_id} is back in review.")
            return HttpResponseRedirect(reverse("incident-receipt", args=[incident.public_id]))
    requests_ = selectors.transition_list(actor=actor, incident=incident).filter(
        action=workflows.Action.REQUEST_INFORMATION
    )
    context = {
        "incident": incident,
        "request_transition": requests_.last(),
        "comments": list(
            selectors.comment_list(actor=actor, incident_ref=incident.public_id).order_by("created_at", "id")
        ),
        "waiting": incident.status == IncidentStatus.NEEDS_INFORMATION,
        "refusal": workflows.refusal(actor, incident, workflows.TABLE[workflows.Action.RESPOND]),
        "respond_form": respond_form,
        "evidence_form": evidence_form,
    }
    return render(request, "incidents/submit/respond.html", context, status=status)


def _respond(
    actor: Principal, incident: Incident, form: RespondForm, evidence_form: EvidenceForm
) -> int | None:
    """Validate the response as the API's respond body, attach the evidence (if any; its own service
    call), then take the workflow's `respond`. The status of the failure shown, or None when sent."""
    form.is_valid()
    reason = form.cleaned_data.get("response", "")
    for error in api_errors(TransitionSerializer, {"reason": reason}):
        form.add_error("response", error.message)
    if not form.is_valid() or not evidence_form.is_valid():
        return 400
    refusal = workflows.refusal(actor, incident, workflows.TABLE[workflows.Action.RESPOND])
    if refusal is not None:
        form.add_error(None, refusal.detail)
        return refusal.status
    if evidence_form.cleaned_data.get("file"):
        try:
            _evidence_add(actor, incident, evidence_form)
        except DomainError as exc:
            _place_evidence_errors(evidence_form, exc)
            return exc.status
    try:
        services.incident_transition(
            actor=actor, incident=incident, action=workflows.Action.RESPOND, reason=reason
        )
    except DomainError as exc:
        for error in exc.errors or [FieldError(field="", code=exc.code, message=exc.detail)]:
            form.add_error("response" if error.field == "reason" else None, error.message)
        return exc.status
    return None


urlpatterns: list[URLPattern | URLResolver] = [
    path("incidents/new/", incident_new, name="incident-new"),
    path("incidents/new/<uuid:draft_id>/delete/", incident_draft_delete, name="incident-draft-delete"),
    path("incidents/new/<uuid:draft_id>/<slug:step>/", incident_draft_step, name="incident-draft-step"),
    path("incidents/<str:ref>/receipt/", incident_receipt, name="incident-receipt"),
    path("incidents/<str:ref>/amend/", incident_amend, name="incident-amend"),
    path("incidents/<str:ref>/respond/", incident_respond, name="incident-respond"),
]
