"""Per-incident exports for international coordination (DESIGN 7): the OECD common reporting framework
JSON and the EU GPAI serious-incident template (ten fields, JSON and a printable page).

Both are pure functions of an incident the caller may already see (views get it through
`selectors.incident_get`, so an out-of-scope incident is a 404 before anything here runs) and of the
registered models among its involved models that the caller may also see (`visible_models`): a model the
caller cannot read appears by public id only, as on the detail view. Internal comments, assessments and
evidence files are never part of an export.

OECD common reporting framework (OECD AI Papers No. 32, "Towards a common reporting framework for AI
incidents", 2025). The framework names criteria, not a wire format; Redline's JSON groups them as
follows (`mapping_version` "redline-crf/1"):

- `identification`: public id (`incident_id`), title, `event_type` (incident | hazard: a
  hazard_near_miss record, or an OECD severity of hazard / serious_hazard, is a hazard), record class,
  determination, report stage, triage status, revision, TLP, external references and aliases.
- `dates`: occurred start / end and their precision, detected, provider aware, resolved (the final
  report's clock starts there), submitted (server receipt of the first report: the one the legal clocks
  count), last modified.
- `ai_systems`: each involved model (registered public id, name, version, provider, role; or the
  free-text name of an unregistered model), the agent scaffold (public id), the AI system's relation to
  the event (caused / contributed / involved), scenario type and instruction provenance (an instructed
  evaluation is never presented as a real-world incident).
- `harm`: OECD harm types, OECD severity, EU category, critical infrastructure, quantification (hosts,
  GPU-hours, cost).
- `affected`: countries and derived jurisdictions; Redline records no stakeholder groups, so the affected
  stakeholders are given as what it does record: hosts affected and whether critical infrastructure was.
- `description`: the narrative, the chain of events, the ordered timeline of observed behaviours, and
  the self-replication specifics (outcome, milestones, replica count / depth / location, separateness,
  liveness verification).
- `response`: containment status, actions taken, root cause analysis, recommendation to the authority.
- `reporter`: the submitting organisation (short name, name, country), the submitting person or key,
  and the submitter's capacity (provider, deployer, evaluator, ...).
- `taxonomy`: MITRE ATLAS / AVID / RepliBench mappings.

EU GPAI serious-incident template: the ten fields Redline renders, chosen from the reporting contents of
the GPAI Code of Practice (Safety and Security chapter, Measure 9) and AI Act Art. 73 (see EU_FIELDS):

 1. provider_and_model: the provider (submitting organisation) and the model(s) and scaffold involved;
 2. dates: when the incident occurred, was detected, when the provider became aware (the clock's
    start) and when it was resolved (the final report is due 60 days on), plus the server receipt time;
 3. description: title, narrative, record class, scenario, instruction provenance, outcome,
    determination;
 4. serious_harm: the EU category (Art. 3(49) a-d or the Code's cyber-breach / self-exfiltration),
    severity, harm types, critical infrastructure, high-risk system;
 5. affected: countries and jurisdictions, hosts, GPU-hours and cost, replica count / depth / location;
 6. chain_of_events: the chain of events, the timeline of observed behaviours, milestones reached;
 7. containment_and_corrective_measures: containment status, actions taken, replica liveness check;
 8. root_cause_analysis: the analysis and the steps to reproduce;
 9. report_status: report stage (initial / intermediate / final), triage status, revision, and the
    planned follow-up (the recommendation);
10. contact: the reporting organisation and person, and their capacity.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from incidents.models import Incident, RecordClass, Severity
from registry.models import FrontierModel

CRF_FRAMEWORK = "OECD common reporting framework for AI incidents (OECD AI Papers No. 32, 2025)"
CRF_MAPPING_VERSION = "redline-crf/1"
EU_TEMPLATE = "EU GPAI serious-incident report (GPAI Code of Practice Measure 9; AI Act Art. 73)"

EU_FIELDS: list[tuple[str, str]] = [
    ("provider_and_model", "Provider and model identification"),
    ("dates", "Date and time of the incident and of awareness"),
    ("description", "Description of the incident"),
    ("serious_harm", "Serious harm category"),
    ("affected", "Affected persons, systems and countries"),
    ("chain_of_events", "Chain of events"),
    ("containment_and_corrective_measures", "Containment and corrective measures taken"),
    ("root_cause_analysis", "Root cause analysis"),
    ("report_status", "Report stage, status and planned follow-up"),
    ("contact", "Contact and reporter"),
]

_HAZARD_SEVERITIES = {Severity.HAZARD.value, Severity.SERIOUS_HAZARD.value}


def _event_type(incident: Incident) -> str:
    if incident.record_class == RecordClass.HAZARD_NEAR_MISS or incident.severity in _HAZARD_SEVERITIES:
        return "hazard"
    return "incident"


def _models(incident: Incident, visible_models: dict[UUID, FrontierModel]) -> list[dict[str, Any]]:
    out = []
    for link in incident.involved_models.all():
        model = visible_models.get(link.model_id) if link.model_id else None
        entry: dict[str, str | None]
        if model is not None:
            entry = {
                "model": model.public_id,
                "name": model.name,
                "version": model.version,
                "provider": model.provider.name,
            }
        elif link.model is not None:  # registered, but not readable by this caller: the id only
            entry = {"model": link.model.public_id, "name": "", "version": "", "provider": ""}
        else:
            entry = {"model": None, "name": link.model_name, "version": "", "provider": ""}
        out.append({**entry, "role": link.role})
    return out


def _quantity(incident: Incident, key: str) -> Any:
    return (incident.harm_quantification or {}).get(key)


def _dates(incident: Incident) -> dict[str, datetime | str | None]:
    return {
        "occurred_start": incident.occurred_start,
        "occurred_end": incident.occurred_end,
        "occurred_precision": incident.occurred_precision,
        "detected_at": incident.detected_at,
        "provider_aware_at": incident.provider_aware_at,
        "resolved_at": incident.resolved_at,
        "submitted_at": incident.submitted_at,
    }


def _reporter(incident: Incident) -> dict[str, str]:
    org = incident.owner_org
    return {
        "organization": org.short_name,
        "organization_name": org.name,
        "country": org.country,
        "submitted_by": incident.submitted_by,
        "capacity": incident.submitter_capacity,
    }


def _replication(incident: Incident) -> dict[str, Any]:
    return {
        "replica_count": incident.replica_count,
        "replication_depth": incident.replication_depth,
        "replica_location": incident.replica_location,
        "separateness": list(incident.separateness),
    }


def crf_document(incident: Incident, visible_models: dict[UUID, FrontierModel]) -> dict[str, Any]:
    """The incident in the OECD common reporting framework's structure (mapping in the module docstring)."""
    return {
        "framework": CRF_FRAMEWORK,
        "mapping_version": CRF_MAPPING_VERSION,
        "identification": {
            "incident_id": incident.public_id,
            "title": incident.title,
            "event_type": _event_type(incident),
            "record_class": incident.record_class,
            "determination": incident.determination,
            "report_stage": incident.report_stage,
            "status": incident.status,
            "revision": incident.revision_number,
            "tlp": incident.tlp,
            "external_references": incident.external_references,
            "aliases": incident.aliases,
        },
        "dates": {**_dates(incident), "last_modified_at": incident.modified_at},
        "ai_systems": {
            "models": _models(incident, visible_models),
            "scaffold": incident.scaffold.public_id if incident.scaffold else None,
            "ai_system_relation": incident.ai_system_relation,
            "scenario_type": incident.scenario_type,
            "instruction_provenance": incident.instruction_provenance,
        },
        "harm": {
            "harm_types": list(incident.harm_types),
            "severity": incident.severity,
            "eu_category": incident.eu_category,
            "critical_infrastructure": incident.critical_infrastructure,
            "hosts_affected": _quantity(incident, "hosts_affected"),
            "gpu_hours": _quantity(incident, "gpu_hours"),
            "cost_usd": _quantity(incident, "cost_usd"),
        },
        "affected": {
            "countries": list(incident.countries),
            "jurisdictions": list(incident.jurisdictions),
            "hosts_affected": _quantity(incident, "hosts_affected"),
            "critical_infrastructure": incident.critical_infrastructure,
        },
        "description": {
            "summary": incident.description,
            "chain_of_events": incident.chain_of_events,
            "observed_behaviours": incident.observed_behaviours,
            "outcome": incident.outcome,
            "milestones_reached": list(incident.milestones_reached),
            **_replication(incident),
            "replica_liveness_verified": incident.replica_liveness_verified,
            "replica_liveness_method": incident.replica_liveness_method,
        },
        "response": {
            "containment_status": incident.containment_status,
            "actions_taken": incident.actions_taken,
            "root_cause_analysis": incident.root_cause_analysis,
            "recommendation": incident.recommendation,
        },
        "reporter": _reporter(incident),
        "taxonomy": {
            "atlas": list((incident.taxonomy_mappings or {}).get("atlas", [])),
            "avid": list((incident.taxonomy_mappings or {}).get("avid", [])),
            "replibench": list((incident.taxonomy_mappings or {}).get("replibench", [])),
        },
    }


def eu_template(incident: Incident, visible_models: dict[UUID, FrontierModel]) -> dict[str, Any]:
    """The ten fields of the EU GPAI serious-incident template (choice of fields in the module docstring)."""
    org = incident.owner_org
    fields: dict[str, dict[str, Any]] = {
        "provider_and_model": {
            "provider": org.name,
            "provider_short_name": org.short_name,
            "models": _models(incident, visible_models),
            "scaffold": incident.scaffold.public_id if incident.scaffold else None,
        },
        "dates": _dates(incident),
        "description": {
            "title": incident.title,
            "description": incident.description,
            "record_class": incident.record_class,
            "scenario_type": incident.scenario_type,
            "instruction_provenance": incident.instruction_provenance,
            "outcome": incident.outcome,
            "determination": incident.determination,
        },
        "serious_harm": {
            "eu_category": incident.eu_category,
            "severity": incident.severity,
            "harm_types": list(incident.harm_types),
            "critical_infrastructure": incident.critical_infrastructure,
            "high_risk_system": incident.high_risk_system,
        },
        "affected": {
            "countries": list(incident.countries),
            "jurisdictions": list(incident.jurisdictions),
            "hosts_affected": _quantity(incident, "hosts_affected"),
            "gpu_hours": _quantity(incident, "gpu_hours"),
            "cost_usd": _quantity(incident, "cost_usd"),
            **_replication(incident),
        },
        "chain_of_events": {
            "chain_of_events": incident.chain_of_events,
            "observed_behaviours": incident.observed_behaviours,
            "milestones_reached": list(incident.milestones_reached),
        },
        "containment_and_corrective_measures": {
            "containment_status": incident.containment_status,
            "actions_taken": incident.actions_taken,
            "replica_liveness_verified": incident.replica_liveness_verified,
            "replica_liveness_method": incident.replica_liveness_method,
        },
        "root_cause_analysis": {
            "root_cause_analysis": incident.root_cause_analysis,
            "steps_to_reproduce": incident.steps_to_reproduce,
        },
        "report_status": {
            "report_stage": incident.report_stage,
            "status": incident.status,
            "revision": incident.revision_number,
            "planned_follow_up": incident.recommendation,
        },
        "contact": _reporter(incident),
    }
    return {"template": EU_TEMPLATE, "incident_id": incident.public_id, "tlp": incident.tlp, **fields}


def _display(value: Any) -> str:
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, list):
        return "; ".join(_display(item) for item in value)
    if isinstance(value, dict):
        return ", ".join(f"{key}: {_display(item)}" for key, item in value.items() if item not in (None, ""))
    return str(value)


def eu_template_sections(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The ten fields as numbered sections of (label, text) rows, for the printable page."""
    sections = []
    for number, (key, label) in enumerate(EU_FIELDS, start=1):
        rows = [
            (name.replace("_", " ").capitalize(), _display(value)) for name, value in document[key].items()
        ]
        sections.append({"number": number, "key": key, "label": label, "rows": rows})
    return sections
