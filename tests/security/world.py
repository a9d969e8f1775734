"""The world the access matrix runs in: every role of the policy and every object it names, built once per
module through the same services as production (tests/security/conftest.py wraps it in one transaction
that is rolled back when the module ends; each test runs in a savepoint inside it).

Lab A ("owning lab") files everything: an incident at each TLP level (countries FR, so jurisdictions FR
and EU; the EU regulator is the lead regulator), incidents in each workflow state, a model, a scaffold and
an evaluation at each TLP level. The EU regulator's reviewer is a named recipient of the TLP:RED report
and the reviewer every report in review is assigned to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.files.base import ContentFile
from rest_framework.test import APIClient

from accounts.authentication import principal_for_key, principal_for_membership
from accounts.models import ApiKey, Membership, Organization, Role
from coordination import services as coordination_services
from coordination.models import EmailSubscription, Subscription, WebhookEndpoint, WebhookSecret
from coordination.notifications import fan_out
from coordination.selectors import DEFAULT_ROOT, _collection_id
from coordination.signing import secret_generate
from coordination.stix import stix_id
from core.actors import Principal
from core.enums import TLP
from core.models import AuditEvent, OutboxEvent
from core.sealing import audit_seal
from incidents import services
from incidents.models import Incident, IncidentRecipient
from registry.models import AgentScaffold, EvaluationResult, FrontierModel
from tests.factories import (
    AgentScaffoldFactory,
    EvaluationResultFactory,
    FrontierModelFactory,
    MembershipFactory,
    OrganizationFactory,
    issue_key,
    sign_in,
)

TLPS = [t.value for t in TLP]
INSPECT_LOG = Path(__file__).resolve().parent.parent / "fixtures" / "inspect" / "replication_probe_5of10.eval"

# role -> (org key, membership role, how it authenticates)
SESSION_ROLES: dict[str, tuple[str, str]] = {
    "lab_submitter": ("lab_a", Role.LAB_SUBMITTER),
    "lab_admin": ("lab_a", Role.LAB_ADMIN),
    "other_lab_admin": ("lab_b", Role.LAB_ADMIN),
    "lead_reviewer": ("eu", Role.REVIEWER),
    "lead_regulator": ("eu", Role.REGULATOR),
    "other_reviewer": ("us", Role.REVIEWER),
    "coordination_reviewer": ("coord", Role.REVIEWER),
    "platform_admin": ("platform", Role.PLATFORM_ADMIN),
}
# role -> (org key, key role, scopes: None means every scope the role may hold)
KEY_ROLES: dict[str, tuple[str, str, list[str] | None]] = {
    "key_lab_admin": ("lab_a", Role.LAB_ADMIN, None),
    "key_no_scope": ("lab_a", Role.LAB_ADMIN, []),
    "key_regulator": ("eu", Role.REGULATOR, None),
}
ROLES = ["anonymous", *SESSION_ROLES, *KEY_ROLES]


@dataclass
class Obj:
    """One object of the policy: what its URLs are built from, and which TLP rule decides who sees it."""

    name: str
    tlp: str = "clear"
    attrs: dict[str, str] = field(default_factory=dict)


@dataclass
class World:
    orgs: dict[str, Organization]
    memberships: dict[str, Membership]
    keys: dict[str, ApiKey]
    principals: dict[str, Principal]
    clients: dict[str, APIClient]
    objects: dict[str, Obj]
    incidents: dict[str, Incident]

    def client(self, role: str) -> APIClient:
        return self.clients[role]


def _incident_data(title: str, tlp: str, **extra: Any) -> dict[str, Any]:
    return {
        "record_class": "real_world_incident",
        "title": title,
        "description": f"An agent started a replica ({title}).",
        "submitter_capacity": "provider",
        "instruction_provenance": "uninstructed",
        "countries": ["FR"],
        "tlp": tlp,
        **extra,
    }


def _file(actor: Principal, title: str, tlp: str, **extra: Any) -> Incident:
    receipt = services.incident_submit(
        actor=actor,
        data=_incident_data(title, tlp, **extra),
        links=services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")]),
    )
    return receipt.incident


def _endpoint(org: Organization, url: str) -> WebhookEndpoint:
    # Created directly: the SSRF guard resolves names at registration, and the matrix needs no network.
    endpoint = WebhookEndpoint.objects.create(
        organization=org, url=url, subscriptions=["own_reports", "new_in_jurisdiction", "deadlines"]
    )
    WebhookSecret.objects.create(endpoint=endpoint, secret=secret_generate())
    return endpoint


def build_world() -> World:
    org = OrganizationFactory
    orgs = {
        "lab_a": org(short_name="sec-lab-a", kind="lab", country="FR", sharing_communities=["sec-community"]),
        "lab_b": org(short_name="sec-lab-b", kind="lab", country="US"),
        "eu": org(
            short_name="sec-eu",
            kind="regulator",
            country="BE",
            jurisdictions=["EU"],
            sharing_communities=["sec-community"],
        ),
        "us": org(short_name="sec-us", kind="regulator", country="US", jurisdictions=["US"]),
        "coord": org(short_name="sec-coord", kind="coordination_body", country="CH"),
        "platform": org(short_name="sec-platform", kind="coordination_body", country="CH"),
    }
    memberships = {
        role: MembershipFactory(
            organization=orgs[org_key],
            role=member_role,
            user__username=f"sec-{role}",
            user__email=f"{role}@sec.example",
        )
        for role, (org_key, member_role) in SESSION_ROLES.items()
    }
    principals: dict[str, Principal] = {
        role: principal_for_membership(membership) for role, membership in memberships.items()
    }
    keys: dict[str, ApiKey] = {}
    plaintexts: dict[str, str] = {}
    for role, (org_key, key_role, scopes) in KEY_ROLES.items():
        keys[role], plaintexts[role] = issue_key(orgs[org_key], key_role, scopes=scopes, name=role)
        principals[role] = principal_for_key(keys[role])
    spare_key, _ = issue_key(orgs["lab_a"], Role.LAB_SUBMITTER, name="spare")
    other_lab_key, _ = issue_key(orgs["lab_b"], Role.LAB_SUBMITTER, name="other-lab-spare")

    submitter = principals["lab_submitter"]
    reviewer = principals["lead_reviewer"]
    objects: dict[str, Obj] = {"none": Obj("none")}
    incidents: dict[str, Incident] = {}

    def add_incident(name: str, incident: Incident) -> None:
        incidents[name] = incident
        objects[name] = Obj(
            name,
            incident.tlp,
            {
                "ref": incident.public_id,
                "uuid": str(incident.pk),
                "stix_id": stix_id("incident", incident.pk),
                "title": incident.title,
            },
        )

    for tlp in TLPS:
        add_incident(f"incident@{tlp}", _file(submitter, f"Security matrix secmatrixterm {tlp}", tlp))
    IncidentRecipient.objects.create(
        incident=incidents["incident@red"], user=memberships["lead_reviewer"].user
    )
    for tlp in ("amber+strict", "red"):  # a second revision, to compare
        services.incident_amend(
            actor=submitter,
            incident=incidents[f"incident@{tlp}"],
            changes={"actions_taken": "Host isolated."},
            links=None,
        )

    # Reports in each workflow state, TLP:AMBER, held by the lead reviewer.
    def transition(incident: Incident, action: str, actor: Principal = reviewer, **params: Any) -> Incident:
        return services.incident_transition(actor=actor, incident=incident, action=action, **params)

    in_review = transition(_file(submitter, "Security state secstate in review", "amber"), "claim")
    add_incident("incident@in_review", in_review)
    needs_info = transition(_file(submitter, "Security state secstate needs info", "amber"), "claim")
    add_incident("incident@needs_information", transition(needs_info, "request_information"))
    accepted = transition(_file(submitter, "Security state secstate accepted", "amber"), "claim")
    add_incident("incident@accepted", transition(accepted, "accept"))
    pending = _file(submitter, "Security state secstate pending", "amber", severity="serious_incident")
    pending = transition(transition(pending, "claim"), "accept")
    add_incident("incident@pending_confirmation", pending)
    published = transition(_file(submitter, "Security state secstate published", "clear"), "claim")
    add_incident("incident@published", transition(published, "accept"))

    # What hangs off the TLP:AMBER report: evidence, comments of both kinds, the lead regulator's
    # assessment, an alias.
    amber = incidents["incident@amber"]
    evidence = services.evidence_add(
        actor=submitter,
        incident=amber,
        upload=ContentFile(b"evidence for the security matrix\n", name="trace.log"),
        kind="log",
    )
    objects["evidence@amber"] = Obj(
        "evidence@amber", "amber", {"ref": amber.public_id, "id": str(evidence.pk)}
    )
    internal = services.comment_add(
        actor=reviewer, incident=amber, visibility="internal", body="secinternal note for reviewers"
    )
    shared = services.comment_add(actor=submitter, incident=amber, visibility="shared", body="secshared note")
    objects["comment@internal"] = Obj(
        "comment@internal", "amber", {"ref": amber.public_id, "id": str(internal.pk)}
    )
    objects["comment@shared"] = Obj("comment@shared", "amber", {"ref": amber.public_id, "id": str(shared.pk)})
    assessment, _ = services.assessment_set(
        actor=principals["lead_regulator"], incident=amber, data={"verdict": "inconclusive"}
    )
    objects["assessment@amber"] = Obj(
        "assessment@amber", "amber", {"ref": amber.public_id, "id": str(assessment.pk)}
    )

    # The registry: a model, a scaffold and an evaluation at each TLP level, all lab A's.
    for tlp in TLPS:
        model: FrontierModel = FrontierModelFactory(
            provider=orgs["lab_a"], name=f"SecModel-{tlp}", tlp=tlp, jurisdictions=["EU"]
        )
        objects[f"model@{tlp}"] = Obj(f"model@{tlp}", tlp, {"ref": model.public_id, "uuid": str(model.pk)})
        scaffold: AgentScaffold = AgentScaffoldFactory(
            owner_org=orgs["lab_a"], name=f"SecScaffold-{tlp}", tlp=tlp
        )
        objects[f"scaffold@{tlp}"] = Obj(f"scaffold@{tlp}", tlp, {"ref": scaffold.public_id})
    for tlp in TLPS:
        evaluation: EvaluationResult = EvaluationResultFactory(
            model=FrontierModel.objects.get(public_id=objects["model@clear"].attrs["ref"]), tlp=tlp
        )
        objects[f"evaluation@{tlp}"] = Obj(f"evaluation@{tlp}", tlp, {"ref": evaluation.public_id})

    # Webhook endpoints of the owning lab and the lead regulator; the API keys of lab A and lab B.
    for name, org_key in (("webhook@lab_a", "lab_a"), ("webhook@eu", "eu")):
        endpoint = _endpoint(orgs[org_key], f"https://hooks.example/{org_key}")
        objects[name] = Obj(name, attrs={"ref": str(endpoint.pk)})
    objects["api_key@lab_a"] = Obj("api_key@lab_a", attrs={"ref": str(spare_key.pk)})
    objects["api_key@lab_b"] = Obj("api_key@lab_b", attrs={"ref": str(other_lab_key.pk)})

    # The audit log: the red report's submission event, sealed into a checkpoint.
    coordination_services.stix_index_all()
    checkpoint = audit_seal()
    assert checkpoint is not None
    for tlp in TLPS:
        event = AuditEvent.objects.get(
            event_code="incident.submitted", target_id=str(incidents[f"incident@{tlp}"].pk)
        )
        objects[f"audit@{tlp}"] = Obj(
            f"audit@{tlp}", tlp, {"id": str(event.pk), "tree_size": str(checkpoint.tree_size)}
        )
    objects["checkpoint"] = Obj("checkpoint", attrs={"id": str(checkpoint.tree_size)})
    objects["community"] = Obj("community", attrs={"slug": "sec-community"})
    draft = services.incident_draft_save(actor=submitter, draft=None, step="what", data={"title": "Draft"})
    objects["draft"] = Obj("draft", attrs={"id": str(draft.pk)})
    status = coordination_services.exchange_receive(
        actor=principals["key_regulator"],
        api_root=DEFAULT_ROOT,
        collection_id=_collection_id(DEFAULT_ROOT, "inbound"),
        envelope={"objects": []},
    )
    objects["taxii"] = Obj(
        "taxii",
        attrs={
            "read": _collection_id(DEFAULT_ROOT, "incidents"),
            "inbound": _collection_id(DEFAULT_ROOT, "inbound"),
            "status": str(status.pk),
            "read_community": _collection_id("sec-community", "incidents"),
        },
    )

    # Webhook and email payloads: every member subscribed to everything; each report's submission event
    # fanned out (as the outbox handler does after commit) with the endpoints and members of today.
    for membership in memberships.values():
        EmailSubscription.objects.create(membership=membership, subscriptions=list(Subscription.values))
    for tlp in TLPS:
        event = OutboxEvent.objects.get(
            topic="incident.submitted", subject_id=str(incidents[f"incident@{tlp}"].pk)
        )
        fan_out(event)

    clients: dict[str, APIClient] = {"anonymous": APIClient()}
    for role, plaintext in plaintexts.items():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
        clients[role] = client
    # An imported evaluation, with the raw log it came from.
    response = clients["key_lab_admin"].post(
        "/api/v1/evaluations/import",
        {
            "file": ContentFile(INSPECT_LOG.read_bytes(), name=INSPECT_LOG.name),
            "capability_domain": "end_to_end",
            "scenario_type": "instructed_replication_local",
        },
        format="multipart",
    )
    assert response.status_code == 201, response.content
    imported = EvaluationResult.objects.get(public_id=response.json()["evaluations"][0]["public_id"])
    objects["evaluation@imported"] = Obj("evaluation@imported", imported.tlp, {"ref": imported.public_id})
    for role, membership in memberships.items():
        client = APIClient()
        sign_in(client, membership.user)
        clients[role] = client
    return World(
        orgs=orgs,
        memberships=memberships,
        keys=keys,
        principals=principals,
        clients=clients,
        objects=objects,
        incidents=incidents,
    )
