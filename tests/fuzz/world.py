"""The data schemathesis runs against: real objects behind every path parameter, and the three
principals' API keys (a lab submitter, a reviewer and a regulator of the lead regulator).

Built through the services (so every invariant holds), inside the test's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.test import override_settings

from accounts.models import Role
from api_docs import examples
from coordination import services as coordination_services
from core.models import AuditEvent
from core.sealing import audit_seal
from incidents import services as incident_services
from incidents.models import Incident
from tests.factories import (
    AgentScaffoldFactory,
    EvaluationResultFactory,
    FrontierModelFactory,
    OrganizationFactory,
    issue_key,
    member_principal,
)

PRINCIPALS = ("lab_submitter", "reviewer", "regulator")


@dataclass
class World:
    keys: dict[str, str]  # principal -> "Api-Key <plaintext>"
    # path parameter name -> principal -> a real value (what that principal would name)
    refs: dict[str, dict[str, str]] = field(default_factory=dict)

    def real(self, path: str, name: str, principal: str) -> str | None:
        """A real object for the path parameter `name` of the operation at `path`."""
        if name == "ref":
            resource = path.removeprefix("/api/v1/").split("/", 1)[0]
            name = f"ref:{resource}"
        return self.refs.get(name, {}).get(principal)


def _same(value: str) -> dict[str, str]:
    return dict.fromkeys(PRINCIPALS, value)


def build_world() -> World:
    lab = OrganizationFactory(short_name="fuzz-lab", kind="lab", country="FR")
    regulator = OrganizationFactory(
        short_name="fuzz-eu-office", kind="regulator", country="BE", jurisdictions=["EU"]
    )
    keys = {}
    key_rows = {}
    for principal, org, role in (
        ("lab_submitter", lab, Role.LAB_SUBMITTER),
        ("reviewer", regulator, Role.REVIEWER),
        ("regulator", regulator, Role.REGULATOR),
    ):
        row, plaintext = issue_key(org, role, name=f"fuzz-{principal}")
        keys[principal] = f"Api-Key {plaintext}"
        key_rows[principal] = row

    model = FrontierModelFactory(provider=lab, name="Fuzz-Model", tlp="clear")
    scaffold = AgentScaffoldFactory(owner_org=lab, name="fuzz-scaffold", tlp="clear")
    evaluation = EvaluationResultFactory(model=model, scaffold=scaffold, tlp="green")
    submitter = member_principal(lab, Role.LAB_SUBMITTER)
    body = examples.INCIDENT_CREATE
    incidents: list[Incident] = []
    for tlp, external_id in (("amber", "FUZZ-1"), ("clear", "FUZZ-2")):
        incidents.append(
            incident_services.incident_submit(
                actor=submitter,
                data={
                    "record_class": body["record_class"],
                    "title": f"Fuzz report {external_id}",
                    "description": body["description"],
                    "submitter_capacity": "provider",
                    "instruction_provenance": "uninstructed",
                    "countries": ["FR"],
                    "tlp": tlp,
                    "external_id": external_id,
                },
                links=incident_services.Links(
                    models=[incident_services.InvolvedModel(role="originating", model=model)]
                ),
            ).incident
        )
    incident = incidents[0]
    incident_services.comment_add(
        actor=submitter, incident=incident, visibility="shared", body="Logs attached."
    )
    with override_settings(REDLINE_WEBHOOK_ALLOW_LOOPBACK=True, REDLINE_WEBHOOK_ALLOW_HTTP=True):
        lab_endpoint, _ = coordination_services.webhook_endpoint_create(
            actor=member_principal(lab, Role.LAB_ADMIN),
            url="http://127.0.0.1:9/hook",
            subscriptions=["own_reports"],
        )
        regulator_endpoint, _ = coordination_services.webhook_endpoint_create(
            actor=member_principal(regulator, Role.REGULATOR),
            url="http://127.0.0.1:9/hook",
            subscriptions=["own_reports"],
        )
    event = AuditEvent.objects.order_by("-id").first()
    checkpoint = audit_seal()
    assert event is not None and checkpoint is not None

    world = World(keys=keys)
    world.refs = {
        "ref:incidents": _same(incident.public_id),
        "ref:models": _same(model.public_id),
        "ref:scaffolds": _same(scaffold.public_id),
        "ref:evaluations": _same(evaluation.public_id),
        "ref:organizations": _same(lab.short_name),
        "ref:api-keys": {p: str(row.pk) for p, row in key_rows.items()},
        "ref:webhooks": {
            "lab_submitter": str(lab_endpoint.pk),
            "reviewer": str(regulator_endpoint.pk),
            "regulator": str(regulator_endpoint.pk),
        },
        "ref:audit": _same(str(checkpoint.tree_size)),
        "event_id": _same(str(event.pk)),
        "dataset": _same("models"),
        "fmt": _same("jsonl"),
    }
    return world
