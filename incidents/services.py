"""Every incident write: submission (with follow-up revisions by external_id), amendment, withdrawal,
TLP changes. Each call is one transaction that writes the incident, its immutable revision and the
audit event."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.postgres.search import SearchVector
from django.core.files import File
from django.core.files.storage import storages
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, OperationalError, transaction
from django.db.models import Field, Value
from django.utils import timezone

from accounts.authentication import principal_for_membership
from accounts.models import Membership, Organization, OrganizationKind, Role
from core.actors import Principal
from core.api.views import etag_for
from core.audit import audit_record
from core.enums import TLP, TLP_ORDER, jurisdictions_for
from core.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NotFound,
    PayloadTooLarge,
    PreconditionFailed,
    UnsupportedMediaType,
    ValidationFailed,
)
from core.outbox import outbox_emit
from core.public_ids import allocate_public_id
from incidents import deadlines as clocks
from incidents import evidence as evidence_files
from incidents import workflows
from incidents.models import (
    AliasSource,
    Assessment,
    Comment,
    CommentVisibility,
    Evidence,
    Incident,
    IncidentAlias,
    IncidentDeadline,
    IncidentDraft,
    IncidentModel,
    IncidentRecipient,
    IncidentRevision,
    IncidentStatus,
    IncidentTransition,
    IncidentVisibilityChange,
    RejectionReason,
    ReportStage,
    VisibilityChangeReason,
)
from incidents.selectors import (
    can_file_reports,
    incident_by_external_id,
    incident_get,
    incident_list,
    incident_visibility_q,
    is_oversight_staff,
)
from registry.models import AgentScaffold, EvaluationResult, FrontierModel

logger = logging.getLogger(__name__)

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
    "resolved_at",
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
    for name in ("occurred_start", "occurred_end", "detected_at", "provider_aware_at", "resolved_at"):
        value = getattr(incident, name)
        if value is not None and value > now + timedelta(minutes=5):
            errors.append(FieldError(field=name, code="in_future", message="Cannot be in the future."))
    if incident.occurred_start and incident.occurred_end and incident.occurred_end < incident.occurred_start:
        errors.append(FieldError(field="occurred_end", code="before_start", message="Ends before it starts."))
    if errors:
        raise ValidationFailed("; ".join(f"{e.field}: {e.message}" for e in errors), errors=errors)


def _save_links(incident: Incident, links: Links, *, created: bool = False) -> None:
    """The report's model and evaluation links become exactly `links` (`created`: the report is new and
    has none yet, so there is nothing to read or delete first)."""
    if not created:
        incident.involved_models.all().delete()
    IncidentModel.objects.bulk_create(
        IncidentModel(incident=incident, model=item.model, model_name=item.model_name, role=item.role)
        for item in links.models
    )
    if not created:
        incident.related_evaluations.set(links.related_evaluations or [])
    elif links.related_evaluations:
        incident.related_evaluations.add(*links.related_evaluations)


def _refresh_search_vector(incident: Incident, *, aliases: list[AliasInput] | None = None) -> None:
    """Recompute the stored search vector. `aliases`: the report's aliases when the caller knows them
    all (a new report), saving the read."""
    # The alias ids ("AML.CS0042", "AVID-2023-V013", "2024-05-22-4a1b", an AIID number) are searchable
    # at weight B: they name the same event, like the description does.
    pairs = (
        sorted((a.source, a.external_id) for a in aliases)
        if aliases is not None
        else IncidentAlias.objects.filter(incident_id=incident.pk)
        .order_by("source", "external_id")
        .values_list("source", "external_id")
    )
    alias_text = " ".join(f"{source} {external_id}" for source, external_id in pairs)
    Incident.objects.filter(pk=incident.pk).update(
        search_vector=SearchVector("title", weight="A", config="english")
        + SearchVector("description", weight="B", config="english")
        + SearchVector(Value(alias_text), weight="B", config="english")
        + SearchVector(
            "chain_of_events", "root_cause_analysis", "actions_taken", weight="C", config="english"
        )
    )


# --- aliases: the same event in other databases (issue 6) ---------------------------------------------


@dataclass(frozen=True)
class AliasFormat:
    """How one source spells its ids, where they live on the web, and which hosts a link may point to."""

    pattern: re.Pattern[str]
    example: str
    url_template: str
    hosts: frozenset[str]
    url_id: re.Pattern[str]  # the id inside one of the source's own URLs
    case: str = ""  # "upper" / "lower": the canonical spelling


# Verified against the registries' own pages and data: AIID cites incidents by number
# (incidentdatabase.ai/cite/<n>); the OECD AIM addresses an incident as <date>-<4 hex>
# (oecd.ai/en/incidents/2024-05-22-4a1b); AVID numbers vulnerabilities AVID-<year>-V<3 digits> and
# reports AVID-<year>-R<4 digits> (avidml.org/database/<id>); MITRE ATLAS case studies are AML.CS<4 digits>
# (atlas.mitre.org/studies/<id>).
ALIAS_FORMATS: dict[str, AliasFormat] = {
    AliasSource.AIID: AliasFormat(
        pattern=re.compile(r"[1-9][0-9]{0,6}"),
        example="23",
        url_template="https://incidentdatabase.ai/cite/{id}",
        hosts=frozenset({"incidentdatabase.ai", "www.incidentdatabase.ai"}),
        url_id=re.compile(r"/cite/([0-9]+)/?"),
    ),
    AliasSource.OECD_AIM: AliasFormat(
        pattern=re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}-[0-9a-f]{4}"),
        example="2024-05-22-4a1b",
        url_template="https://oecd.ai/en/incidents/{id}",
        hosts=frozenset({"oecd.ai", "www.oecd.ai"}),
        url_id=re.compile(r"/(?:[a-z]{2}/)?incidents/([0-9a-fA-F-]+)/?"),
        case="lower",
    ),
    AliasSource.AVID: AliasFormat(
        pattern=re.compile(r"AVID-[0-9]{4}-(?:V[0-9]{3}|R[0-9]{4})"),
        example="AVID-2023-V013",
        url_template="https://avidml.org/database/{id}",
        hosts=frozenset({"avidml.org", "www.avidml.org"}),
        url_id=re.compile(r"/database/([A-Za-z0-9-]+)/?"),
        case="upper",
    ),
    AliasSource.ATLAS: AliasFormat(
        pattern=re.compile(r"AML\.CS[0-9]{4}"),
        example="AML.CS0042",
        url_template="https://atlas.mitre.org/studies/{id}",
        hosts=frozenset({"atlas.mitre.org"}),
        url_id=re.compile(r"/studies/([A-Za-z0-9.]+)/?"),
        case="upper",
    ),
}


@dataclass(frozen=True)
class AliasInput:
    """One alias, as parsed and checked: canonical id and a URL on the source's own site."""

    source: str
    external_id: str
    url: str


def _alias_error(field: str, code: str, message: str) -> ValidationFailed:
    field = field.lstrip(".")
    return ValidationFailed(message, code=code, errors=[FieldError(field=field, code=code, message=message)])


def alias_parse(*, source: str, external_id: str, url: str = "", field: str = "aliases") -> AliasInput:
    """Check one alias against its source's id format (an id of the source, or one of its URLs, is
    accepted as `external_id`) and return it in canonical form, with the canonical URL when none is
    given. A `url`, when given, must be an https address on the source's own site."""
    spec = ALIAS_FORMATS.get(source)
    if spec is None:
        raise _alias_error(f"{field}.source", "invalid_alias_source", f"Unknown alias source {source!r}.")
    raw = external_id.strip()
    if raw.lower().startswith(("https://", "http://")):
        parts = urlsplit(raw)
        found = spec.url_id.fullmatch(parts.path) if parts.hostname in spec.hosts else None
        if found is None:
            raise _alias_error(
                f"{field}.external_id",
                "invalid_alias_id",
                f"Not a {AliasSource(source).label} address: give the id (e.g. {spec.example}).",
            )
        url = url or raw
        raw = found.group(1)
    candidate = raw.upper() if spec.case == "upper" else raw.lower() if spec.case == "lower" else raw
    if not spec.pattern.fullmatch(candidate):
        raise _alias_error(
            f"{field}.external_id",
            "invalid_alias_id",
            f"{external_id[:80]!r} is not a {AliasSource(source).label} id (e.g. {spec.example}).",
        )
    if url:
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname not in spec.hosts:
            raise _alias_error(
                f"{field}.url",
                "invalid_alias_url",
                f"An alias URL must be an https address on {sorted(spec.hosts)[0]}.",
            )
    return AliasInput(source=source, external_id=candidate, url=url or spec.url_template.format(id=candidate))


def _aliases_of(data: dict[str, Any]) -> list[AliasInput]:
    """The submission's `aliases` (already shape-checked by the serializer), parsed and de-duplicated."""
    seen: dict[tuple[str, str], AliasInput] = {}
    for index, item in enumerate(data.get("aliases") or []):
        parsed = alias_parse(
            source=item.get("source", ""),
            external_id=item.get("external_id", ""),
            url=item.get("url", ""),
            field=f"aliases[{index}]",
        )
        seen.setdefault((parsed.source, parsed.external_id), parsed)
    return list(seen.values())


def _alias_document(aliases: list[AliasInput]) -> list[dict[str, str]]:
    return [{"source": a.source, "external_id": a.external_id, "url": a.url} for a in aliases]


def _sync_submitter_aliases(
    actor: Principal, incident: Incident, aliases: list[AliasInput], *, created: bool = False
) -> None:
    """The submitting organisation's aliases become exactly `aliases`; those oversight staff added stay
    (`created`: the report is new and has none yet)."""
    owner = incident.owner_org_id
    wanted = {(a.source, a.external_id): a for a in aliases}
    existing = (
        {}
        if created
        else {(row.source, row.external_id): row for row in IncidentAlias.objects.filter(incident=incident)}
    )
    stale = [row.pk for key, row in existing.items() if key not in wanted and row.added_by_org_id == owner]
    if stale:
        IncidentAlias.objects.filter(pk__in=stale).delete()
    IncidentAlias.objects.bulk_create(
        IncidentAlias(
            incident=incident,
            source=a.source,
            external_id=a.external_id,
            url=a.url,
            added_by=actor.label,
            added_by_org_id=owner,
        )
        for key, a in wanted.items()
        if key not in existing
    )


def incident_alias_add(
    *, actor: Principal, incident: Incident, source: str, external_id: str, url: str = ""
) -> tuple[IncidentAlias, bool]:
    """Link a report to the same event in another database (AIID, OECD AIM, AVID, ATLAS). The submitting
    organisation, or reviewers and regulators of an oversight body who may see the report; an alias
    already there is returned unchanged (created False). Audited as `incident.alias_added`."""
    _require_visible(actor, incident)
    if (
        actor.role != Role.PLATFORM_ADMIN
        and actor.org_id != incident.owner_org_id
        and not is_oversight_staff(actor)
    ):
        raise Forbidden(
            "Only the submitting organisation and oversight staff link a report to other databases.",
            code="alias_not_allowed",
        )
    parsed = alias_parse(source=source, external_id=external_id, url=url, field="")
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        alias, created = IncidentAlias.objects.get_or_create(
            incident=locked,
            source=parsed.source,
            external_id=parsed.external_id,
            defaults={"url": parsed.url, "added_by": actor.label, "added_by_org_id": actor.org_id},
        )
        if created:
            Incident.objects.filter(pk=locked.pk).update(modified_at=timezone.now())
            _refresh_search_vector(locked)
            audit_record(
                actor=actor,
                event_code="incident.alias_added",
                target=locked,
                after={"source": alias.source, "external_id": alias.external_id, "url": alias.url},
            )
            outbox_emit(topic=RECORD_CHANGED_EVENT, subject=locked, data={"change": "alias"})
    return alias, created


def _record_revision(
    actor: Principal, incident: Incident, links: Links, summary: str, *, received_at: datetime | None = None
) -> IncidentRevision:
    document = incident_document(incident, links)
    text = canonical_json(document)
    return IncidentRevision.objects.create(
        incident=incident,
        number=incident.revision_number,
        payload=document,
        sha256=hashlib.sha256(text.encode()).hexdigest(),
        received_at=received_at or timezone.now(),
        submitted_by=actor.label,
        change_summary=summary,
    )


def incident_submit(*, actor: Principal, data: dict[str, Any], links: Links) -> Receipt:
    """File a report. A repeated `external_id` from the same organisation is a follow-up revision of the
    existing report, never a second incident."""
    org = _require_submitter(actor)
    aliases = _aliases_of(data)
    if "aliases" in data:
        data = {**data, "aliases": _alias_document(aliases)}
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
            # A new report's clocks need nothing stored (one filing, no acknowledgement): computed before
            # the INSERT, so `next_due_at` is written with the row and the clocks in one INSERT after it.
            received_at = timezone.now()
            deadlines = _initial_deadlines(incident, received_at=received_at)
            incident.save()
            _save_links(incident, links, created=True)
            _sync_submitter_aliases(actor, incident, aliases, created=True)
            _refresh_search_vector(incident, aliases=aliases)
            revision = _record_revision(
                actor, incident, links, "Initial submission.", received_at=received_at
            )
            IncidentDeadline.objects.bulk_create(deadlines)
            audit_record(
                actor=actor, event_code="incident.submitted", target=incident, after=revision.payload
            )
            outbox_emit(topic="incident.submitted", subject=incident, data={"revision": revision.number})
    except IntegrityError as exc:  # a concurrent first submission of the same external_id won
        raise Conflict(
            "A report with this external_id is being filed right now; retry.", code="external_id_race"
        ) from exc
    return Receipt(incident=incident, revision=revision, created=True)


PARTNER_TLPS = (TLP.CLEAR, TLP.GREEN, TLP.AMBER)


def partner_incident_receive(
    *,
    actor: Principal,
    stix_id: str,
    title: str,
    description: str,
    tlp: str,
    determination: str = "",
    severity: str = "",
) -> Receipt:
    """File the report a partner registry pushed over TAXII (coordination.services.exchange_receive), as
    a submission of the sending organisation in the triage queue, through `incident_submit`'s rules.

    The partner is an oversight organisation, not a lab: it files in the capacity of a regulator, with the
    STIX id as its `external_id`, so a later version of the same STIX object is a follow-up revision of
    that report (never a second incident, never merged into anyone else's). What STIX does not carry is
    left for triage: record class `real_world_incident`, instruction provenance `unknown`, no models.
    Only TLP:CLEAR, GREEN and AMBER are taken: a partner cannot name Redline's TLP:RED recipients, and
    without countries an AMBER+STRICT report would reach no lead regulator, so neither could be triaged."""
    if actor.org_kind not in (OrganizationKind.REGULATOR, OrganizationKind.COORDINATION_BODY):
        raise Forbidden("Only regulators and coordination bodies push reports.", code="not_partner")
    if not actor.has_scope("exchange:write"):
        raise Forbidden("This key lacks the scope 'exchange:write'.", code="insufficient_scope")
    if tlp not in PARTNER_TLPS:
        raise ValidationFailed(
            f"TLP:{tlp.upper()} is not accepted from a partner registry (TLP:CLEAR, GREEN or AMBER only).",
            code="partner_tlp_not_accepted",
        )
    data: dict[str, Any] = {
        "record_class": "real_world_incident",
        "title": title[:300],
        "description": description or title,
        "submitter_capacity": "regulator",
        "instruction_provenance": "unknown",
        "external_id": stix_id,
        "tlp": tlp,
        "determination": determination,
        "severity": severity,
    }
    return incident_submit(actor=actor, data=data, links=Links(models=[]))


def _amend(
    actor: Principal, incident: Incident, changes: dict[str, Any], links: Links | None, summary: str
) -> tuple[Incident, IncidentRevision]:
    if actor.role != Role.PLATFORM_ADMIN and actor.org_id != incident.owner_org_id:
        raise Forbidden("Only the submitting organisation amends its report.", code="not_owner")
    aliases = _aliases_of(changes) if "aliases" in changes else None
    if aliases is not None:
        changes = {**changes, "aliases": _alias_document(aliases)}
    with transaction.atomic():
        locked = Incident.objects.select_for_update().get(pk=incident.pk)
        if locked.status in CLOSED_STATES:
            raise Conflict(
                f"The report is {locked.status}; it can no longer be amended.", code="incident_closed"
            )
        seen_by = (locked.tlp, list(locked.jurisdictions))
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
        _record_visibility_change(locked, tlp=seen_by[0], jurisdictions=seen_by[1])
        _save_links(locked, links)
        if aliases is not None:
            _sync_submitter_aliases(actor, locked, aliases)
        _refresh_search_vector(locked)
        revision = _record_revision(actor, locked, links, summary)
        incident_refresh_deadlines(incident=locked)
        audit_record(
            actor=actor,
            event_code="incident.amended",
            target=locked,
            before=before.payload if before else None,
            after=revision.payload,
        )
        outbox_emit(
            topic="incident.amended", subject=locked, data={"revision": revision.number, "summary": summary}
        )
    return locked, revision


def _record_visibility_change(incident: Incident, *, tlp: str, jurisdictions: list[str]) -> None:
    """Keep the facts a report was seen under before a write that changed them (its TLP, or the
    jurisdictions amber+strict reads), in that write's transaction: GET /api/v1/incidents/removed reads
    them to tell a partner's mirror what it may no longer hold."""
    if incident.tlp == tlp and sorted(incident.jurisdictions) == sorted(jurisdictions):
        return
    if incident.tlp == tlp:
        reason = VisibilityChangeReason.JURISDICTIONS_CHANGED
    elif TLP_ORDER[TLP(incident.tlp)] > TLP_ORDER[TLP(tlp)]:
        reason = VisibilityChangeReason.TLP_RAISED
    else:
        reason = VisibilityChangeReason.TLP_LOWERED
    IncidentVisibilityChange.objects.create(
        incident=incident,
        reason=reason,
        tlp=tlp,
        jurisdictions=jurisdictions,
        new_tlp=incident.tlp,
        new_jurisdictions=list(incident.jurisdictions),
    )


def incident_amend(
    *, actor: Principal, incident: Incident, changes: dict[str, Any], links: Links | None, summary: str = ""
) -> tuple[Incident, IncidentRevision]:
    """Amend a report: a new immutable revision; the incident shows the latest."""
    return _amend(actor, incident, changes, links, summary or "Amendment.")


# --- the triage workflow (incidents.workflows) ---------------------------------------------------------

TRANSITIONED_EVENT = "incident.transitioned"
TLP_CHANGED_EVENT = "incident.tlp_changed"
# Changes that alter what the record exports (assessments, comments, aliases) but that nobody subscribes
# to: the outbox carries them to the TAXII index (coordination.taxii.handlers), and fan-out ignores them.
RECORD_CHANGED_EVENT = "record.changed"
_LOCK_NOT_AVAILABLE = "55P03"
_CONCURRENT = "Another action on this report is in progress or just happened; re-read it and retry."
_TRANSITION_FIELDS = [
    "status",
    "assignee",
    "pending_accept_by",
    "rejection_reason",
    "withdrawal_reason",
    "duplicate_of",
    "replaced_by",
    "modified_at",
]


def _workflow_state(incident: Incident) -> dict[str, Any]:
    return {
        "status": incident.status,
        "assignee_id": incident.assignee_id,
        "pending_accept_by_id": incident.pending_accept_by_id,
    }


def _lock_for_transition(incident: Incident) -> Incident:
    """Lock the report's row or fail at once: of two concurrent transitions one holds the lock and the
    other is told so (409), rather than queueing behind it and then acting on a state it never saw."""
    try:
        with transaction.atomic():
            return Incident.objects.select_for_update(nowait=True).get(pk=incident.pk)
    except OperationalError as exc:
        if getattr(exc.__cause__, "sqlstate", None) != _LOCK_NOT_AVAILABLE:
            raise
        raise Conflict(_CONCURRENT, code="concurrent_transition") from exc


def _assignee_user(incident: Incident, username: str) -> Any:
    """The reviewer a report is assigned to: a reviewer of an oversight body who can see the report."""
    membership = (
        Membership.objects.select_related("user", "organization")
        .filter(
            user__username=username,
            user__is_active=True,
            role=Role.REVIEWER,
            organization__kind__in=[OrganizationKind.REGULATOR, OrganizationKind.COORDINATION_BODY],
        )
        .first()
    )
    visible = (
        membership is not None
        and (
            Incident.objects.filter(
                incident_visibility_q(principal_for_membership(membership)), pk=incident.pk
            )
        ).exists()
    )
    if membership is None or not visible:
        raise ValidationFailed(
            f"{username!r} is not a reviewer of an oversight body who can see this report.",
            code="invalid_assignee",
            errors=[
                FieldError(field="assignee", code="invalid_assignee", message="Not an eligible reviewer.")
            ],
        )
    return membership.user


def _other_incident(actor: Principal, incident: Incident, ref: str, field: str) -> Incident:
    """Another report the actor can see (404 otherwise, like any out-of-scope reference)."""
    target = incident_get(actor=actor, ref=ref)
    if target.pk == incident.pk:
        raise ValidationFailed(
            f"`{field}` must name another report.",
            code="self_reference",
            errors=[FieldError(field=field, code="self_reference", message="Names this report itself.")],
        )
    if field == "duplicate_of" and target.duplicate_of_id == incident.pk:
        raise ValidationFailed(
            f"{target.public_id} is already a duplicate of this report.",
            code="duplicate_cycle",
            errors=[FieldError(field=field, code="duplicate_cycle", message="Would make a cycle.")],
        )
    return target


def _apply_transition(
    actor: Principal, locked: Incident, row: workflows.Transition, params: dict[str, str]
) -> dict[str, Any]:
    """Change `locked` as the row says; returns what the action named, for the transition row."""
    details: dict[str, Any] = {}
    to_state = row.to_state
    locked.pending_accept_by_id = None
    if row.four_eyes and workflows.needs_second_reviewer(locked):
        # Four eyes: the first accept only records itself; a second reviewer's confirm_accept decides.
        locked.pending_accept_by_id = actor.user_id
        to_state = IncidentStatus(locked.status)
        details["awaiting_confirmation"] = True
    Action = workflows.Action
    if row.action == Action.CLAIM:
        locked.assignee_id = actor.user_id
    elif row.action == Action.UNCLAIM:
        locked.assignee_id = None
    elif row.action == Action.ASSIGN:
        locked.assignee = _assignee_user(locked, params["assignee"])
        details["assignee"] = params["assignee"]
    elif row.action == Action.REJECT:
        if params["reason"] not in RejectionReason.values:
            raise ValidationFailed(
                f"A rejection reason is one of {', '.join(RejectionReason.values)}.",
                code="invalid_rejection_reason",
                errors=[FieldError(field="reason", code="invalid_choice", message="Not a rejection reason.")],
            )
        locked.rejection_reason = params["reason"]
    elif row.action == Action.MARK_DUPLICATE:
        locked.duplicate_of = _other_incident(actor, locked, params["duplicate_of"], "duplicate_of")
        details["duplicate_of"] = locked.duplicate_of.public_id
    elif row.action == Action.SUPERSEDE:
        locked.replaced_by = _other_incident(actor, locked, params["replaced_by"], "replaced_by")
        details["replaced_by"] = locked.replaced_by.public_id
    elif row.action == Action.WITHDRAW:
        locked.withdrawal_reason = params["reason"]
    locked.status = to_state
    return details


def incident_transition(
    *,
    actor: Principal,
    incident: Incident,
    action: str,
    reason: str = "",
    assignee: str = "",
    duplicate_of: str = "",
    replaced_by: str = "",
) -> Incident:
    """Take one workflow action on a report, as the transition table (incidents.workflows) allows.

    404 outside the actor's visibility; 403 `transition_not_allowed` for a party the table refuses; 400
    for a missing parameter the row requires; 409 `invalid_transition` from a wrong state; the row's
    guards' own errors. One transaction: the row is locked NOWAIT, so of two concurrent actions exactly
    one wins and the other gets 409 `concurrent_transition` (also when `incident` is staler than the
    row). Writes one IncidentTransition and one `incident.transitioned` audit event with before and
    after. Returns the updated report."""
    row = workflows.TABLE[workflows.Action(action)]
    _require_visible(actor, incident)
    error = workflows.party_refusal(actor, incident, row)
    if error is not None:
        raise error
    params = {
        "reason": reason.strip(),
        "assignee": assignee.strip(),
        "duplicate_of": duplicate_of.strip(),
        "replaced_by": replaced_by.strip(),
    }
    missing = [name for name in row.required if not params[name]]
    if missing:
        raise ValidationFailed(
            f"`{action}` needs {', '.join(missing)}.",
            code=f"{missing[0]}_required",
            errors=[FieldError(field=name, code="required", message="Required.") for name in missing],
        )
    with transaction.atomic():
        locked = _lock_for_transition(incident)
        if _workflow_state(locked) != _workflow_state(incident):
            raise Conflict(_CONCURRENT, code="concurrent_transition")
        error = workflows.refusal(actor, locked, row)
        if error is not None:
            raise error
        before = _workflow_state(locked)
        details = _apply_transition(actor, locked, row, params)
        locked.save(update_fields=_TRANSITION_FIELDS)
        IncidentTransition.objects.create(
            incident=locked,
            action=row.action,
            from_state=before["status"],
            to_state=locked.status,
            actor_label=actor.label,
            actor_user_id=actor.user_id,
            actor_org_id=actor.org_id,
            reason=params["reason"],
            details=details,
        )
        incident_refresh_deadlines(incident=locked)
        outbox_emit(
            topic=TRANSITIONED_EVENT,
            subject=locked,
            data={"action": row.action.value, "from": before["status"], "to": locked.status, **details},
        )
        audit_record(
            actor=actor,
            event_code=TRANSITIONED_EVENT,
            target=locked,
            before=before,
            after={
                **_workflow_state(locked),
                "action": row.action.value,
                "reason": params["reason"],
                **details,
            },
        )
    return locked


def incident_change_tlp(*, actor: Principal, incident: Incident, tlp: str, reason: str) -> Incident:
    """Raise TLP (the submitter, any time) or lower it (a regulator, with a reason; audited).

    Nobody raises a report beyond what they themselves may read afterwards: a person who raises it to
    TLP:RED becomes one of its named recipients (the submitting person and key already are); a caller who
    still could not read it (another API key of the organisation raising to RED, a platform admin outside
    the report's audience raising to AMBER+STRICT) is refused with a 403 that says so, and nothing
    changes."""
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
        locked.save(update_fields=["tlp", "modified_at"])  # modified_at moves: the next sync carries it
        named = False
        if new == TLP.RED and actor.user_id is not None:
            named = IncidentRecipient.objects.get_or_create(incident=locked, user_id=actor.user_id)[1]
        if not Incident.objects.filter(incident_visibility_q(actor), pk=locked.pk).exists():
            raise Forbidden(
                f"You could not read this report at TLP:{new.upper()} yourself, so you cannot raise it "
                "there: raise it as a person (who becomes a named recipient of a TLP:RED report), or as "
                "the key that filed it.",
                code="tlp_beyond_own_clearance",
            )
        _record_visibility_change(locked, tlp=old, jurisdictions=list(locked.jurisdictions))
        audit_record(
            actor=actor,
            event_code="incident.tlp_lowered" if lowering else "incident.tlp_raised",
            target=locked,
            before={"tlp": old},
            after={"tlp": new, "reason": reason, **({"recipient_added": actor.label} if named else {})},
        )
        # The owner's `own_reports` subscribers hear of it; the TAXII index re-marks the objects.
        outbox_emit(topic=TLP_CHANGED_EVENT, subject=locked, data={"from": old.value, "to": new.value})
    return locked


# --- deadline clocks (incidents.deadlines) -------------------------------------------------------------

ACKNOWLEDGING_ACTIONS = (workflows.Action.CLAIM.value, workflows.Action.ASSIGN.value)
DEADLINE_REMINDER_EVENT = "deadline.reminder"
DEADLINE_OVERDUE_EVENT = "deadline.overdue"


def _initial_deadlines(incident: Incident, *, received_at: datetime) -> list[IncidentDeadline]:
    """The clocks of a report being filed (not saved yet): what `incident_refresh_deadlines` would store
    right after the first revision, received at `received_at`; sets `incident.next_due_at`."""
    computed = {
        d.key: d
        for d in clocks.compute_deadlines(
            incident,
            filings=[clocks.Filing(received_at=received_at, stage=str(incident.report_stage or ""))],
            acknowledged_at=None,
        )
    }.values()
    incident.next_due_at = _next_due(computed)
    return [_deadline_row(incident, d) for d in computed]


def _deadline_row(incident: Incident, deadline: clocks.Deadline) -> IncidentDeadline:
    return IncidentDeadline(
        incident=incident,
        regime=deadline.regime,
        stage=deadline.stage,
        sequence=deadline.sequence,
        due_at=deadline.due_at,
        satisfied_at=deadline.satisfied_at,
    )


def _next_due(computed: Iterable[clocks.Deadline]) -> datetime | None:
    open_due = [d.due_at for d in computed if d.satisfied_at is None]
    return min(open_due) if open_due else None


def incident_refresh_deadlines(*, incident: Incident) -> None:
    """Recompute and store the report's clocks, and its `next_due_at`. Called inside the transaction of
    every write that can move a clock (submission, amendment, transition), with the incident's row
    locked; no actor, no audit event: the clocks are derived data, and the write that moved them is
    audited. A stage whose due time moved is reminded and alerted afresh; an unchanged one keeps its
    notice marks, so a recompute never repeats a notice."""
    filings = [
        clocks.Filing(received_at=received_at, stage=stage or "")
        for received_at, stage in IncidentRevision.objects.filter(incident=incident)
        .order_by("number")
        .values_list("received_at", "payload__report_stage")
    ]
    acknowledged_at = (
        IncidentTransition.objects.filter(incident=incident, action__in=ACKNOWLEDGING_ACTIONS)
        .order_by("id")
        .values_list("created_at", flat=True)
        .first()
    )
    computed = {
        d.key: d for d in clocks.compute_deadlines(incident, filings=filings, acknowledged_at=acknowledged_at)
    }
    stored = {
        (row.regime, row.stage, row.sequence): row
        for row in IncidentDeadline.objects.filter(incident=incident)
    }
    gone = [row.pk for key, row in stored.items() if key not in computed]
    if gone:
        IncidentDeadline.objects.filter(pk__in=gone).delete()
    moved, met = [], []
    for key, deadline in computed.items():
        row = stored.get(key)
        if row is None:
            continue
        if row.due_at != deadline.due_at:
            row.due_at, row.satisfied_at = deadline.due_at, deadline.satisfied_at
            row.reminded_at = row.alerted_at = None
            moved.append(row)
        elif row.satisfied_at != deadline.satisfied_at:
            row.satisfied_at = deadline.satisfied_at
            met.append(row)
    # Only the columns that changed: the notice sender may have just set reminded_at on the others.
    if moved:
        IncidentDeadline.objects.bulk_update(moved, ["due_at", "satisfied_at", "reminded_at", "alerted_at"])
    if met:
        IncidentDeadline.objects.bulk_update(met, ["satisfied_at"])
    IncidentDeadline.objects.bulk_create(
        _deadline_row(incident, d) for key, d in computed.items() if key not in stored
    )
    incident.next_due_at = _next_due(computed.values())
    Incident.objects.filter(pk=incident.pk).update(next_due_at=incident.next_due_at)


@dataclass(frozen=True)
class NoticeCounts:
    """How many reminders and overdue alerts one run of the sender emitted."""

    reminders: int
    alerts: int


def _deadline_data(row: IncidentDeadline) -> dict[str, Any]:
    return {"regime": row.regime, "stage": row.stage, "sequence": row.sequence, "due_at": row.due_at}


def deadline_notices_send(*, now: datetime | None = None, limit: int = 1000) -> NoticeCounts:
    """Emit `deadline.reminder` for each open deadline due within REDLINE_DEADLINE_REMINDER_LEAD_HOURS
    (and not yet past due: a clock first seen overdue gets only the alert), and `deadline.overdue` for
    each open deadline past its due time; each at most once per due time, at most `limit` of each per
    run (the rest on the next run, five minutes later).

    Exactly once, even with two beat runs at the same moment: the rows are claimed FOR UPDATE SKIP LOCKED
    in the same transaction that emits the outbox event and sets `reminded_at` / `alerted_at`, so a
    concurrent run skips them while they are held and no longer matches them once committed. The
    outbox carries the event to its subscribers after commit (core.outbox)."""
    now = now or timezone.now()
    lead = timedelta(hours=settings.REDLINE_DEADLINE_REMINDER_LEAD_HOURS)
    open_rows = (
        IncidentDeadline.objects.select_for_update(skip_locked=True, of=("self",))
        .select_related("incident")
        .filter(satisfied_at__isnull=True)
    )
    with transaction.atomic():
        reminders = list(
            open_rows.filter(reminded_at__isnull=True, due_at__gt=now, due_at__lte=now + lead).order_by(
                "due_at", "id"
            )[:limit]
        )
        for row in reminders:
            outbox_emit(topic=DEADLINE_REMINDER_EVENT, subject=row.incident, data=_deadline_data(row))
            row.reminded_at = now
        IncidentDeadline.objects.bulk_update(reminders, ["reminded_at"])
    with transaction.atomic():
        alerts = list(
            open_rows.filter(alerted_at__isnull=True, due_at__lt=now).order_by("due_at", "id")[:limit]
        )
        for row in alerts:
            outbox_emit(topic=DEADLINE_OVERDUE_EVENT, subject=row.incident, data=_deadline_data(row))
            row.alerted_at = now
        IncidentDeadline.objects.bulk_update(alerts, ["alerted_at"])
    return NoticeCounts(reminders=len(reminders), alerts=len(alerts))


# --- evidence -----------------------------------------------------------------------------------------

# Besides the submitting organisation, who may attach evidence to a report their organisation can see.
EVIDENCE_OVERSIGHT_ROLES = frozenset({Role.REVIEWER, Role.REGULATOR, Role.PLATFORM_ADMIN})


def _evidence_contributor_org(actor: Principal, incident: Incident) -> uuid.UUID:
    """The organisation the evidence is filed under: the submitting organisation's members, or a
    reviewer, regulator or platform admin whose organisation can see the report."""
    if actor.org_id is None:
        raise Forbidden("Evidence is filed by a member of an organisation.", code="no_org")
    if actor.org_id == incident.owner_org_id:
        return actor.org_id
    if actor.role in EVIDENCE_OVERSIGHT_ROLES and incident_list(actor=actor).filter(pk=incident.pk).exists():
        return actor.org_id
    raise Forbidden(
        "Only the submitting organisation, or a reviewer or regulator, adds evidence to a report.",
        code="not_evidence_contributor",
    )


def _printable(value: str, limit: int) -> str:
    return "".join(char for char in value if char.isprintable())[:limit]


def _check_evidence_bytes(upload: File, file_name: str) -> str:
    """Sniff the upload's first bytes; refuse empty files, executables, unknown binary and a name that
    claims another known type (415). Returns the detected MIME type."""
    upload.seek(0)
    head = upload.read(evidence_files.SNIFF_BYTES)
    upload.seek(0)
    detected = evidence_files.sniff_type(head)
    if detected == evidence_files.EMPTY:
        raise ValidationFailed("The evidence file is empty.", code="empty_evidence")
    if detected in evidence_files.EXECUTABLE_TYPES:
        raise UnsupportedMediaType(
            f"Executables ({detected}) are not accepted as evidence; archive them (zip) if they matter.",
            code="unsupported_evidence_type",
        )
    if detected not in evidence_files.ACCEPTED_TYPES:
        raise UnsupportedMediaType(
            "The file's type is not accepted as evidence (PDF, PNG, JPEG, GIF, ZIP, gzip, pcap, JSON or "
            "UTF-8 text).",
            code="unsupported_evidence_type",
        )
    claimed = evidence_files.name_contradicts(file_name, detected)
    if claimed is not None:
        raise UnsupportedMediaType(
            f"The name {file_name!r} claims {claimed}, but the bytes are {detected}; rename the file.",
            code="evidence_type_mismatch",
        )
    return detected


def _is_duplicate_evidence(exc: IntegrityError) -> bool:
    diag = getattr(exc.__cause__, "diag", None)
    return getattr(diag, "constraint_name", None) == "evidence_once_per_incident_org"


def evidence_add(
    *,
    actor: Principal,
    incident: Incident,
    upload: File,
    kind: str,
    description: str = "",
    declared_type: str = "",
) -> Evidence:
    """Attach a file to a report the actor can see (the caller resolved it through the selectors).

    The type is sniffed from the bytes (the client's Content-Type is only recorded; a file name claiming
    another known type is refused, 415); the SHA-256 and size are computed while the file streams into
    private storage under `evidence/<org>/<incident>/<uuid>`, never a name of the client's and never
    shared between organisations. The same bytes twice from one organisation on one report: 409
    `duplicate_evidence`. All or nothing: when anything fails after the file is stored, it is deleted.
    Writes `incident.evidence_added`."""
    org_id = _evidence_contributor_org(actor, incident)
    if incident.status in CLOSED_STATES:
        raise Conflict(f"The report is {incident.status}; it takes no more evidence.", code="incident_closed")
    limit: int = settings.REDLINE_MAX_EVIDENCE_BYTES
    if upload.size is not None and upload.size > limit:
        raise PayloadTooLarge(
            f"The file is {upload.size} bytes; the evidence limit is {limit}.", code="evidence_too_large"
        )
    file_name = evidence_files.safe_file_name(upload.name or "")
    detected = _check_evidence_bytes(upload, file_name)
    evidence_id = uuid.uuid4()
    key = f"evidence/{org_id}/{incident.pk}/{evidence_id}"
    metered = evidence_files.MeteredUpload(upload, limit=limit, text=detected in evidence_files.TEXT_TYPES)
    storage = storages["private"]
    try:
        key = storage.save(key, metered)
    except BaseException:
        if storage.exists(key):
            storage.delete(key)  # a partly written file
        raise
    try:
        with transaction.atomic():
            evidence = _insert_evidence(
                actor,
                Evidence(
                    id=evidence_id,
                    incident=incident,
                    owner_org_id=org_id,
                    uploaded_by=actor.label,
                    kind=kind,
                    description=description,
                    file_name=file_name,
                    storage_key=key,
                    sha256=metered.sha256,
                    size=metered.bytes_read,
                    detected_type=detected,
                    declared_type=_printable(declared_type, 100),
                ),
            )
    except IntegrityError as exc:
        storage.delete(key)
        if _is_duplicate_evidence(exc):  # a concurrent upload of the same file won
            raise Conflict(DUPLICATE_EVIDENCE, code="duplicate_evidence") from exc
        raise
    except BaseException:
        storage.delete(key)
        raise
    return evidence


DUPLICATE_EVIDENCE = "Your organisation already attached this file to this report."


def _insert_evidence(actor: Principal, evidence: Evidence) -> Evidence:
    incident = evidence.incident
    locked = Incident.objects.select_for_update().filter(pk=incident.pk).values_list("status", flat=True)
    if locked.get() in CLOSED_STATES:
        raise Conflict("The report was closed meanwhile; it takes no more evidence.", code="incident_closed")
    if Evidence.objects.filter(
        incident=incident, owner_org_id=evidence.owner_org_id, sha256=evidence.sha256
    ).exists():
        raise Conflict(DUPLICATE_EVIDENCE, code="duplicate_evidence")
    evidence.save(force_insert=True)
    # Evidence is part of the report: its ETag and the `modified_after` sync cursor move.
    Incident.objects.filter(pk=incident.pk).update(modified_at=timezone.now())
    audit_record(
        actor=actor,
        event_code="incident.evidence_added",
        target=incident,
        after={
            "evidence_id": str(evidence.pk),
            "file_name": evidence.file_name,
            "kind": evidence.kind,
            "sha256": evidence.sha256,
            "size": evidence.size,
            "detected_type": evidence.detected_type,
            "declared_type": evidence.declared_type,
        },
    )
    return evidence


def evidence_open(*, actor: Principal, evidence: Evidence) -> File:
    """Open an evidence file for download and record `incident.evidence_downloaded` (every download is
    audited). The caller resolved `evidence` through selectors.evidence_get (visibility checked)."""
    try:
        handle = storages["private"].open(evidence.storage_key, "rb")
    except FileNotFoundError as exc:
        logger.error("evidence %s has no stored file at %s", evidence.pk, evidence.storage_key)
        raise NotFound("The evidence file is missing from storage.", code="evidence_file_missing") from exc
    try:
        with transaction.atomic():
            audit_record(
                actor=actor,
                event_code="incident.evidence_downloaded",
                target=evidence.incident,
                after={
                    "evidence_id": str(evidence.pk),
                    "sha256": evidence.sha256,
                    "file_name": evidence.file_name,
                },
            )
    except BaseException:
        handle.close()
        raise
    return handle


# Comments and assessment containers.

ASSESSMENT_FIELDS = ("verdict", "severity_override", "notes", "tlp")
ASSESSMENT_DEFAULTS: dict[str, Any] = {"severity_override": "", "notes": "", "tlp": TLP.AMBER}


def _require_visible(actor: Principal, incident: Incident) -> None:
    """Services re-check the one visibility rule: a caller that did not come through a selector (a task,
    a command) must not reach an out-of-scope report either."""
    if not Incident.objects.filter(incident_visibility_q(actor), pk=incident.pk).exists():
        raise NotFound(f"No incident {incident.public_id!r}.")


def comment_add(*, actor: Principal, incident: Incident, visibility: str, body: str) -> Comment:
    """Add an immutable comment to a report. Internal comments: oversight staff only (reviewers,
    regulators and platform admins of a regulator or coordination body). Shared comments: oversight staff
    or the submitting organisation. Audited as `incident.comment_added`, without the body."""
    _require_visible(actor, incident)
    staff = is_oversight_staff(actor)
    if visibility == CommentVisibility.INTERNAL and not staff:
        raise Forbidden(
            "Internal comments are written by reviewers and regulators of oversight bodies.",
            code="internal_comment_not_allowed",
        )
    org_id = actor.org_id
    if org_id is None or (not staff and org_id != incident.owner_org_id):
        raise Forbidden(
            "Only oversight staff and the submitting organisation comment on a report.",
            code="comment_not_allowed",
        )
    if not body.strip():
        raise ValidationFailed("A comment needs a body.", code="body_required")
    with transaction.atomic():
        comment = Comment.objects.create(
            incident=incident,
            author_org_id=org_id,
            author=actor.label,
            author_user_id=actor.user_id,
            visibility=visibility,
            body=body,
        )
        audit_record(
            actor=actor,
            event_code="incident.comment_added",
            target=incident,
            after={
                "comment_id": str(comment.pk),
                "visibility": visibility,
                "author_org": actor.org_short_name,
            },
        )
        outbox_emit(topic=RECORD_CHANGED_EVENT, subject=incident, data={"change": "comment"})
    return comment


def _assessment_state(assessment: Assessment) -> dict[str, Any]:
    state = {name: getattr(assessment, name) for name in ASSESSMENT_FIELDS}
    return {"org_id": str(assessment.org_id), **state}


def _check_if_match(if_match: str | None, current: Assessment | None) -> None:
    """412 unless If-Match (when sent) names the container's current version; a container that does not
    exist yet matches nothing, not even `*` (RFC 9110 13.1.1)."""
    if if_match is None:
        return
    candidates = [tag.strip() for tag in if_match.split(",")]
    if current is not None and ("*" in candidates or etag_for(current) in candidates):
        return
    raise PreconditionFailed(
        "The assessment changed since you read it (If-Match does not match its ETag); re-read and retry.",
        code="etag_mismatch",
    )


def assessment_set(
    *, actor: Principal, incident: Incident, data: dict[str, Any], if_match: str | None = None
) -> tuple[Assessment, bool]:
    """Create or replace the acting organisation's assessment container on a report (PUT semantics: a
    field left out takes its default). One container per organisation and report, and the container is
    always the actor's own: no argument names another organisation's, so nobody can edit it. Only
    reviewers, regulators and platform admins of a regulator or coordination body assess. Audited as
    `incident.assessment_set` with before and after. Returns the container and whether it was created."""
    _require_visible(actor, incident)
    if actor.org_id is None or not is_oversight_staff(actor):
        raise Forbidden(
            "Assessments are kept by reviewers and regulators of oversight bodies.", code="not_assessor"
        )
    values = {name: data.get(name, ASSESSMENT_DEFAULTS.get(name)) for name in ASSESSMENT_FIELDS}
    with transaction.atomic():
        existing = (
            Assessment.objects.select_for_update().filter(incident=incident, org_id=actor.org_id).first()
        )
        _check_if_match(if_match, existing)
        if existing is None:
            try:
                with transaction.atomic():
                    assessment = Assessment.objects.create(
                        incident=incident, org_id=actor.org_id, updated_by=actor.label, **values
                    )
            except IntegrityError as exc:  # a concurrent first PUT from the same organisation won
                raise Conflict(
                    "Your organisation's assessment is being created right now; retry.",
                    code="assessment_race",
                ) from exc
            before = None
        else:
            before = _assessment_state(existing)
            if all(before[name] == value for name, value in values.items()):
                return existing, False  # PUT of the current state: nothing changed, nothing to audit
            for name, value in values.items():
                setattr(existing, name, value)
            existing.updated_by = actor.label
            existing.save()
            assessment = existing
        audit_record(
            actor=actor,
            event_code="incident.assessment_set",
            target=incident,
            before=before,
            after=_assessment_state(assessment),
        )
        outbox_emit(topic=RECORD_CHANGED_EVENT, subject=incident, data={"change": "assessment"})
    return assessment, existing is None


def incident_recipient_add(*, actor: Principal, incident: Incident, username: str) -> IncidentRecipient:
    """Name a reviewer or regulator as a recipient of a report (what makes a TLP:RED report reach them).

    Only the submitting organisation names recipients, and only staff of oversight bodies can be named.
    """
    if actor.role != Role.PLATFORM_ADMIN and actor.org_id != incident.owner_org_id:
        raise Forbidden("Only the submitting organisation names recipients.", code="not_owner")
    membership = (
        Membership.objects.select_related("user", "organization")
        .filter(
            user__username=username,
            user__is_active=True,
            role__in=[Role.REVIEWER, Role.REGULATOR],
            organization__kind__in=[OrganizationKind.REGULATOR, OrganizationKind.COORDINATION_BODY],
        )
        .first()
    )
    if membership is None:
        raise ValidationFailed(
            f"{username!r} is not a reviewer or regulator of an oversight body.",
            code="invalid_recipient",
            errors=[
                FieldError(field="username", code="invalid_recipient", message="Not a reviewer or regulator.")
            ],
        )
    with transaction.atomic():
        recipient, created = IncidentRecipient.objects.get_or_create(incident=incident, user=membership.user)
        if created:
            Incident.objects.filter(pk=incident.pk).update(modified_at=timezone.now())
            audit_record(
                actor=actor,
                event_code="incident.recipient_added",
                target=incident,
                after={"recipient": username, "org": membership.organization.short_name},
            )
    return recipient


# --- drafts of the browser's submission form ---------------------------------------------------------

DRAFT_STEPS = ("what", "models", "impact", "review")


def _require_drafter(actor: Principal) -> None:
    if not can_file_reports(actor):
        raise NotFound("No such draft.")


def incident_draft_save(
    *, actor: Principal, draft: IncidentDraft | None, step: str, data: dict[str, Any]
) -> IncidentDraft:
    """Save the values of one step of the submission form into the author's draft (a new draft when
    `draft` is None). Shape only: a draft may be incomplete or invalid; the rules apply when it is filed.
    Not audited: a draft is nobody's report until it is submitted."""
    _require_drafter(actor)
    if step not in DRAFT_STEPS:
        raise ValidationFailed(f"No step {step!r}.", code="invalid_step")
    if draft is None:
        assert actor.user_id is not None and actor.org_id is not None
        return IncidentDraft.objects.create(
            owner_id=actor.user_id, org_id=actor.org_id, step=step, data=json.loads(canonical_json(data))
        )
    if draft.owner_id != actor.user_id or draft.org_id != actor.org_id:
        raise NotFound("No such draft.")
    draft.data = {**draft.data, **json.loads(canonical_json(data))}
    draft.step = step
    draft.save(update_fields=["data", "step", "updated_at"])
    return draft


def incident_draft_delete(*, actor: Principal, draft: IncidentDraft) -> None:
    """Discard one of the author's drafts."""
    _require_drafter(actor)
    if draft.owner_id != actor.user_id or draft.org_id != actor.org_id:
        raise NotFound("No such draft.")
    draft.delete()


def incident_draft_submit(
    *, actor: Principal, draft: IncidentDraft, data: dict[str, Any], links: Links
) -> Receipt:
    """File a draft: `incident_submit` with the parsed data and resolved links (exactly what the API's
    POST passes), and the draft deleted in the same transaction. When the submission fails nothing is
    written and the draft is kept."""
    _require_drafter(actor)
    if draft.owner_id != actor.user_id or draft.org_id != actor.org_id:
        raise NotFound("No such draft.")
    with transaction.atomic():
        result = incident_submit(actor=actor, data=data, links=links)
        IncidentDraft.objects.filter(pk=draft.pk).delete()
    return result
