"""What an inbound collection accepts from a partner registry, object by object (pure: no writes).

A STIX 2.1 `incident` becomes a report in the triage queue (incidents.services.partner_incident_receive);
the sender's own `identity` and the OASIS TLP 2.0 marking definitions are acknowledged and not stored;
anything else fails with a message. An incident must: declare spec_version 2.1, pass the OASIS
stix2-validator without errors, be created by the sender's own identity (the id coordination.stix gives
the sending organisation: any other `created_by_ref` is a forgery), and carry exactly one TLP 2.0 marking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stix2validator import ValidationOptions, validate_instance

from coordination.stix import INCIDENT_CORE_EXTENSION_ID, TLP_MARKING_IDS

MARKING_TLPS = {marking: tlp for tlp, marking in TLP_MARKING_IDS.items()}
DETERMINATIONS = {
    "successful-attempt": "confirmed",
    "suspected": "suspected",
    "false-positive": "false_positive",
    "blocked": "blocked",
    "failed-attempt": "failed_attempt",
}
# The incident-core `criticality` (0-100) back onto OECD severity, at the bounds coordination.stix maps
# each level to (hazard 10, serious_hazard 35, incident 60, serious_incident 80, disaster 95).
SEVERITY_FLOORS = ((95, "disaster"), (80, "serious_incident"), (60, "incident"), (35, "serious_hazard"))
MAX_MESSAGE = 500


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one object: `incident` set when it is to be filed, else `message` says
    why it was acknowledged (`ok`) or refused."""

    stix_id: str
    version: str
    ok: bool
    message: str
    incident: dict[str, str] | None = None


def object_key(obj: Any) -> tuple[str, str]:
    if not isinstance(obj, dict):
        return "", ""
    stix_id = obj.get("id")
    version = obj.get("modified") or obj.get("created") or ""
    return (stix_id if isinstance(stix_id, str) else "")[:100], (version if isinstance(version, str) else "")[
        :32
    ]


def _fail(stix_id: str, version: str, message: str) -> Verdict:
    return Verdict(stix_id=stix_id, version=version, ok=False, message=message[:MAX_MESSAGE])


def _validator_errors(obj: dict[str, Any]) -> list[str]:
    try:
        result = validate_instance(obj, ValidationOptions(strict=False))
    except Exception as exc:  # the validator raises on shapes it cannot walk; that is a refusal too
        return [f"{type(exc).__name__}: {exc}"]
    return [str(error) for error in result.errors]


def _severity(criticality: Any) -> str:
    if not isinstance(criticality, int) or isinstance(criticality, bool):
        return ""
    for floor, severity in SEVERITY_FLOORS:
        if criticality >= floor:
            return severity
    return "hazard"


def check_object(obj: Any, *, sender_identity: str) -> Verdict:
    """Check one object of a partner's envelope; see the module docstring for the rules."""
    stix_id, version = object_key(obj)
    if not isinstance(obj, dict):
        return _fail("", "", "Not a STIX object (a JSON object is expected).")
    if obj.get("spec_version") != "2.1":
        return _fail(
            stix_id, version, f"spec_version must be '2.1', not {str(obj.get('spec_version'))[:20]!r}."
        )
    stix_type = obj.get("type")
    if stix_type == "marking-definition":
        if stix_id in MARKING_TLPS:
            return Verdict(stix_id, version, True, "TLP 2.0 marking definition (known; nothing stored).")
        return _fail(stix_id, version, "Only the OASIS TLP 2.0 marking definitions are accepted.")
    if stix_type == "identity":
        if stix_id == sender_identity:
            return Verdict(stix_id, version, True, "The sender's own identity (nothing stored).")
        return _fail(stix_id, version, "An identity other than the sender's own is not accepted.")
    if stix_type != "incident":
        return _fail(stix_id, version, f"Objects of type {str(stix_type)[:40]!r} are not accepted here.")
    errors = _validator_errors(obj)
    if errors:
        return _fail(stix_id, version, "stix2-validator: " + "; ".join(errors[:3]))
    if obj.get("created_by_ref") != sender_identity:
        return _fail(
            stix_id, version, f"created_by_ref must be the sender's own identity ({sender_identity})."
        )
    markings = obj.get("object_marking_refs") or []
    tlps = sorted({MARKING_TLPS[m] for m in markings if isinstance(m, str) and m in MARKING_TLPS})
    if not tlps:
        return _fail(stix_id, version, "No TLP 2.0 marking: the sender's TLP must be stated.")
    if len(tlps) > 1:
        return _fail(stix_id, version, "More than one TLP marking: " + ", ".join(tlps) + ".")
    extensions = obj.get("extensions") if isinstance(obj.get("extensions"), dict) else {}
    core = extensions.get(INCIDENT_CORE_EXTENSION_ID) if isinstance(extensions, dict) else None
    core = core if isinstance(core, dict) else {}
    fields = {
        "title": str(obj.get("name", "")),
        "description": str(obj.get("description", "")),
        "tlp": tlps[0],
        "determination": DETERMINATIONS.get(str(core.get("determination", "")), ""),
        "severity": _severity(core.get("criticality")),
    }
    return Verdict(stix_id, version, True, "", incident=fields)
