"""Every registry read, scoped to what the principal may see (TLP, DESIGN 4)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import (
    BooleanField,
    Case,
    Count,
    Exists,
    F,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
    Window,
)
from django.db.models.functions import RowNumber

from accounts.selectors import tlp_visibility_q
from core.actors import Principal
from core.errors import NotFound
from core.lookups import ref_q, ref_uuid
from registry.models import AgentScaffold, EvaluationResult, FrontierModel, Metric
from registry.rules import red_line_rule


def evaluation_visibility_q(actor: Principal) -> Q:
    """TLP for evaluation results; amber+strict follows the jurisdictions of the evaluated model."""
    return tlp_visibility_q(actor, owner_field="owner_org", jurisdictions_field="model__jurisdictions")


def current_evaluations(*, actor: Principal) -> QuerySet[EvaluationResult]:
    """Current (not superseded) evaluation results that `actor` may see."""
    return EvaluationResult.objects.filter(evaluation_visibility_q(actor), superseded_by__isnull=True)


def red_line_evidence_qs(actor: Principal) -> QuerySet[EvaluationResult]:
    """Current evaluation results that meet the red-line rule and that `actor` may see."""
    return EvaluationResult.objects.filter(red_line_rule().as_q()).filter(evaluation_visibility_q(actor))


def _model_visibility_q(actor: Principal) -> Q:
    return tlp_visibility_q(actor, owner_field="owner_org", jurisdictions_field="jurisdictions")


def frontier_model_list(*, actor: Principal) -> QuerySet[FrontierModel]:
    """Visible models with `red_line_flagged` computed from the evidence the actor may see, and
    `visible_base_model` (the base's public id, only when the actor may see the base too)."""
    evidence = red_line_evidence_qs(actor).filter(model_id=OuterRef("pk"))
    visible_base = FrontierModel.objects.filter(_model_visibility_q(actor), pk=OuterRef("base_model_id"))
    return (
        FrontierModel.objects.filter(_model_visibility_q(actor))
        .select_related("provider", "owner_org")
        .annotate(
            red_line_flagged=Exists(evidence), visible_base_model=Subquery(visible_base.values("public_id"))
        )
    )


def frontier_model_get(*, actor: Principal, ref: str) -> FrontierModel:
    model = frontier_model_list(actor=actor).filter(ref_q(ref)).first()
    if model is None:
        raise NotFound(f"No model {ref!r}.")
    return model


def frontier_models_by_ref(*, actor: Principal, refs: Iterable[str]) -> dict[str, FrontierModel]:
    """The visible models that `refs` (public ids or UUIDs) name, by ref, in one query: what a submission's
    model references resolve to. The same scope and the same 404 (for the first ref naming no visible
    model) as `frontier_model_get`, without the list's computed columns."""
    wanted = list(dict.fromkeys(refs))
    if not wanted:
        return {}
    named = Q()
    for ref in wanted:
        named |= ref_q(ref)
    by_key: dict[Any, FrontierModel] = {}
    for model in FrontierModel.objects.filter(_model_visibility_q(actor)).filter(named):
        by_key[model.pk] = by_key[model.public_id] = model
    found: dict[str, FrontierModel] = {}
    for ref in wanted:
        uuid = ref_uuid(ref)
        named_model = by_key.get(uuid if uuid is not None else ref)
        if named_model is None:
            raise NotFound(f"No model {ref!r}.")
        found[ref] = named_model
    return found


def frontier_models_visible(*, actor: Principal, pks: Iterable[Any]) -> QuerySet[FrontierModel]:
    """The models among `pks` that `actor` may see, with their provider: `frontier_model_list`'s scope
    without its computed columns (the red-line flag costs a scan of the evidence), for exports that name
    models but do not show the flag (STIX)."""
    return (
        FrontierModel.objects.filter(_model_visibility_q(actor))
        .filter(pk__in=list(pks))
        .select_related("provider")
    )


def frontier_model_lineage(
    *, actor: Principal, model: FrontierModel, max_depth: int = 10
) -> list[FrontierModel]:
    """The chain of visible base models, nearest first (fine-tunes inherit their base's risk)."""
    chain: list[FrontierModel] = []
    current = model
    seen = {model.pk}
    while current.base_model_id is not None and len(chain) < max_depth:
        parent = frontier_model_list(actor=actor).filter(pk=current.base_model_id).first()
        if parent is None or parent.pk in seen:
            break
        chain.append(parent)
        seen.add(parent.pk)
        current = parent
    return chain


def red_line_evidence(*, actor: Principal, model: FrontierModel) -> QuerySet[EvaluationResult]:
    return (
        red_line_evidence_qs(actor)
        .filter(model=model)
        .select_related("evaluator_org")
        .order_by("-wilson_lower", "public_id")
    )


def scaffold_list(*, actor: Principal) -> QuerySet[AgentScaffold]:
    return AgentScaffold.objects.filter(tlp_visibility_q(actor, owner_field="owner_org")).select_related(
        "owner_org"
    )


def scaffold_get(*, actor: Principal, ref: str) -> AgentScaffold:
    scaffold = scaffold_list(actor=actor).filter(ref_q(ref)).first()
    if scaffold is None:
        raise NotFound(f"No scaffold {ref!r}.")
    return scaffold


def evaluation_list(*, actor: Principal) -> QuerySet[EvaluationResult]:
    """Visible results, whose model is visible too, with what the list shows joined in one query;
    `visible_scaffold` is the scaffold's public id only when the actor may see the scaffold too, and
    `visible_supersedes` / `visible_superseded_by` name the linked result only when it is visible too."""
    visible_models = FrontierModel.objects.filter(_model_visibility_q(actor)).values("pk")
    visible_scaffold = AgentScaffold.objects.filter(
        tlp_visibility_q(actor, owner_field="owner_org"), pk=OuterRef("scaffold_id")
    )
    linked = EvaluationResult.objects.filter(evaluation_visibility_q(actor), model_id__in=visible_models)
    return (
        EvaluationResult.objects.filter(evaluation_visibility_q(actor), model_id__in=visible_models)
        .select_related(
            "model",
            "model__provider",
            "scaffold",
            "evaluator_org",
            "owner_org",
            "supersedes",
            "superseded_by",
        )
        # Case, not a bare Q: a result without an interval (pass@k) compares as NULL, and must read false.
        .annotate(
            meets_red_line=Case(
                When(red_line_rule().as_q(), then=Value(True)),
                default=Value(False),
                output_field=BooleanField(),
            ),
            visible_scaffold=Subquery(visible_scaffold.values("public_id")),
            visible_supersedes=Subquery(linked.filter(pk=OuterRef("supersedes_id")).values("public_id")),
            visible_superseded_by=Subquery(
                linked.filter(supersedes_id=OuterRef("pk")).values("public_id")[:1]
            ),
        )
    )


def evaluation_get(*, actor: Principal, ref: str) -> EvaluationResult:
    evaluation = evaluation_list(actor=actor).filter(ref_q(ref)).first()
    if evaluation is None:
        raise NotFound(f"No evaluation {ref!r}.")
    return evaluation


# --- browser pages (registry/views.py, the dashboard) -------------------------------------------------


def evaluations_latest_for_models(
    *, actor: Principal, model_ids: list[Any], per_model: int = 3
) -> dict[Any, list[EvaluationResult]]:
    """The newest current results (at most `per_model` each) of a page of models, in one query: what the
    model list shows beside each model."""
    if not model_ids:
        return {}
    rows = (
        evaluation_list(actor=actor)
        .filter(model_id__in=model_ids, superseded_by__isnull=True)
        .annotate(
            rank=Window(RowNumber(), partition_by=F("model_id"), order_by=[F("created_at").desc(), F("pk")])
        )
        .filter(rank__lte=per_model)
        .order_by("model_id", "rank")
    )
    latest: dict[Any, list[EvaluationResult]] = {}
    for row in rows:
        latest.setdefault(row.model_id, []).append(row)
    return latest


def evaluation_success_totals(*, actor: Principal, limit: int = 30) -> list[dict[str, Any]]:
    """Pooled successes and trials of the current success-rate results `actor` may see, per model and
    scenario (GROUP BY in the database): the dashboard's interval chart computes the Wilson interval of each
    pool. Keys: model_public_id, model_name, scenario_type, successes, trials, results."""
    rows = (
        evaluation_list(actor=actor)
        .filter(
            superseded_by__isnull=True,
            metric=Metric.SUCCESS_RATE,
            n_trials__gt=0,
            n_successes__isnull=False,
        )
        .values("model__public_id", "model__name", "scenario_type")
        .annotate(successes=Sum("n_successes"), trials=Sum("n_trials"), results=Count("pk"))
        .order_by("model__name", "model__public_id", "scenario_type")[:limit]
    )
    return [
        {
            "model_public_id": row["model__public_id"],
            "model_name": row["model__name"],
            "scenario_type": row["scenario_type"],
            "successes": row["successes"],
            "trials": row["trials"],
            "results": row["results"],
        }
        for row in rows
    ]
