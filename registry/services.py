"""Every registry write: models, scaffolds, evaluation results (append-only) and imports.

Services are keyword-only, take the acting principal, own their transaction, write the audit event, and
leave shape validation to the serializers and forms that call them.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import Organization, OrganizationKind, Role
from core.actors import Principal
from core.audit import audit_event, audit_record, audit_record_many
from core.bulk import copy_insert
from core.enums import TLP, TLP_ORDER
from core.errors import Conflict, FieldError, Forbidden, ValidationFailed
from core.public_ids import allocate_public_id, allocate_public_ids
from registry.importers.base import ImportFormatError, ParsedEvaluation
from registry.models import (
    AgentScaffold,
    EvaluationResult,
    EvaluatorType,
    FrontierModel,
    Metric,
    VerificationStatus,
)
from registry.stats import wilson_interval

MODEL_FIELDS = (
    "name",
    "version",
    "family",
    "release_date",
    "weights_availability",
    "distribution_methods",
    "licence",
    "architecture",
    "parameter_count",
    "input_modalities",
    "output_modalities",
    "context_window",
    "training_compute_flop",
    "compute_estimation_method",
    "systemic_risk_status",
    "market_status",
    "jurisdictions",
    "documentation_url",
    "weights_sha256",
    "huggingface_repo",
    "eu_database_id",
    "description",
    "tlp",
    "external_references",
    "aliases",
)
SCAFFOLD_FIELDS = (
    "name",
    "version",
    "source_url",
    "tools",
    "reasoning_template",
    "planning_horizon",
    "description",
    "tlp",
    "external_references",
    "aliases",
)
EVALUATION_FIELDS = (
    "model_revision",
    "evaluator_type",
    "benchmark",
    "task",
    "task_version",
    "task_family",
    "capability_domain",
    "scenario_type",
    "environment",
    "config",
    "n_trials",
    "n_completed",
    "n_successes",
    "n_refusals",
    "metric",
    "metric_name",
    "metric_k",
    "metric_value",
    "milestone_counts",
    "observed_behaviours",
    "run_started_at",
    "run_completed_at",
    "verification_status",
    "source_references",
    "caveats",
    "tlp",
    "external_references",
    "aliases",
)
# A lab may only claim these for its own results; independent verification is the registry's to grant.
SUBMITTER_VERIFICATION = {VerificationStatus.SELF_REPORTED, VerificationStatus.THIRD_PARTY_REPORTED}


def _snapshot(instance: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {name: getattr(instance, name) for name in fields}


def _require_member(actor: Principal) -> Organization:
    if actor.org_id is None:
        raise Forbidden(
            "Only members of a participant organisation can write to the registry.", code="no_org"
        )
    org = Organization.objects.filter(pk=actor.org_id).first()
    if org is None:
        raise Forbidden("Your organisation no longer exists.", code="no_org")
    return org


def _require_owner(actor: Principal, owner_org_id: Any, what: str) -> None:
    """Only the owning organisation (or a platform admin) changes a record. Not-visible is handled by the
    selector before this runs (404); visible-but-not-yours is 403."""
    if actor.role == Role.PLATFORM_ADMIN:
        return
    if actor.org_id != owner_org_id:
        raise Forbidden(f"Only the organisation that registered this {what} can change it.", code="not_owner")


def _check_tlp_change(actor: Principal, old: str, new: str) -> None:
    """A submitter may raise TLP at any time; lowering it is a regulator's decision (DESIGN 4)."""
    if TLP_ORDER[TLP(new)] < TLP_ORDER[TLP(old)] and actor.role not in (Role.REGULATOR, Role.PLATFORM_ADMIN):
        raise Forbidden(
            f"Lowering TLP from {old} to {new} needs a regulator.", code="tlp_lowering_requires_regulator"
        )


def _full_clean(instance: Any, exclude: list[str] | None = None) -> None:
    try:
        instance.full_clean(exclude=exclude, validate_unique=False, validate_constraints=False)
    except DjangoValidationError as exc:
        errors = [
            FieldError(field=field, code="invalid", message=str(message))
            for field, messages in exc.message_dict.items()
            for message in messages
        ]
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors) from exc


# --- models -------------------------------------------------------------------------------------------


def frontier_model_create(
    *, actor: Principal, data: dict[str, Any], base_model: FrontierModel | None = None
) -> FrontierModel:
    """Register a model of the actor's own organisation (labs register their own models)."""
    org = _require_member(actor)
    if org.kind != OrganizationKind.LAB and actor.role != Role.PLATFORM_ADMIN:
        raise Forbidden("Only labs register frontier models.", code="not_a_lab")
    unknown = set(data) - set(MODEL_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {sorted(unknown)}", code="unknown_field")
    model = FrontierModel(owner_org=org, provider=org, base_model=base_model, **data)
    model.tlp = data.get("tlp", TLP.AMBER)
    _full_clean(model, exclude=["public_id"])
    with transaction.atomic():
        if FrontierModel.objects.filter(provider=org, name=model.name, version=model.version).exists():
            raise Conflict(
                f"{org.short_name} already registered {model.name!r} version {model.version!r}.",
                code="duplicate_model",
            )
        model.public_id = allocate_public_id(sequence="registry_model_seq", prefix="FM", width=4)
        model.save()
        audit_record(
            actor=actor,
            event_code="frontier_model.created",
            target=model,
            after=_snapshot(model, MODEL_FIELDS),
        )
    return model


def frontier_model_update(
    *,
    actor: Principal,
    model: FrontierModel,
    changes: dict[str, Any],
    base_model: FrontierModel | str | None = "unset",
) -> FrontierModel:
    """Change a registered model's fields (the owning lab only)."""
    _require_owner(actor, model.owner_org_id, "model")
    unknown = set(changes) - set(MODEL_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {sorted(unknown)}", code="unknown_field")
    if "tlp" in changes:
        _check_tlp_change(actor, model.tlp, changes["tlp"])
    with transaction.atomic():
        locked = FrontierModel.objects.select_for_update().get(pk=model.pk)
        if locked.modified_at != model.modified_at:
            raise Conflict(
                "The model changed while this update was prepared; re-read and retry.", code="edit_conflict"
            )
        before = _snapshot(locked, MODEL_FIELDS)
        for name, value in changes.items():
            setattr(locked, name, value)
        if not isinstance(base_model, str):
            if base_model is not None and base_model.pk == locked.pk:
                raise ValidationFailed("A model cannot be its own base model.", code="lineage_cycle")
            locked.base_model = base_model
            _check_lineage(locked)
        _full_clean(locked)
        if (
            FrontierModel.objects.filter(provider=locked.provider, name=locked.name, version=locked.version)
            .exclude(pk=locked.pk)
            .exists()
        ):
            raise Conflict("Another model has this name and version.", code="duplicate_model")
        locked.save()
        audit_record(
            actor=actor,
            event_code="frontier_model.updated",
            target=locked,
            before=before,
            after=_snapshot(locked, MODEL_FIELDS),
        )
    return locked


def _check_lineage(model: FrontierModel) -> None:
    seen = {model.pk}
    current = model.base_model
    while current is not None:
        if current.pk in seen:
            raise ValidationFailed("base_model would create a lineage cycle.", code="lineage_cycle")
        seen.add(current.pk)
        current = current.base_model


# --- scaffolds ----------------------------------------------------------------------------------------


def scaffold_create(*, actor: Principal, data: dict[str, Any]) -> AgentScaffold:
    """Register an agent scaffold, owned by the actor's organisation."""
    org = _require_member(actor)
    unknown = set(data) - set(SCAFFOLD_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {sorted(unknown)}", code="unknown_field")
    scaffold = AgentScaffold(owner_org=org, **data)
    scaffold.tlp = data.get("tlp", TLP.AMBER)
    _full_clean(scaffold, exclude=["public_id"])
    with transaction.atomic():
        if AgentScaffold.objects.filter(owner_org=org, name=scaffold.name, version=scaffold.version).exists():
            raise Conflict(
                "You already registered a scaffold with this name and version.", code="duplicate_scaffold"
            )
        scaffold.public_id = allocate_public_id(sequence="registry_scaffold_seq", prefix="SCF", width=4)
        scaffold.save()
        audit_record(
            actor=actor,
            event_code="agent_scaffold.created",
            target=scaffold,
            after=_snapshot(scaffold, SCAFFOLD_FIELDS),
        )
    return scaffold


def scaffold_update(*, actor: Principal, scaffold: AgentScaffold, changes: dict[str, Any]) -> AgentScaffold:
    _require_owner(actor, scaffold.owner_org_id, "scaffold")
    unknown = set(changes) - set(SCAFFOLD_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {sorted(unknown)}", code="unknown_field")
    if "tlp" in changes:
        _check_tlp_change(actor, scaffold.tlp, changes["tlp"])
    with transaction.atomic():
        locked = AgentScaffold.objects.select_for_update().get(pk=scaffold.pk)
        if locked.modified_at != scaffold.modified_at:
            raise Conflict("The scaffold changed while this update was prepared.", code="edit_conflict")
        before = _snapshot(locked, SCAFFOLD_FIELDS)
        for name, value in changes.items():
            setattr(locked, name, value)
        _full_clean(locked)
        if (
            AgentScaffold.objects.filter(owner_org=locked.owner_org, name=locked.name, version=locked.version)
            .exclude(pk=locked.pk)
            .exists()
        ):
            raise Conflict("Another scaffold has this name and version.", code="duplicate_scaffold")
        locked.save()
        audit_record(
            actor=actor,
            event_code="agent_scaffold.updated",
            target=locked,
            before=before,
            after=_snapshot(locked, SCAFFOLD_FIELDS),
        )
    return locked


# --- evaluation results -------------------------------------------------------------------------------


@dataclass(frozen=True)
class RawLog:
    """An uploaded evaluation log to keep beside the result it produced."""

    content: bytes
    name: str
    sha256: str
    import_format: str


def _derive_counts(evaluation: EvaluationResult) -> None:
    """Check the counts agree with each other and compute the metric value and the Wilson interval."""
    n, s = evaluation.n_trials, evaluation.n_successes
    errors: list[FieldError] = []
    for name in ("n_completed", "n_successes", "n_refusals"):
        value = getattr(evaluation, name)
        if value is not None and n is not None and value > n:
            errors.append(
                FieldError(field=name, code="exceeds_trials", message=f"{name} cannot exceed n_trials.")
            )
    if n == 0:
        errors.append(FieldError(field="n_trials", code="min_value", message="n_trials must be at least 1."))
    if (s is None) != (n is None):
        errors.append(
            FieldError(
                field="n_successes",
                code="counts_incomplete",
                message="Give n_trials and n_successes together.",
            )
        )
    if evaluation.metric == Metric.SUCCESS_RATE and n is None:
        errors.append(
            FieldError(
                field="n_trials",
                code="required",
                message="A success_rate result needs n_trials and n_successes.",
            )
        )
    if evaluation.metric == Metric.PASS_AT_K and not evaluation.metric_k:
        errors.append(FieldError(field="metric_k", code="required", message="pass_at_k needs metric_k."))
    if (
        evaluation.metric_value is not None
        and not 0 <= evaluation.metric_value <= 1
        and evaluation.metric != Metric.OTHER
    ):
        errors.append(
            FieldError(field="metric_value", code="out_of_range", message="A rate lies between 0 and 1.")
        )
    if errors:
        raise ValidationFailed("; ".join(e.message for e in errors), errors=errors)
    if n is not None and s is not None:
        rate = s / n
        if evaluation.metric == Metric.SUCCESS_RATE:
            if evaluation.metric_value is not None and abs(evaluation.metric_value - rate) > 1e-6:
                raise ValidationFailed(
                    f"metric_value {evaluation.metric_value} disagrees with "
                    f"n_successes/n_trials = {rate:.6g}.",
                    code="inconsistent_metric",
                    errors=[
                        FieldError(
                            field="metric_value",
                            code="inconsistent_metric",
                            message="Must equal n_successes/n_trials.",
                        )
                    ],
                )
            evaluation.metric_value = rate
        evaluation.wilson_lower, evaluation.wilson_upper = wilson_interval(s, n)
    if (
        evaluation.run_started_at
        and evaluation.run_completed_at
        and evaluation.run_completed_at < evaluation.run_started_at
    ):
        raise ValidationFailed("run_completed_at is before run_started_at.", code="invalid_run_times")


def _store_raw_log(org: Organization, raw_log: RawLog) -> str:
    """Keep the raw file in private storage under a per-org key (never deduplicated across orgs)."""
    storage = storages["private"]
    suffix = PurePosixPath(raw_log.name).suffix.lower()[:10]
    key = f"evaluation-logs/{org.pk}/{raw_log.sha256}{suffix}"
    if not storage.exists(key):
        storage.save(key, ContentFile(raw_log.content))
    return key


def _build_evaluation(
    *,
    actor: Principal,
    org: Organization,
    model: FrontierModel,
    scaffold: AgentScaffold | None,
    data: dict[str, Any],
    links_checked: bool = False,
) -> EvaluationResult:
    """An unsaved result, validated. `links_checked`: the caller read org, model and scaffold from the
    database in this transaction (a bulk import), so full_clean need not query each one again per row."""
    unknown = set(data) - set(EVALUATION_FIELDS)
    if unknown:
        raise ValidationFailed(f"Unknown fields: {sorted(unknown)}", code="unknown_field")
    fields = dict(data)
    # Unless told, amber, or the model's TLP when that is stricter (never less restricted than the model).
    fields.setdefault("tlp", max(TLP.AMBER, TLP(model.tlp), key=lambda tlp: TLP_ORDER[tlp]))
    if "evaluator_type" not in fields:
        fields["evaluator_type"] = (
            EvaluatorType.FIRST_PARTY_LAB
            if model.provider_id == org.pk
            else EvaluatorType.INDEPENDENT_THIRD_PARTY
        )
    status = fields.get("verification_status", VerificationStatus.SELF_REPORTED)
    if status not in SUBMITTER_VERIFICATION and actor.role not in (
        Role.REVIEWER,
        Role.REGULATOR,
        Role.PLATFORM_ADMIN,
    ):
        raise Forbidden(
            f"verification_status {status!r} is granted by reviewers, not submitters.",
            code="verification_reserved",
        )
    if TLP_ORDER[TLP(fields["tlp"])] < TLP_ORDER[TLP(model.tlp)]:
        raise ValidationFailed(
            f"An evaluation cannot be less restricted (TLP:{fields['tlp']}) than its model "
            f"(TLP:{model.tlp}).",
            code="tlp_below_model",
        )
    evaluation = EvaluationResult(
        owner_org=org, evaluator_org=org, model=model, scaffold=scaffold, submitted_by=actor.label, **fields
    )
    _derive_counts(evaluation)
    links = ["owner_org", "evaluator_org", "model", "scaffold"] if links_checked else []
    _full_clean(evaluation, exclude=["public_id", "supersedes", *links])
    return evaluation


def _save_evaluation(actor: Principal, evaluation: EvaluationResult, event_code: str) -> EvaluationResult:
    evaluation.public_id = allocate_public_id(sequence="registry_evaluation_seq", prefix="EVR", width=4)
    evaluation.save()
    # A new result can change the model's red-line flag: move the model's modified_at (its ETag and the
    # `modified_after` sync cursor) so that cached copies and mirrors learn of it.
    FrontierModel.objects.filter(pk=evaluation.model_id).update(modified_at=timezone.now())
    audit_record(
        actor=actor,
        event_code=event_code,
        target=evaluation,
        after={
            **_snapshot(evaluation, EVALUATION_FIELDS),
            "model": evaluation.model.public_id,
            "supersedes": evaluation.supersedes.public_id if evaluation.supersedes else None,
            "wilson": [evaluation.wilson_lower, evaluation.wilson_upper],
        },
    )
    return evaluation


def _save_evaluations(actor: Principal, evaluations: list[EvaluationResult]) -> list[EvaluationResult]:
    """`_save_evaluation` for many new results in a fixed number of queries, whatever their number: the
    public ids from one nextval query, one COPY of the results (core.bulk), one UPDATE of the models'
    modified_at, one COPY of their `evaluation.created` audit events, in the same order."""
    if not evaluations:
        return []
    public_ids = allocate_public_ids(
        sequence="registry_evaluation_seq", prefix="EVR", width=4, count=len(evaluations)
    )
    for evaluation, public_id in zip(evaluations, public_ids, strict=True):
        evaluation.public_id = public_id
    copy_insert(evaluations)
    FrontierModel.objects.filter(pk__in={e.model_id for e in evaluations}).update(modified_at=timezone.now())
    audit_record_many(
        [
            audit_event(
                actor=actor,
                event_code="evaluation.created",
                target=evaluation,
                after={
                    **_snapshot(evaluation, EVALUATION_FIELDS),
                    "model": evaluation.model.public_id,
                    "supersedes": None,
                    "wilson": [evaluation.wilson_lower, evaluation.wilson_upper],
                },
            )
            for evaluation in evaluations
        ]
    )
    return evaluations


def evaluation_create(
    *,
    actor: Principal,
    model: FrontierModel,
    data: dict[str, Any],
    scaffold: AgentScaffold | None = None,
    raw_log: RawLog | None = None,
) -> EvaluationResult:
    """Record an evaluation result; the recording organisation is its evaluator and owner."""
    org = _require_member(actor)
    evaluation = _build_evaluation(actor=actor, org=org, model=model, scaffold=scaffold, data=data)
    with transaction.atomic():
        if raw_log is not None:
            _attach_raw_log(evaluation, _store_raw_log(org, raw_log), raw_log)
        return _save_evaluation(actor, evaluation, "evaluation.created")


def _attach_raw_log(evaluation: EvaluationResult, key: str, raw_log: RawLog) -> None:
    evaluation.raw_log = key
    evaluation.raw_log_name = raw_log.name[:255]
    evaluation.raw_log_sha256 = raw_log.sha256
    evaluation.raw_log_size = len(raw_log.content)
    evaluation.import_format = raw_log.import_format


def evaluation_supersede(
    *,
    actor: Principal,
    old: EvaluationResult,
    data: dict[str, Any],
    reason: str,
    scaffold: AgentScaffold | str | None = "unchanged",
) -> EvaluationResult:
    """Correct a result: a new result that supersedes the old one; the old one stays readable.

    Only the organisation that recorded the old result may correct it, and only once (a chain of
    corrections supersedes the latest one).
    """
    _require_owner(actor, old.owner_org_id, "evaluation result")
    if not reason.strip():
        raise ValidationFailed("A correction needs a reason.", code="reason_required")
    org = Organization.objects.get(pk=old.owner_org_id)
    carried = {name: getattr(old, name) for name in EVALUATION_FIELDS}
    if "metric_value" not in data and carried["metric"] == Metric.SUCCESS_RATE:
        carried["metric_value"] = None  # recomputed from the corrected counts
    carried.update(data)
    new_scaffold = old.scaffold if isinstance(scaffold, str) else scaffold
    evaluation = _build_evaluation(actor=actor, org=org, model=old.model, scaffold=new_scaffold, data=carried)
    evaluation.evaluator_org_id = old.evaluator_org_id
    evaluation.raw_log, evaluation.raw_log_name = old.raw_log, old.raw_log_name
    evaluation.raw_log_sha256, evaluation.raw_log_size = old.raw_log_sha256, old.raw_log_size
    evaluation.import_format = old.import_format
    evaluation.supersedes = old
    evaluation.correction_reason = reason
    if TLP_ORDER[TLP(evaluation.tlp)] < TLP_ORDER[TLP(old.tlp)]:
        _check_tlp_change(actor, old.tlp, evaluation.tlp)
    try:
        with transaction.atomic():
            if EvaluationResult.objects.filter(supersedes=old).exists():
                raise Conflict(f"{old.public_id} has already been superseded.", code="already_superseded")
            return _save_evaluation(actor, evaluation, "evaluation.superseded")
    except IntegrityError as exc:  # a concurrent correction of the same result won the race
        raise Conflict(f"{old.public_id} has already been superseded.", code="already_superseded") from exc


# --- imports ------------------------------------------------------------------------------------------


def _resolve_model_for_import(
    *, actor: Principal, org: Organization, parsed: ParsedEvaluation, visible_models: Any, tlp: str | None
) -> tuple[FrontierModel, bool]:
    """Find the registered model an imported log names, or register it for the importing lab (at the
    import's TLP when given: the results name the model, so it is no more restricted than they are)."""
    raw_name = parsed.model_name.strip()
    parts = raw_name.split("/")
    # Inspect names models "<api>/<model>", Hugging Face ones "hf/<org>/<repo>".
    repo = (
        "/".join(parts[1:]) if parts[0] in ("hf", "vllm", "together", "openrouter") and len(parts) > 2 else ""
    )
    short = parts[-1]
    lookup = Q(name__iexact=raw_name) | Q(name__iexact=short)
    if repo:
        lookup |= Q(huggingface_repo__iexact=repo)
    if parsed.source_format == "hf_model_index" and "/" in raw_name:
        lookup |= Q(huggingface_repo__iexact=raw_name)
    candidates = list(visible_models.filter(lookup)[:3])
    own = [m for m in candidates if m.provider_id == org.pk]
    if len(own) == 1:
        return own[0], False
    if len(candidates) == 1:
        return candidates[0], False
    if len(candidates) > 1:
        names = ", ".join(m.public_id for m in candidates)
        raise ValidationFailed(
            f"The log's model {raw_name!r} matches several registered models ({names}); pass `model`.",
            code="ambiguous_model",
        )
    if org.kind != OrganizationKind.LAB:
        raise ValidationFailed(
            f"The log's model {raw_name!r} is not registered; register it (its provider does) "
            "or pass `model`.",
            code="model_not_registered",
        )
    model_name = repo.split("/")[-1] if repo else "/".join(parts[1:]) if len(parts) > 1 else raw_name
    data: dict[str, Any] = {
        "name": model_name[:200],
        "weights_availability": "internal_only",
        "market_status": "in_development",
        "huggingface_repo": repo
        or (raw_name if parsed.source_format == "hf_model_index" and "/" in raw_name else ""),
        "external_references": [{"source_name": "import", "external_id": raw_name, "url": ""}],
    }
    if tlp:
        data["tlp"] = tlp
    existing = FrontierModel.objects.filter(provider=org, name=data["name"], version="").first()
    if existing is not None:
        return existing, False
    return frontier_model_create(actor=actor, data=data), True


@dataclass(frozen=True)
class ImportOutcome:
    evaluations: list[EvaluationResult]
    created_models: list[FrontierModel]
    sha256: str


def evaluation_import(
    *,
    actor: Principal,
    parsed: list[ParsedEvaluation],
    raw: bytes,
    filename: str,
    defaults: dict[str, Any],
    model: FrontierModel | None,
    scaffold: AgentScaffold | None,
    visible_models: Any,
) -> ImportOutcome:
    """Turn parsed evaluations (Inspect log, Hugging Face model-index) into results, keeping the raw file.

    All or nothing: one transaction for every result and any model it registers.
    """
    org = _require_member(actor)
    if not parsed:
        raise ValidationFailed("The file holds no evaluation results.", code="empty_import")
    sha256 = hashlib.sha256(raw).hexdigest()
    raw_log = RawLog(content=raw, name=filename, sha256=sha256, import_format=parsed[0].source_format)
    built: list[EvaluationResult] = []
    created: list[FrontierModel] = []
    with transaction.atomic():
        duplicate = EvaluationResult.objects.filter(
            owner_org=org, raw_log_sha256=sha256, superseded_by__isnull=True
        )
        if duplicate.exists():
            ids = ", ".join(duplicate.values_list("public_id", flat=True)[:5])
            raise Conflict(f"This file was imported already ({ids}).", code="duplicate_import")
        # A log names the same model on every sample: resolve each name once per import (a second lookup
        # would find the same model, or the one the first registered).
        resolved: dict[tuple[str, str], FrontierModel] = {}
        for item in parsed:
            target = model
            if target is None:
                name_key = (item.model_name, item.source_format)
                target = resolved.get(name_key)
                if target is None:
                    target, was_created = _resolve_model_for_import(
                        actor=actor,
                        org=org,
                        parsed=item,
                        visible_models=visible_models,
                        tlp=defaults.get("tlp"),
                    )
                    resolved[name_key] = target
                    if was_created:
                        created.append(target)
            data = {**defaults, **_parsed_fields(item)}
            built.append(
                _build_evaluation(
                    actor=actor, org=org, model=target, scaffold=scaffold, data=data, links_checked=True
                )
            )
        # The file is stored only once every result has passed its checks, so a refused import leaves
        # nothing behind in storage (a rolled-back transaction cannot take a written file back).
        key = _store_raw_log(org, raw_log)
        for evaluation in built:
            _attach_raw_log(evaluation, key, raw_log)
        results = _save_evaluations(actor, built)
    return ImportOutcome(evaluations=results, created_models=created, sha256=sha256)


def _parsed_fields(item: ParsedEvaluation) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "task": item.task[:200],
        "task_version": (item.task_version or "")[:64],
        "task_family": (item.task_family or "")[:200],
        "benchmark": (item.benchmark or item.dataset_name or "")[:200],
        "n_trials": item.n_trials,
        "n_completed": item.n_completed,
        "n_successes": item.n_successes,
        "metric": item.metric,
        "metric_name": item.metric_name[:64],
        "metric_value": item.metric_value,
        "config": {k: v for k, v in item.config.items() if isinstance(v, int | float | str | bool)},
        "run_started_at": item.run_started_at,
        "run_completed_at": item.run_completed_at,
    }
    if item.metric == Metric.PASS_AT_K:
        digits = "".join(ch for ch in item.metric_name if ch.isdigit())
        fields["metric_k"] = int(digits) if digits else None
    if item.metric == Metric.SUCCESS_RATE and item.n_successes is None:
        fields["metric"] = Metric.OTHER
    if item.run_id:
        fields["external_references"] = [
            {"source_name": item.source_format, "external_id": item.run_id, "url": ""}
        ]
    return fields


def import_error(exc: ImportFormatError) -> ValidationFailed:
    """An importer's format error as the API's 400 problem (what is wrong, in words and a stable code)."""
    return ValidationFailed(exc.detail, code=exc.code)


__all__ = [
    "ImportOutcome",
    "RawLog",
    "evaluation_create",
    "evaluation_import",
    "evaluation_supersede",
    "frontier_model_create",
    "frontier_model_update",
    "import_error",
    "scaffold_create",
    "scaffold_update",
]
