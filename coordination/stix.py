"""STIX 2.1 export of incidents (DESIGN 7, issue 6): every object a principal may see about a report, as
the JSON-ready dicts the `stix2` package serializes (built directly: see "the objects" below), each marked
with the OASIS TLP 2.0 marking definition of its own TLP.

What a bundle holds, per incident (only what the actor may see: the selectors decide, never this module):

| Redline record                     | STIX object                                 | Marking (TLP)          |
|------------------------------------|---------------------------------------------|------------------------|
| the incident                       | `incident` + incident-core extension        | the incident's         |
| owner org, evaluators, assessors   | `identity` (organization)                   | clear (public list)    |
| a visible registered model         | `software` (name, version, vendor)          | the model's            |
| an unregistered model (free text)  | `software`                                  | the incident's         |
| a visible related evaluation       | `report` (report_types `evaluation-result`) | the evaluation's       |
| a visible regulator assessment     | `opinion` on the incident                   | the assessment's own   |
| a visible comment                  | `note` on the incident                      | incident's, >= amber   |
| an observed behaviour              | `attack-pattern` (ATLAS id where one fits)  | clear (generic)        |
| incident -> model/eval/behaviour   | `relationship` (related-to)                 | stricter of both ends  |
| the TLP levels used                | `marking-definition` (TLP 2.0 extension)    | -                      |

Comments are marked at least TLP:AMBER: Redline shows them to the submitting organisation and oversight
staff only, whatever the report's TLP. The registry link of a model is on its relationship (a STIX 2.1
`software` SCO carries no external references). Aliases (AIID, OECD AIM, AVID, ATLAS case studies) and the
submitter's MITRE ATLAS mappings are the incident's `external_references`.

The incident-core extension (extension-definition--ef765651-680c-498d-9894-99799f2fa126, OASIS
cti-stix-common-objects), mapped honestly:

| property               | from Redline                                                           |
|------------------------|------------------------------------------------------------------------|
| `determination`        | rejected as false_positive -> `false-positive`; else the submitter's   |
|                        | determination (confirmed -> `successful-attempt`, suspected, blocked,  |
|                        | failed_attempt -> `failed-attempt`, false_positive); none: `suspected` |
| `investigation_status` | submitted -> `new`; in_review, needs_information, accepted -> `open`;  |
|                        | closed, rejected, duplicate, superseded, withdrawn -> `closed`         |
| `criticality`          | the submitter's OECD severity on the spec's 5-level VERIS scale:       |
|                        | hazard 10, serious_hazard 35, incident 60, serious_incident 80,        |
|                        | disaster 95; absent when no severity was given                         |

A regulator's verdict and severity override stay in its `opinion` (its own container, its own TLP): they
never rewrite the submitter's incident object.

Ids are deterministic, so the same record keeps its STIX id across exports and TAXII: SDOs and SROs take a
version-4-shaped UUID derived from SHA-256 of a fixed namespace and the record's primary key (STIX 2.1
says SDO ids SHOULD be UUIDv4; a uuid5 draws validator warning 103), software SCOs a uuid5 of the same
namespace and key. `modified` is the record's modified_at in milliseconds; `created` its creation (the
incident: its submission). Marking definitions and SCOs carry no `modified` (the spec forbids it).
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.db.models import F, Q, QuerySet
from django.urls import reverse

from accounts.models import Organization
from core.actors import Principal
from core.enums import TLP, TLP_ORDER, ObservedBehaviour
from incidents.models import (
    AliasSource,
    Assessment,
    Comment,
    Incident,
    IncidentAlias,
    IncidentModel,
    IncidentStatus,
    RejectionReason,
    Verdict,
)
from incidents.selectors import assessment_visibility_q, comment_visibility_q
from registry.models import EvaluationResult, FrontierModel
from registry.selectors import evaluation_list, frontier_models_visible

STIX_MEDIA_TYPE = "application/stix+json;version=2.1"

# OASIS TLP 2.0 marking definitions (cti-stix-common-objects, extension-definition-specifications/tlp-2.0).
TLP_MARKING_IDS: dict[str, str] = {
    TLP.CLEAR: "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487",
    TLP.GREEN: "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb",
    TLP.AMBER: "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
    TLP.AMBER_STRICT: "marking-definition--939a9414-2ddd-4d32-a0cd-375ea402b003",
    TLP.RED: "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1",
}
TLP2_EXTENSION_ID = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d"
TLP2_CREATED = "2022-10-01T00:00:00.000Z"
INCIDENT_CORE_EXTENSION_ID = "extension-definition--ef765651-680c-498d-9894-99799f2fa126"

# Redline's STIX namespace: never change it, or every exported id changes.
NAMESPACE = uuid.UUID("6d3f1b9e-5c1a-4f0e-9d7e-3b8a2c4f1e20")
# The attack-pattern objects describe a fixed vocabulary; they are versioned with it.
VOCABULARY_DATE = "2026-01-01T00:00:00.000Z"

DETERMINATION = {
    "confirmed": "successful-attempt",
    "suspected": "suspected",
    "false_positive": "false-positive",
    "blocked": "blocked",
    "failed_attempt": "failed-attempt",
}
INVESTIGATION_STATUS = {
    IncidentStatus.DRAFT: "new",
    IncidentStatus.SUBMITTED: "new",
    IncidentStatus.IN_REVIEW: "open",
    IncidentStatus.NEEDS_INFORMATION: "open",
    IncidentStatus.ACCEPTED: "open",
    IncidentStatus.CLOSED: "closed",
    IncidentStatus.REJECTED: "closed",
    IncidentStatus.DUPLICATE: "closed",
    IncidentStatus.SUPERSEDED: "closed",
    IncidentStatus.WITHDRAWN: "closed",
}
CRITICALITY = {"hazard": 10, "serious_hazard": 35, "incident": 60, "serious_incident": 80, "disaster": 95}
OPINION = {
    Verdict.CONFIRMED_SELF_REPLICATION: "strongly-agree",
    Verdict.PARTIAL_SELF_REPLICATION: "agree",
    Verdict.INCONCLUSIVE: "neutral",
    Verdict.PENDING: "neutral",
    Verdict.NOT_SELF_REPLICATION: "disagree",
}
# Observed behaviours with a MITRE ATLAS technique that really describes them (checked against
# mitre-atlas/atlas-data); every other behaviour is an attack-pattern without an ATLAS reference.
ATLAS_TECHNIQUES: dict[str, tuple[str, str]] = {
    ObservedBehaviour.PROMPT_SELF_REPLICATION: ("AML.T0061", "LLM Prompt Self-Replication"),
    ObservedBehaviour.UNPROMPTED_SELF_EXFILTRATION: ("AML.T0025", "Exfiltration via Cyber Means"),
    ObservedBehaviour.COVERT_EXFILTRATION_ATTEMPT: ("AML.T0025", "Exfiltration via Cyber Means"),
}
ATLAS_PAGES = {"AML.TA": "tactics", "AML.T": "techniques", "AML.CS": "studies", "AML.M": "mitigations"}
COMMENT_FLOOR = TLP.AMBER


def stix_id(stix_type: str, key: object) -> str:
    """The deterministic id of a Redline record as a STIX object of `stix_type`."""
    digest = hashlib.sha256(f"{NAMESPACE}:{stix_type}:{key}".encode()).digest()
    if stix_type == "software":  # an SCO: a uuid5 (STIX 2.1 section 2.9)
        return f"{stix_type}--{uuid.uuid5(NAMESPACE, f'{stix_type}:{key}')}"
    return f"{stix_type}--{uuid.UUID(bytes=digest[:16], version=4)}"


def _utc(value: datetime) -> str:
    """A STIX timestamp: UTC, millisecond precision (what stix2 writes for `created` and `modified`)."""
    return value.astimezone(UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def _published(value: datetime) -> str:
    """A timestamp of "any" precision as stix2 writes it (`published`): the milliseconds of `_utc`
    without their trailing zeros, no fraction at all when they are zero."""
    stamp = _utc(value)
    fraction = stamp[-4:-1].rstrip("0")
    return stamp[:-5] + (f".{fraction}Z" if fraction else "Z")


def _stricter(*levels: str) -> str:
    return max(levels, key=lambda level: TLP_ORDER[TLP(level)])


def _marking(tlp: str) -> list[str]:
    return [TLP_MARKING_IDS[tlp]]


def tlp_marking_definition(tlp: str) -> dict[str, Any]:
    """The OASIS TLP 2.0 marking-definition object (the extension form) for a Redline TLP value."""
    return {
        "type": "marking-definition",
        "spec_version": "2.1",
        "id": TLP_MARKING_IDS[tlp],
        "created": TLP2_CREATED,
        "name": f"TLP:{tlp.upper()}",
        "extensions": {TLP2_EXTENSION_ID: {"extension_type": "property-extension", "tlp_2_0": tlp}},
    }


def _reference(
    source_name: str,
    *,
    external_id: str | None = None,
    url: str | None = None,
    description: str | None = None,
) -> dict[str, str]:
    """An external reference in the order stix2 writes its properties (source_name, description, url,
    external_id), without the absent ones."""
    reference = {"source_name": source_name}
    if description is not None:
        reference["description"] = description
    if url is not None:
        reference["url"] = url
    if external_id is not None:
        reference["external_id"] = external_id
    return reference


def _atlas_url(atlas_id: str) -> str | None:
    for prefix, page in ATLAS_PAGES.items():  # longest prefixes first
        if atlas_id.startswith(prefix):
            return f"https://atlas.mitre.org/{page}/{atlas_id}"
    return None


def _atlas_reference(atlas_id: str, description: str | None = None) -> dict[str, str]:
    return _reference("mitre-atlas", external_id=atlas_id, url=_atlas_url(atlas_id), description=description)


# --- what an actor may see of a page of incidents: a fixed number of queries ----------------------------


@dataclass
class _Context:
    """Everything a page of incidents needs, loaded through the selectors in a fixed number of queries."""

    models: dict[Any, FrontierModel] = field(default_factory=dict)
    links: dict[Any, list[IncidentModel]] = field(default_factory=dict)
    evaluations: dict[Any, list[EvaluationResult]] = field(default_factory=dict)
    assessments: dict[Any, list[Assessment]] = field(default_factory=dict)
    comments: dict[Any, list[Comment]] = field(default_factory=dict)
    aliases: dict[Any, list[IncidentAlias]] = field(default_factory=dict)


def _load(actor: Principal, incidents: Sequence[Incident]) -> _Context:
    context = _Context()
    if not incidents:
        return context
    ids = [incident.pk for incident in incidents]
    for link in IncidentModel.objects.filter(incident_id__in=ids).order_by("incident_id", "pk"):
        context.links.setdefault(link.incident_id, []).append(link)
    model_ids = {link.model_id for links in context.links.values() for link in links if link.model_id}
    # The one registry rule (frontier_model_list's scope), as incident_visible_models applies it, for the
    # page; without the list's red-line flag, which STIX does not carry.
    context.models = {m.pk: m for m in frontier_models_visible(actor=actor, pks=model_ids)}
    # evaluation_list is the scope; its list columns (three subqueries, seven joins) are left out: they
    # cost more to plan than the page's other queries together, and a report does not show them.
    evaluations = EvaluationResult.objects.filter(pk__in=evaluation_list(actor=actor).values("pk"))
    evaluations = evaluations.filter(incidents__in=ids).select_related("model__provider", "owner_org")
    for evaluation, incident_id in _with_incident(evaluations):
        context.evaluations.setdefault(incident_id, []).append(evaluation)
        context.models.setdefault(evaluation.model_id, evaluation.model)
    assessments = (
        Assessment.objects.filter(incident_id__in=ids)
        .filter(assessment_visibility_q(actor))
        .select_related("org")
        .order_by("created_at", "pk")
    )
    for assessment in assessments:
        context.assessments.setdefault(assessment.incident_id, []).append(assessment)
    # The comment rule depends on the report; it has a few outcomes (all, shared only, none): one branch
    # per outcome, over the reports it applies to, rather than one per report.
    rules: dict[str, tuple[Q, list[Any]]] = {}
    for incident in incidents:
        rule = comment_visibility_q(actor, incident)
        rules.setdefault(str(rule), (rule, []))[1].append(incident.pk)
    visible_comments = Q(pk__in=[])
    for rule, incident_ids in rules.values():
        visible_comments |= Q(incident_id__in=incident_ids) & rule
    for comment in (
        Comment.objects.filter(visible_comments).select_related("author_org").order_by("created_at", "pk")
    ):
        context.comments.setdefault(comment.incident_id, []).append(comment)
    for alias in IncidentAlias.objects.filter(incident_id__in=ids).order_by("source", "external_id"):
        context.aliases.setdefault(alias.incident_id, []).append(alias)
    return context


def _with_incident(evaluations: Any) -> Iterable[tuple[EvaluationResult, Any]]:
    """Each visible evaluation with the id of the (page) incident it is related to, one query (the
    annotation reuses the filter's join: one row per related pair)."""
    for evaluation in evaluations.annotate(related_incident_id=F("incidents")).order_by("created_at", "pk"):
        yield evaluation, evaluation.related_incident_id


# --- the objects ------------------------------------------------------------------------------------------
#
# Each object is the JSON-ready dict the `stix2` library would serialize for the same arguments: its
# properties in the order of the library's class (type, spec_version, id, created_by_ref, created, ...),
# absent ones left out, timestamps as the library writes them. Built directly because constructing and
# validating library objects was most of an export's time; tests/coordination/test_stix.py re-parses a
# mixed sample with stix2 (allow_custom=False) and checks it serializes back to exactly these dicts.


class _Builder:
    """Collects the objects of one bundle, each once: an organisation, a model or a behaviour shared by
    many incidents of a page is built the first time only."""

    def __init__(self) -> None:
        self.objects: dict[str, dict[str, Any]] = {}
        self.tlps: set[str] = set()
        self._refs: dict[tuple[str, Any], str] = {}
        self._urls: dict[str, tuple[str, str]] = {}

    def _ref(self, stix_type: str, key: Any) -> str:
        """stix_id, once per record and page (a model or an organisation is named by many incidents)."""
        ref = self._refs.get((stix_type, key))
        if ref is None:
            ref = self._refs[(stix_type, key)] = stix_id(stix_type, key)
        return ref

    def add(self, obj: dict[str, Any], tlp: str | None) -> str:
        self.objects.setdefault(obj["id"], obj)
        if tlp is not None:
            self.tlps.add(tlp)
        return str(obj["id"])

    def _url(self, name: str, ref: str) -> str:
        # One reverse() per URL name and page: the ref pattern is [A-Za-z0-9-], never quoted.
        parts = self._urls.get(name)
        if parts is None:
            base = settings.REDLINE_PUBLIC_BASE_URL.rstrip("/")
            prefix, _, suffix = reverse(name, kwargs={"ref": _URL_REF}).partition(_URL_REF)
            parts = self._urls[name] = (base + prefix, suffix)
        return parts[0] + ref + parts[1]

    def redline_reference(self, name: str, public_id: str) -> dict[str, str]:
        return {"source_name": "redline", "url": self._url(name, public_id), "external_id": public_id}

    def identity(self, org: Organization) -> str:
        key = self._ref("identity", org.pk)
        if key in self.objects:
            return key
        identity = {
            "type": "identity",
            "spec_version": "2.1",
            "id": key,
            "created": _utc(org.created_at),
            "modified": _utc(max(org.modified_at, org.created_at)),
            "name": org.name,
            "roles": [str(org.kind)],
            "identity_class": "organization",
            "external_references": [{"source_name": "redline", "external_id": org.short_name}],
            "object_marking_refs": _marking(TLP.CLEAR),
        }
        return self.add(identity, TLP.CLEAR)

    def software(self, model: FrontierModel) -> str:
        key = self._ref("software", model.pk)
        if key not in self.objects:
            software: dict[str, Any] = {
                "type": "software",
                "spec_version": "2.1",
                "id": key,
                "name": model.name,
                "vendor": model.provider.name,
            }
            if model.version:
                software["version"] = model.version
            software["object_marking_refs"] = _marking(model.tlp)
            self.objects[key] = software
        self.tlps.add(model.tlp)
        return key

    def unregistered_software(self, incident: Incident, name: str) -> str:
        software = {
            "type": "software",
            "spec_version": "2.1",
            "id": stix_id("software", f"{incident.pk}:{name}"),
            "name": name,
            "object_marking_refs": _marking(incident.tlp),
        }
        return self.add(software, incident.tlp)

    def attack_pattern(self, behaviour: str) -> str:
        key = self._ref("attack-pattern", behaviour)
        if key not in self.objects:
            self.objects[key] = _attack_pattern(key, behaviour)
        self.tlps.add(TLP.CLEAR)
        return key

    def relationship(
        self,
        incident: Incident,
        source: str,
        target: str,
        target_tlp: str,
        description: str,
        references: list[dict[str, str]] | None = None,
    ) -> None:
        tlp = _stricter(incident.tlp, target_tlp)
        relationship: dict[str, Any] = {
            "type": "relationship",
            "spec_version": "2.1",
            "id": stix_id("relationship", f"{incident.pk}:{target}"),
            "created": _utc(incident.submitted_at),
            # STIX: modified is never before created (stix2 refused such an object).
            "modified": _utc(max(incident.modified_at, incident.submitted_at)),
            "relationship_type": "related-to",
            "description": description,
            "source_ref": source,
            "target_ref": target,
        }
        if references:
            relationship["external_references"] = references
        relationship["object_marking_refs"] = _marking(tlp)
        self.add(relationship, tlp)

    def evaluation(self, evaluation: EvaluationResult) -> str:
        interval = (
            f"; Wilson 95% interval [{evaluation.wilson_lower:.3f}, {evaluation.wilson_upper:.3f}]"
            if evaluation.wilson_lower is not None and evaluation.wilson_upper is not None
            else ""
        )
        counts = (
            f"{evaluation.n_successes}/{evaluation.n_trials} successes"
            if evaluation.n_trials is not None and evaluation.n_successes is not None
            else f"{evaluation.metric_name or evaluation.metric} = {evaluation.metric_value}"
        )
        key = self._ref("report", evaluation.pk)
        if key in self.objects:
            self.tlps.add(evaluation.tlp)
            return key
        # Built in the order stix2's keyword arguments were: the author, the model, then the report.
        created_by = self.identity(evaluation.owner_org)
        software = self.software(evaluation.model)
        report = {
            "type": "report",
            "spec_version": "2.1",
            "id": key,
            "created_by_ref": created_by,
            "created": _utc(evaluation.created_at),
            "modified": _utc(max(evaluation.modified_at, evaluation.created_at)),
            "name": f"{evaluation.public_id}: {evaluation.task} ({evaluation.capability_domain})",
            "description": f"{evaluation.scenario_type}: {counts}{interval}.",
            "report_types": ["evaluation-result"],
            "published": _published(evaluation.created_at),
            "object_refs": [software],
            "external_references": [self.redline_reference("api:evaluation-detail", evaluation.public_id)],
            "object_marking_refs": _marking(evaluation.tlp),
        }
        return self.add(report, evaluation.tlp)

    def incident(self, incident: Incident, aliases: list[IncidentAlias]) -> str:
        references = [self.redline_reference("api:incident-detail", incident.public_id)]
        references += [
            {"source_name": ALIAS_SOURCE_NAMES[a.source], "url": a.url, "external_id": a.external_id}
            if a.url
            else {"source_name": ALIAS_SOURCE_NAMES[a.source], "external_id": a.external_id}
            for a in aliases
        ]
        mappings = incident.taxonomy_mappings if isinstance(incident.taxonomy_mappings, dict) else {}
        references += [_atlas_reference(str(atlas_id)) for atlas_id in mappings.get("atlas", []) or []]
        core: dict[str, Any] = {
            "extension_type": "property-extension",
            "determination": _determination(incident),
            "investigation_status": INVESTIGATION_STATUS.get(IncidentStatus(incident.status), "open"),
        }
        if incident.severity in CRITICALITY:
            core["criticality"] = CRITICALITY[incident.severity]
        created_by = self.identity(incident.owner_org)
        sdo = {
            "type": "incident",
            "spec_version": "2.1",
            "id": self._ref("incident", incident.pk),
            "created_by_ref": created_by,
            "created": _utc(incident.submitted_at),
            "modified": _utc(max(incident.modified_at, incident.submitted_at)),
            "name": f"{incident.public_id}: {incident.title}",
            "description": incident.description,
            "external_references": references,
            "object_marking_refs": _marking(incident.tlp),
            "extensions": {INCIDENT_CORE_EXTENSION_ID: core},
        }
        return self.add(sdo, incident.tlp)

    def opinion(self, incident_ref: str, assessment: Assessment) -> None:
        parts = [f"Verdict: {assessment.verdict.replace('_', ' ')}."]
        if assessment.severity_override:
            parts.append(f"Severity: {assessment.severity_override.replace('_', ' ')}.")
        if assessment.notes:
            parts.append(assessment.notes)
        created_by = self.identity(assessment.org)
        opinion = {
            "type": "opinion",
            "spec_version": "2.1",
            "id": stix_id("opinion", assessment.pk),
            "created_by_ref": created_by,
            "created": _utc(assessment.created_at),
            "modified": _utc(max(assessment.modified_at, assessment.created_at)),
            "explanation": " ".join(parts),
            "authors": [assessment.org.name],
            "opinion": OPINION.get(Verdict(assessment.verdict), "neutral"),
            "object_refs": [incident_ref],
            "object_marking_refs": _marking(assessment.tlp),
        }
        self.add(opinion, assessment.tlp)

    def note(self, incident: Incident, incident_ref: str, comment: Comment) -> None:
        tlp = _stricter(incident.tlp, COMMENT_FLOOR)
        created_by = self.identity(comment.author_org)
        created = _utc(comment.created_at)
        note = {
            "type": "note",
            "spec_version": "2.1",
            "id": stix_id("note", comment.pk),
            "created_by_ref": created_by,
            "created": created,
            "modified": created,
            "abstract": f"{comment.visibility.capitalize()} comment",
            "content": comment.body,
            "authors": [comment.author],
            "object_refs": [incident_ref],
            "object_marking_refs": _marking(tlp),
        }
        self.add(note, tlp)

    def result(self) -> list[dict[str, Any]]:
        markings = [tlp_marking_definition(tlp) for tlp in TLP_ORDER if tlp in self.tlps]
        return markings + list(self.objects.values())


# A ref that matches every `<ref>` URL pattern, replaced by the real public id (Builder._url).
_URL_REF = "REDLINEREF0"
ALIAS_SOURCE_NAMES: dict[str, str] = {value: str(label) for value, label in AliasSource.choices}


def _attack_pattern(key: str, behaviour: str) -> dict[str, Any]:
    label = ObservedBehaviour(behaviour).label if behaviour in ObservedBehaviour.values else behaviour
    name = str(label) if label != behaviour else behaviour.replace("_", " ").capitalize()
    references: list[dict[str, str]] = [
        {"source_name": "redline-observed-behaviour", "external_id": behaviour}
    ]
    if behaviour in ATLAS_TECHNIQUES:
        atlas_id, atlas_name = ATLAS_TECHNIQUES[behaviour]
        references.append(_atlas_reference(atlas_id, description=atlas_name))
    return {
        "type": "attack-pattern",
        "spec_version": "2.1",
        "id": key,
        "created": VOCABULARY_DATE,
        "modified": VOCABULARY_DATE,
        "name": name,
        "description": f"Observed behaviour of a self-replicating AI system: {name}.",
        "external_references": references,
        "object_marking_refs": _marking(TLP.CLEAR),
    }


def _determination(incident: Incident) -> str:
    if (
        incident.status == IncidentStatus.REJECTED
        and incident.rejection_reason == RejectionReason.FALSE_POSITIVE
    ):
        return "false-positive"
    return DETERMINATION.get(incident.determination, "suspected")


def _describe(builder: _Builder, incident: Incident, context: _Context) -> None:
    incident_ref = builder.incident(incident, context.aliases.get(incident.pk, []))
    for link in context.links.get(incident.pk, []):
        role = link.role.replace("_", " ")
        if link.model_id is None:
            if link.model_name:
                target = builder.unregistered_software(incident, link.model_name)
                builder.relationship(
                    incident, incident_ref, target, incident.tlp, f"Involved model ({role})."
                )
            continue
        model = context.models.get(link.model_id)
        if model is None:  # not visible to this actor: not even its id leaves
            continue
        target = builder.software(model)
        builder.relationship(
            incident,
            incident_ref,
            target,
            model.tlp,
            f"Involved model ({role}).",
            [builder.redline_reference("api:model-detail", model.public_id)],
        )
    behaviours = incident.observed_behaviours if isinstance(incident.observed_behaviours, list) else []
    seen: set[str] = set()
    for entry in behaviours:
        behaviour = str(entry.get("behaviour", "")) if isinstance(entry, dict) else ""
        if not behaviour or behaviour == ObservedBehaviour.OTHER or behaviour in seen:
            continue
        seen.add(behaviour)
        target = builder.attack_pattern(behaviour)
        builder.relationship(incident, incident_ref, target, TLP.CLEAR, "Observed behaviour.")
    for evaluation in context.evaluations.get(incident.pk, []):
        target = builder.evaluation(evaluation)
        builder.relationship(incident, incident_ref, target, evaluation.tlp, "Related evaluation result.")
    for assessment in context.assessments.get(incident.pk, []):
        builder.opinion(incident_ref, assessment)
    for comment in context.comments.get(incident.pk, []):
        builder.note(incident, incident_ref, comment)


# The incident columns the objects above read (plus the keyset pagination's sort fields): a page of 200
# read for STIX skips the rest (the search vector, the long texts, a dozen JSON columns).
STIX_INCIDENT_FIELDS = (
    "id",
    "public_id",
    "tlp",
    "owner_org",
    "status",
    "title",
    "description",
    "severity",
    "determination",
    "rejection_reason",
    "observed_behaviours",
    "taxonomy_mappings",
    "submitted_at",
    "modified_at",
    "next_due_at",
)


def stix_incidents(incidents: QuerySet[Incident]) -> QuerySet[Incident]:
    """`incidents` (from incident_list for the actor) reading only what their STIX objects need."""
    return incidents.select_related(None).select_related("owner_org").only(*STIX_INCIDENT_FIELDS)


def incidents_stix_objects(*, actor: Principal, incidents: Sequence[Incident]) -> list[dict[str, Any]]:
    """The STIX objects of a page of (visible) incidents as `actor` may see them, each once, in a fixed
    number of queries. The incidents must come from incident_list / incident_get for this actor, with
    owner_org joined."""
    builder = _Builder()
    context = _load(actor, incidents)
    for incident in incidents:
        _describe(builder, incident, context)
    return builder.result()


def incident_stix_objects(*, actor: Principal, incident: Incident) -> list[dict[str, Any]]:
    """Every STIX object describing this (visible) incident as `actor` may see it, marking definitions
    first; each a JSON-ready dict."""
    return incidents_stix_objects(actor=actor, incidents=[incident])


def stix_bundle(objects: Iterable[dict[str, Any]], *, bundle_id: str | None = None) -> dict[str, Any]:
    """A STIX 2.1 bundle of the objects: {"type": "bundle", "id": "bundle--<uuid>", "objects": [...]}.
    Without `bundle_id`, a new random id (a bundle is a transient envelope)."""
    return {"type": "bundle", "id": bundle_id or f"bundle--{uuid.uuid4()}", "objects": list(objects)}


def content_bundle(objects: list[dict[str, Any]]) -> dict[str, Any]:
    """A bundle whose id is derived from its content: the same objects give the same bytes (and ETag)."""
    digest = hashlib.sha256(json.dumps(objects, sort_keys=True).encode()).digest()
    return stix_bundle(objects, bundle_id=f"bundle--{uuid.UUID(bytes=digest[:16], version=4)}")
