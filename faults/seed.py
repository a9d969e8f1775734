"""Seeding and counting, through the same services and models as the service (import after
`harness.django_setup`)."""

from __future__ import annotations

import copy
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import Count

from accounts.models import ROLE_SCOPES, Organization, Role
from accounts.services import api_key_create, organization_create
from api_docs import examples
from core.actors import Principal
from core.models import AuditEvent, IdempotencyRecord, OutboxEvent
from incidents.models import Incident, IncidentRevision
from registry.services import frontier_model_create

PLATFORM = Principal(kind="system", label="faults", role=Role.PLATFORM_ADMIN)


def org_admin(org: Organization) -> Principal:
    return Principal(
        kind="system",
        label=f"faults@{org.short_name}",
        org_id=org.pk,
        org_short_name=org.short_name,
        org_kind=org.kind,
        org_jurisdictions=tuple(org.jurisdictions),
        role=Role.LAB_ADMIN,
        scopes=ROLE_SCOPES[Role.LAB_ADMIN],
    )


@dataclass
class Lab:
    org: Organization
    model_public_id: str
    keys: list[str]


def seed_labs(*, labs: int, keys_per_lab: int) -> list[Lab]:
    """`labs` labs, each with a registered model and `keys_per_lab` lab_submitter API keys (pipelines)."""
    out = []
    for index in range(labs):
        org = organization_create(
            actor=PLATFORM,
            short_name=f"faults-lab-{index}-{uuid.uuid4().hex[:6]}",
            name=f"Faults Lab {index}",
            kind="lab",
            country="FR",
        )
        model = frontier_model_create(
            actor=org_admin(org),
            data={
                "name": f"Model-{index}",
                "weights_availability": "open",
                "market_status": "on_market",
                "tlp": "clear",
            },
        )
        keys = [
            api_key_create(
                actor=PLATFORM,
                organization=org,
                name=f"pipeline-{n}",
                role=Role.LAB_SUBMITTER,
                scopes=sorted(ROLE_SCOPES[Role.LAB_SUBMITTER]),
            )[1]
            for n in range(keys_per_lab)
        ]
        out.append(Lab(org=org, model_public_id=model.public_id, keys=keys))
    return out


def incident_body(model_public_id: str, external_id: str) -> dict[str, Any]:
    body = copy.deepcopy(examples.INCIDENT_CREATE)
    body["models"] = [{"model": model_public_id, "role": "originating"}]
    body["external_id"] = external_id
    body["title"] = f"Fault scenario report {external_id}"
    return body


@dataclass
class WriteAudit:
    """The database's side of the story for a set of submissions."""

    incidents: int
    lost: list[str]
    duplicated: list[str]
    receipt_mismatch: list[str]
    unacknowledged: list[str]
    extra_revisions: list[str]
    partial: list[str]
    idempotency_records: int
    idempotency_inconsistent: list[str]


def audit_writes(acknowledged: dict[str, str], orgs: list[Organization]) -> WriteAudit:
    """Compare what the clients were told (external_id -> public_id from a 201) with the database:
    every acknowledged report exists once, with one revision, its `incident.submitted` audit event and
    outbox event, and an idempotency record whose stored receipt names it."""
    connection.close()  # the scenario may have restarted the database under this process
    incidents = list(Incident.objects.filter(owner_org__in=orgs).values("id", "public_id", "external_id"))
    by_external = Counter(row["external_id"] for row in incidents)
    duplicated = sorted(ext for ext, n in by_external.items() if n > 1)
    stored = {row["external_id"]: row["public_id"] for row in incidents}
    lost = sorted(ext for ext in acknowledged if ext not in stored)
    mismatch = sorted(ext for ext, pid in acknowledged.items() if ext in stored and stored[ext] != pid)
    unacknowledged = sorted(ext for ext in stored if ext not in acknowledged)
    ids = [row["id"] for row in incidents]
    revisions = dict(
        IncidentRevision.objects.filter(incident_id__in=ids)
        .values_list("incident_id")
        .annotate(n=Count("id"))
        .values_list("incident_id", "n")
    )
    extra_revisions = sorted(str(i) for i in ids if revisions.get(i, 0) > 1)
    audited = set(
        AuditEvent.objects.filter(
            event_code="incident.submitted", target_id__in=[str(i) for i in ids]
        ).values_list("target_id", flat=True)
    )
    emitted = set(
        OutboxEvent.objects.filter(
            topic="incident.submitted", subject_id__in=[str(i) for i in ids]
        ).values_list("subject_id", flat=True)
    )
    partial = sorted(
        row["public_id"]
        for row in incidents
        if revisions.get(row["id"], 0) < 1 or str(row["id"]) not in audited or str(row["id"]) not in emitted
    )
    records = list(
        IdempotencyRecord.objects.filter(path__startswith="/api/v1/incidents").values_list(
            "response_body", flat=True
        )
    )
    receipts = Counter(
        str(body.get("public_id")) for body in records if isinstance(body, dict) and body.get("public_id")
    )
    stored_ids = set(stored.values())
    inconsistent = sorted(pid for pid, n in receipts.items() if n > 1 or pid not in stored_ids)
    inconsistent += sorted(pid for pid in stored_ids if pid not in receipts)
    return WriteAudit(
        incidents=len(incidents),
        lost=lost,
        duplicated=duplicated,
        receipt_mismatch=mismatch,
        unacknowledged=unacknowledged,
        extra_revisions=extra_revisions,
        partial=partial,
        idempotency_records=len(records),
        idempotency_inconsistent=inconsistent,
    )
