"""Every incident read goes through `incident_list`: the one visibility rule (DESIGN 4) for list, detail,
search, revisions, evidence, comments and exports."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet

from accounts.selectors import tlp_visibility_q
from core.actors import Principal
from core.errors import NotFound, ValidationFailed
from incidents.models import Incident, IncidentModel, IncidentRecipient, IncidentRevision

_UUID_RE = re.compile(r"^[0-9a-fA-F-]{32,36}$")


def incident_visibility_q(actor: Principal) -> Q:
    """TLP 2.0 for incidents: TLP:RED reaches only its submitter and its named recipients."""
    named = Q(pk__in=[])
    if actor.user_id is not None:
        recipient = Exists(
            IncidentRecipient.objects.filter(incident_id=OuterRef("pk"), user_id=actor.user_id)
        )
        named |= Q(submitted_by_user_id=actor.user_id) | Q(recipient)
    if actor.api_key_id is not None:
        named |= Q(submitted_by_key=actor.api_key_id)
    return tlp_visibility_q(
        actor, owner_field="owner_org", jurisdictions_field="jurisdictions", red_recipients_q=named
    )


def incident_list(*, actor: Principal) -> QuerySet[Incident]:
    """The incidents `actor` may see, with what a list row shows joined in."""
    return Incident.objects.filter(incident_visibility_q(actor)).select_related("owner_org", "scaffold")


def incident_detail_queryset(*, actor: Principal) -> QuerySet[Incident]:
    involved = IncidentModel.objects.select_related("model").order_by("pk")
    return (
        incident_list(actor=actor)
        .prefetch_related(Prefetch("involved_models", queryset=involved), "related_evaluations")
        .select_related("duplicate_of", "replaced_by")
    )


def _ref_q(ref: str) -> Q:
    if _UUID_RE.match(ref):
        try:
            return Q(pk=UUID(ref))
        except ValueError:
            pass
    return Q(public_id=ref)


def incident_get(*, actor: Principal, ref: str) -> Incident:
    """One visible incident by public id or UUID; anything else is 404 (never 403)."""
    incident = incident_detail_queryset(actor=actor).filter(_ref_q(ref)).first()
    if incident is None:
        raise NotFound(f"No incident {ref!r}.")
    return incident


def incident_by_external_id(*, org_id: Any, external_id: str) -> Incident | None:
    """The org's own incident with this external id (used to turn a re-send into a revision)."""
    if not external_id:
        return None
    return Incident.objects.filter(owner_org_id=org_id, external_id=external_id).first()


def revision_list(*, actor: Principal, incident_ref: str) -> QuerySet[IncidentRevision]:
    incident = incident_get(actor=actor, ref=incident_ref)
    return IncidentRevision.objects.filter(incident=incident).order_by("number")


def revision_get(*, actor: Principal, incident_ref: str, number: int) -> IncidentRevision:
    revision = revision_list(actor=actor, incident_ref=incident_ref).filter(number=number).first()
    if revision is None:
        raise NotFound(f"No revision {number} of {incident_ref}.")
    return revision


def revision_diff(old: dict[str, Any], new: dict[str, Any]) -> list[dict[str, Any]]:
    """Field-by-field differences between two revision payloads, in field order."""
    changes = []
    for field in sorted(set(old) | set(new)):
        if old.get(field) != new.get(field):
            changes.append({"field": field, "from": old.get(field), "to": new.get(field)})
    return changes


def revision_compare(
    *, actor: Principal, incident_ref: str, from_number: int, to_number: int
) -> dict[str, Any]:
    incident_get(actor=actor, ref=incident_ref)  # visibility first: out of scope is 404 whatever the query
    if from_number == to_number:
        raise ValidationFailed("Compare two different revisions.", code="same_revision")
    old = revision_get(actor=actor, incident_ref=incident_ref, number=from_number)
    new = revision_get(actor=actor, incident_ref=incident_ref, number=to_number)
    return {"from": from_number, "to": to_number, "changes": revision_diff(old.payload, new.payload)}
