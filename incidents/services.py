"""Every incident write: submission (with follow-up revisions by external_id), amendment, withdrawal,
TLP changes. Each call is one transaction that writes the incident, its immutable revision and the
audit event."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.postgres.search import SearchVector
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Field
from django.utils import timezone

from accounts.models import Organization, OrganizationKind, Role
from core.actors import Principal
from core.audit import audit_record
from core.enums import TLP, TLP_ORDER, jurisdictions_for
from core.errors import Conflict, FieldError, Forbidden, ValidationFailed
from core.public_ids import allocate_public_id
from incidents.models import (
    Incident,
    IncidentModel,
    IncidentRevision,
    IncidentStatus,
    ReportStage,
)
from incidents.selectors import incident_by_external_id
from registry.models import AgentScaffold, EvaluationResult, FrontierModel

# The content of a report: what a revision records and a receipt's digest covers.
CONTENT_FIELDS = (
    "record_class",
    "title",
    "description",
    "ai_system_relation",
    "submitter_capacity",
    "scenario_type",
    "instruction_provenance",
    "outcome",
    "severity",
    "harm_types",
    "occurred_start",
    "occurred_end",
    "occurred_precision",
    "detected_at",
    "provider_aware_at",
    "countries",
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
    "critical_infrastructure",
    "eu_category",
    "high_risk_system",
    "report_stage",
    "determination",
    "chain_of_events",
    "root_cause_analysis",
    "recommendation",
    "steps_to_reproduce",
    "taxonomy_mappings",
    "external_id",
    "tlp",
    "external_references",
    "aliases",
)
# What a `final` report must carry (DESIGN 3.4: every mandatory field and supporting material).
FINAL_REQUIRED = (
    "record_class",
    "title",
    "description",
    "ai_system_relation",
    "submitter_capacity",
    "scenario_type",
    "instruction_provenance",
    "outcome",
    "severity",
    "harm_types",
)
JSON_FIELDS = (
    "observed_behaviours",
    "harm_quantification",
    "taxonomy_mappings",
    "external_references",
    "aliases",
)
CLOSED_STATES = {
    IncidentStatus.WITHDRAWN,
    IncidentStatus.CLOSED,
    IncidentStatus.REJECTED,
    IncidentStatus.DUPLICATE,
    IncidentStatus.SUPERSEDED,
}


@dataclass(frozen=True)
class InvolvedModel:
    """A model named in a report: a registered one, or free text for an unregistered one."""

    role: str
    model: FrontierModel | None = None
    model_name: str = ""


@dataclass(frozen=True)
class Links:
    """The references of a report, already resolved (and visibility-checked) by the caller."""

    models: list[InvolvedModel]
    scaffold: AgentScaffold | None = None
    related_evaluations: list[EvaluationResult] | None = None


@dataclass(frozen=True)
class Receipt:
    """What a submitter keeps as proof of filing (DESIGN 6)."""

    incident: Incident
    revision: IncidentRevision
    created: bool


def canonical_json(document: dict[str, Any]) -> str:
    return json.dumps(
        document, cls=DjangoJSONEncoder, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    )


def incident_document(incident: Incident, links: Links) -> dict[str, Any]:
    """The canonical stored payload of a report: its content fields and its references by public id."""
    document: dict[str, Any] = json.loads(
        canonical_json({name: getattr(incident, name) for name in CONTENT_FIELDS})
    )
    document["models"] = [
        {
            "model": item.model.public_id if item.model else None,
            "model_name": item.model_name,
            "role": item.role,
        }
        for item in links.models
    ]
    document["scaffold"] = links.scaffold.public_id if links.scaffold else None
    document["related_evaluations"] = sorted(e.public_id for e in links.related_evaluations or [])
    return document


def _content(data: dict[str, Any]) -> dict[str, Any]:
    """The content fields of parsed input, JSON columns made JSON-safe (timestamps as ISO strings)."""
    fields = {name: value for name, value in data.items() if name in CONTENT_FIELDS}
    for name in JSON_FIELDS:
        if name in fields:
            fields[name] = json.loads(canonical_json(fields[name]))
    return fields


def _default(name: str) -> Any:
    field = Incident._meta.get_field(name)
    assert isinstance(field, Field)
    return field.get_default()


def _require_submitter(actor: Principal) -> Organization:
    if actor.org_id is None:
        raise Forbidden("Only members of a participant organisation file incident reports.", code="no_org")
    org = Organization.objects.filter(pk=actor.org_id).first()
    if org is None:
        raise Forbidden("Your organisation no longer exists.", code="no_org")
    return org


def _check_final(incident: Incident, links: Links) -> None:
    """A `final` report needs every mandatory field and at least one piece of evidence."""
    if incident.report_stage != ReportStage.FINAL:
        return
    missing = [name for name in FINAL_REQUIRED if getattr(incident, name) in ("", None, [])]
    if not links.models:
        missing.append("models")
    errors = [
        FieldError(field=name, code="required_for_final", message="Required in a final report.")
        for name in missing
    ]
    evidence_count = incident.evidence.count() if incident.pk and hasattr(incident, "evidence") else 0
    if evidence_count == 0:
        errors.append(
            FieldError(
                field="evidence",
                code="evidence_required",
                message="A final report needs at least one piece of evidence (POST .../evidence).",
            )
        )
    if errors:
        raise ValidationFailed(
            "A final report is incomplete: " + ", ".join(e.field for e in errors) + ".",
            code="final_report_incomplete",
            errors=errors,
        )


def _validate_times(incident: Incident) -> None:
    now = timezone.now()
    errors = []
    for name in ("occurred_start", "occurred_end", "detected_at", "provider_aware_at"):
        value = getattr(incident, name)
        if value is not None and value > now + timedelta(minutes=5):
            errors.append(FieldError(field=name, code="in_future", message="Cannot be in the future."))
    if incident.occurred_start and incident.occurred_end and incident.occurred_end < incident.occurred_start:
        errors.append(FieldError(field="occurred_end", code="before_start", message="Ends before it starts."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _save_links(incident: Incident, links: Links) -> None:
    incident.involved_models.all().delete()
    IncidentModel.objects.bulk_create(
        IncidentModel(incident=incident, model=item.model, model_name=item.model_name, role=item.role)
        for item in links.models
    )
    incident.related_evaluations.set(links.related_evaluations or [])


def _refresh_search_vector(incident: Incident) -> None:
    Incident.objects.filter(pk=incident.pk).update(
        search_vector=SearchVector("title", weight="A", config="english")
        + SearchVector("description", weight="B", config="english")
        + SearchVector(
            "chain_of_events", "root_cause_analysis", "actions_taken", weight="C", config="english"
        )
    )


def _record_revision(actor: Principal, incident: Incident, links: Links, summary: str) -> IncidentRevision:
    document = incident_document(incident, links)
    text = canonical_json(document)
    return IncidentRevision.objects.create(
        incident=incident,
        number=incident.revision_number,
        payload=document,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        received_at=timezone.now(),
        submitted_by=actor.label,
        change_summary=summary,
    )


def incident_submit(*, actor: Principal, data: dict[str, Any], links: Links) -> Receipt:
    """File a report. A repeated `external_id` from the same organisation is a follow-up revision of the
    existing report, never a second incident."""
    org = _require_submitter(actor)
    existing = incident_by_external_id(org_id=org.pk, external_id=data.get("external_id", ""))
    if existing is not None:
        # A re-sent report is the whole current report: what it leaves out is cleared, except TLP,
        # which a re-send never lowers by omission.
        changes = {
            name: data[name] if name in data else _default(name)
            for name in CONTENT_FIELDS
            if name not in ("external_id", "tlp")
        }
        if "tlp" in data:
            changes["tlp"] = data["tlp"]
        incident, revision = _amend(
            actor, existing, changes, links, "Follow-up submission (same external_id)."
        )
        return Receipt(incident=incident, revision=revision, created=False)
    fields = _content(data)
    fields.setdefault("tlp", TLP.AMBER)
    if org.kind == OrganizationKind.LAB and fields.get("submitter_capacity") == "regulator":
        raise ValidationFailed("A lab cannot file in the capacity of a regulator.", code="invalid_capacity")
    incident = Incident(
        owner_org=org,
        submitted_by=actor.label,
        submitted_by_user_id=actor.user_id,
        submitted_by_key=actor.api_key_id,
        submitted_at=timezone.now(),
        status=IncidentStatus.SUBMITTED,
        scaffold=links.scaffold,
        **fields,
    )
    incident.jurisdictions = jurisdictions_for(incident.countries)
    _validate_times(incident)
    _check_final(incident, links)
    try:
        with transaction.atomic():
            incident.public_id = allocate_public_id(sequence="incidents_incident_seq", prefix="SRI", width=6)
            incident.save()
            _save_links(incident, links)
            _refresh_search_vector(incident)
            revision = _record_revision(actor, incident, links, "Initial submission.")
            audit_record(
                actor=actor, event_code="incident.submitted", target=incident, after=revision.payload
            )
    except IntegrityError as exc:  # a concurrent first submission of the same external_id won
        raise Conflict(
            "A report with this external_id is being filed right now; retry.", code="external_id_race"
        ) from exc
    return Receipt(incident=incident, revision=revision, created=True)


def _amend(
    actor: Principal, incident: Incident, changes: dict[str, Any], links: Links | None, summary: str
) -> tuple[Incident, IncidentRevision]:
    if actor.role != Role.PLATFORM_ADMIN and actor.org_id != incident.owner_org_id:
        raise Forbidden("Only the submitting organisation amends its report.", code="not_owner")
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.status in CLOSED_STATES:
            raise Conflict(
                f"The report is {locked.status}; it can no longer be amended.", code="incident_closed"
            )
        before = IncidentRevision.objects.filter(incident=locked, number=locked.revision_number).first()
        if "tlp" in changes and TLP_ORDER[TLP(changes["tlp"])] < TLP_ORDER[TLP(locked.tlp)]:
            raise Forbidden(
                "Lowering TLP needs a regulator and a reason (POST .../tlp).",
                code="tlp_lowering_requires_regulator",
            )
        for name, value in _content(changes).items():
            if name != "external_id":
                setattr(locked, name, value)
        if links is None:
            links = Links(
                models=[
                    InvolvedModel(role=m.role, model=m.model, model_name=m.model_name)
                    for m in locked.involved_models.select_related("model")
                ],
                scaffold=locked.scaffold,
                related_evaluations=list(locked.related_evaluations.all()),
            )
        locked.scaffold = links.scaffold
        locked.jurisdictions = jurisdictions_for(locked.countries)
        _validate_times(locked)
        _check_final(locked, links)
        locked.revision_number += 1
        locked.save()
        _save_links(locked, links)
        _refresh_search_vector(locked)
        revision = _record_revision(actor, locked, links, summary)
        audit_record(
            actor=actor,
            event_code="incident.amended",
            target=locked,
            before=before.payload if before else None,
            after=revision.payload,
        )
    return locked, revision


def incident_amend(
    *, actor: Principal, incident: Incident, changes: dict[str, Any], links: Links | None, summary: str = ""
) -> tuple[Incident, IncidentRevision]:
    """Amend a report: a new immutable revision; the incident shows the latest."""
    return _amend(actor, incident, changes, links, summary or "Amendment.")


def incident_withdraw(*, actor: Principal, incident: Incident, reason: str) -> Incident:
    """The submitter withdraws a report: the record and its revisions stay, with the reason."""
    if actor.role != Role.PLATFORM_ADMIN and actor.org_id != incident.owner_org_id:
        raise Forbidden("Only the submitting organisation withdraws its report.", code="not_owner")
    if not reason.strip():
        raise ValidationFailed("Withdrawal needs a reason.", code="reason_required")
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.status in CLOSED_STATES:
            raise Conflict(f"The report is already {locked.status}.", code="incident_closed")
        before = locked.status
        locked.status = IncidentStatus.WITHDRAWN
        locked.withdrawal_reason = reason
        locked.save(update_fields=["status", "withdrawal_reason", "modified_at"])
        audit_record(
            actor=actor,
            event_code="incident.withdrawn",
            target=locked,
            before={"status": before},
            after={"status": locked.status, "reason": reason},
        )
    return locked


def incident_change_tlp(*, actor: Principal, incident: Incident, tlp: str, reason: str) -> Incident:
    """Raise TLP (the submitter, any time) or lower it (a regulator, with a reason; audited)."""
    new, old = TLP(tlp), TLP(incident.tlp)
    lowering = TLP_ORDER[new] < TLP_ORDER[old]
    if lowering:
        if actor.role not in (Role.REGULATOR, Role.PLATFORM_ADMIN):
            raise Forbidden("Lowering TLP needs a regulator.", code="tlp_lowering_requires_regulator")
        if not reason.strip():
            raise ValidationFailed("Lowering TLP needs a reason.", code="reason_required")
    elif actor.role != Role.PLATFORM_ADMIN and actor.org_id != incident.owner_org_id:
        raise Forbidden("Only the submitting organisation raises the TLP of its report.", code="not_owner")
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.tlp == new:
            return locked
        locked.tlp = new
        locked.save(update_fields=["tlp", "modified_at"])
        audit_record(
            actor=actor,
            event_code="incident.tlp_lowered" if lowering else "incident.tlp_raised",
            target=locked,
            before={"tlp": old},
            after={"tlp": new, "reason": reason},
        )
    return locked
