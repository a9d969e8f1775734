"""Browser pages of the registry: the same selectors, FilterSet, pagination and services as the API.

Anonymous visitors read what is TLP:CLEAR; an out-of-scope model is a 404 (core.middleware renders the
NotFound the selector raises). The incidents that involve a model are served by incidents.views.dashboard
(`model-incidents`), because registry must not import incidents (DESIGN 2)."""

from __future__ import annotations

from collections import defaultdict
from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from rest_framework.request import Request

from core.actors import Principal, web_principal
from core.api.pagination import KeysetCursorPagination
from core.api.parsers import BoundedMultiPartParser
from core.charts import Chart, IntervalRow, interval_chart
from core.errors import DomainError, Forbidden
from core.web import add_domain_errors
from registry import selectors, services
from registry.filters import FrontierModelFilter
from registry.forms import EvaluationImportForm
from registry.importers.base import ImportFormatError
from registry.importers.detect import parse_upload
from registry.models import EvaluationResult, FrontierModel
from registry.rules import red_line_rule

MAX_IMPORT_RESULT_IDS = 100


def model_list(request: HttpRequest) -> HttpResponse:
    actor = web_principal(request)
    query = request.GET
    filterset = FrontierModelFilter(
        query,
        queryset=selectors.frontier_model_list(actor=actor),
        request=request,
    )
    filterset.form.fields["red_line"].widget = _red_line_select()
    models: list[FrontierModel] = []
    next_url = None
    status = 200
    if filterset.is_valid():
        paginator = KeysetCursorPagination()
        models = paginator.paginate_queryset(filterset.qs, Request(request))
        if paginator.has_next and models:
            last = models[-1]
            params = {k: v for k, v in query.items() if k != "cursor"}
            params["cursor"] = paginator.encode_cursor(last.modified_at, last.pk)
            next_url = f"{request.path}?{urlencode(params)}"
    else:
        status = 400
    latest = selectors.evaluations_latest_for_models(actor=actor, model_ids=[m.pk for m in models])
    rows = [(model, latest.get(model.pk, [])) for model in models]
    return render(
        request,
        "registry/model_list.html",
        {
            "filterset": filterset,
            "rows": rows,
            "next_url": next_url,
            "first_url": _without_cursor(request) if "cursor" in query else None,
            "filtered": any(v for k, v in query.items() if k not in ("cursor", "limit")),
        },
        status=status,
    )


def _without_cursor(request: HttpRequest) -> str:
    params = {k: v for k, v in request.GET.items() if k != "cursor"}
    return f"{request.path}?{urlencode(params)}" if params else request.path


def _red_line_select() -> Any:

    return forms.Select(choices=[("", "Any"), ("true", "Flagged"), ("false", "Not flagged")])


def _scenario_charts(model: FrontierModel, evaluations: list[EvaluationResult]) -> list[tuple[str, Chart]]:
    """One interval chart per scenario, over the current results that have a Wilson interval."""
    per_scenario: dict[str, list[IntervalRow]] = defaultdict(list)
    labels: dict[str, str] = {}
    for evaluation in evaluations:
        if (
            getattr(evaluation, "superseded_by", None) is not None
            or evaluation.wilson_lower is None
            or evaluation.wilson_upper is None
            or not evaluation.n_trials
            or evaluation.n_successes is None
        ):
            continue
        labels[evaluation.scenario_type] = evaluation.get_scenario_type_display()
        per_scenario[evaluation.scenario_type].append(
            IntervalRow(
                label=f"{evaluation.public_id} {evaluation.task} ({evaluation.capability_domain})",
                successes=evaluation.n_successes,
                trials=evaluation.n_trials,
                lower=evaluation.wilson_lower,
                upper=evaluation.wilson_upper,
            )
        )
    charts = []
    for index, (scenario, rows) in enumerate(sorted(per_scenario.items())):
        title = f"{model.name}: success rates, {labels[scenario]}"
        charts.append(
            (
                labels[scenario],
                interval_chart(
                    chart_id=f"chart-scenario-{index}",
                    title=title,
                    desc=f"Each row: successes out of trials with the 95% Wilson interval, for {len(rows)} "
                    "current evaluation result(s) on an axis from 0 to 100%.",
                    rows=rows,
                ),
            )
        )
    return charts


def model_detail(request: HttpRequest, ref: str) -> HttpResponse:
    actor = web_principal(request)
    model = selectors.frontier_model_get(actor=actor, ref=ref)
    evaluations = list(
        selectors.evaluation_list(actor=actor)
        .filter(model=model)
        .order_by("scenario_type", "-created_at", "pk")
    )
    return render(
        request,
        "registry/model_detail.html",
        {
            "model": model,
            "lineage": selectors.frontier_model_lineage(actor=actor, model=model),
            "derived": list(
                selectors.frontier_model_list(actor=actor)
                .filter(base_model=model)
                .order_by("name", "pk")[:50]
            ),
            "evaluations": evaluations,
            "evidence": list(selectors.red_line_evidence(actor=actor, model=model)),
            "rule": red_line_rule(),
            "charts": _scenario_charts(model, evaluations),
        },
    )


def _declared_length(request: HttpRequest) -> int | None:
    try:
        return int(request.META.get("CONTENT_LENGTH") or "")
    except ValueError:
        return None


def _optional_fields(data: dict[str, Any]) -> dict[str, Any]:
    """What the API receives when a client leaves an optional field out: no key at all."""
    return {key: value for key, value in data.items() if value not in ("", None)}


def _import(actor: Principal, form: EvaluationImportForm) -> services.ImportOutcome | None:
    """Parse and import the upload exactly as POST /api/v1/evaluations/import does; errors go on the form."""
    data = _optional_fields(dict(form.cleaned_data))
    upload = data.pop("file")
    limit = settings.REDLINE_MAX_IMPORT_BYTES
    if upload.size > limit:
        form.add_error("file", f"The file is {upload.size} bytes; the limit is {limit}.")
        return None
    raw = upload.read()
    try:
        try:
            parsed = parse_upload(
                raw,
                filename=upload.name,
                kind=data.pop("format", "auto"),
                scorer=data.pop("scorer", None),
                max_uncompressed=settings.REDLINE_MAX_IMPORT_UNCOMPRESSED_BYTES,
            )
        except ImportFormatError as exc:
            form.add_error("file", services.import_error(exc).detail)
            return None
        model_ref = data.pop("model", None)
        scaffold_ref = data.pop("scaffold", None)
        model = selectors.frontier_model_get(actor=actor, ref=model_ref) if model_ref else None
        scaffold = selectors.scaffold_get(actor=actor, ref=scaffold_ref) if scaffold_ref else None
        return services.evaluation_import(
            actor=actor,
            parsed=parsed,
            raw=raw,
            filename=upload.name or "upload",
            defaults=data,
            model=model,
            scaffold=scaffold,
            visible_models=selectors.frontier_model_list(actor=actor),
        )
    except DomainError as exc:
        add_domain_errors(form, exc)
        return None


@login_required
def evaluation_import(request: HttpRequest) -> HttpResponse:
    actor = web_principal(request)
    if not actor.has_scope("registry:write"):
        raise Forbidden("Your role cannot record evaluation results.", code="insufficient_scope")
    status = 200
    if request.method == "POST":
        limit = settings.REDLINE_MAX_IMPORT_BYTES
        declared = _declared_length(request)
        if declared is None or declared > limit + BoundedMultiPartParser.framing_allowance:
            # Refused before the body is read, as the API's parser does.
            context = {
                "form": EvaluationImportForm(),
                "upload_error": f"Uploads must be at most {limit} bytes.",
            }
            return render(request, "registry/evaluation_import.html", context, status=413)
        try:
            form = EvaluationImportForm(request.POST, request.FILES)
            valid = form.is_valid()
        except RequestDataTooBig:
            context = {"form": EvaluationImportForm(), "upload_error": "The form is too large."}
            return render(request, "registry/evaluation_import.html", context, status=413)
        if valid:
            outcome = _import(actor, form)
            if outcome is not None:
                ids = ",".join(e.public_id for e in outcome.evaluations[:MAX_IMPORT_RESULT_IDS])
                target = reverse("evaluation-import-result") + "?" + urlencode({"ids": ids})
                return HttpResponseRedirect(target)
        status = 400
    else:
        form = EvaluationImportForm()
    return render(request, "registry/evaluation_import.html", {"form": form}, status=status)


@login_required
def evaluation_import_result(request: HttpRequest) -> HttpResponse:
    actor = web_principal(request)
    ids = [part for part in request.GET.get("ids", "").split(",") if part][:MAX_IMPORT_RESULT_IDS]
    evaluations = list(selectors.evaluation_list(actor=actor).filter(public_id__in=ids).order_by("public_id"))
    return render(request, "registry/evaluation_import_result.html", {"evaluations": evaluations})
