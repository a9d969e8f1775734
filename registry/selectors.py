"""Every registry read, scoped to what the principal may see (TLP, DESIGN 4)."""

from __future__ import annotations

import re
from uuid import UUID

from django.db.models import Exists, OuterRef, Q, QuerySet

from accounts.selectors import tlp_visibility_q
from core.actors import Principal
from core.errors import NotFound
from registry.models import AgentScaffold, EvaluationResult, FrontierModel
from registry.rules import red_line_rule

_UUID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")


def _ref_q(ref: str) -> Q:
    """Records are addressed by public id (`FM-2025-0007`) or by UUID."""
    if _UUID_RE.match(ref):
        try:
            return Q(pk=UUID(ref))
        except ValueError:
            pass
    return Q(public_id=ref)


def evaluation_visibility_q(actor: Principal, prefix: str = "") -> Q:
    q = tlp_visibility_q(actor, owner_field="owner_org", jurisdictions_field="model__jurisdictions")
    if not prefix:
        return q
    return Q(**{f"{prefix}id__in": EvaluationResult.objects.filter(q).values("id")})


def red_line_evidence_qs(actor: Principal) -> QuerySet[EvaluationResult]:
    """Current evaluation results that meet the red-line rule and that `actor` may see."""
    return EvaluationResult.objects.filter(red_line_rule().as_q()).filter(evaluation_visibility_q(actor))


def frontier_model_list(*, actor: Principal) -> QuerySet[FrontierModel]:
    """Visible models with `red_line_flagged` computed from the evidence the actor may see."""
    evidence = red_line_evidence_qs(actor).filter(model_id=OuterRef("pk"))
    return (
        FrontierModel.objects.filter(
            tlp_visibility_q(actor, owner_field="owner_org", jurisdictions_field="jurisdictions")
        )
        .select_related("provider", "base_model", "owner_org")
        .annotate(red_line_flagged=Exists(evidence))
    )


def frontier_model_get(*, actor: Principal, ref: str) -> FrontierModel:
    model = frontier_model_list(actor=actor).filter(_ref_q(ref)).first()
    if model is None:
        raise NotFound(f"No model {ref!r}.")
    return model


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
    scaffold = scaffold_list(actor=actor).filter(_ref_q(ref)).first()
    if scaffold is None:
        raise NotFound(f"No scaffold {ref!r}.")
    return scaffold


def evaluation_list(*, actor: Principal) -> QuerySet[EvaluationResult]:
    """Visible results, whose model is visible too, with what the list shows joined in one query."""
    visible_models = frontier_model_list(actor=actor).values("pk")
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
        .annotate(meets_red_line=Q(red_line_rule().as_q()))
    )


def evaluation_get(*, actor: Principal, ref: str) -> EvaluationResult:
    evaluation = evaluation_list(actor=actor).filter(_ref_q(ref)).first()
    if evaluation is None:
        raise NotFound(f"No evaluation {ref!r}.")
    return evaluation
