"""The visibility matrix of DESIGN 4 for incidents: 5 TLP levels x 7 principals, shared by every
channel's test (list, detail, search, revisions, evidence, comments, exports).

`world` fixture: lab A's user files one incident per TLP level (countries FR, so jurisdictions FR+EU);
the lead (EU) regulator's reviewer is a named recipient of the TLP:RED one. EXPECTED says which TLP
levels each principal must see; every other case must be a 404 / absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.authentication import principal_for_membership
from accounts.models import Membership, Organization, Role
from core.enums import TLP
from incidents import services
from incidents.models import Incident, IncidentRecipient
from tests.factories import MembershipFactory, OrganizationFactory, sign_in

TLPS = [t.value for t in TLP]
ALL = set(TLPS)
EXPECTED: dict[str, set[str]] = {
    "anonymous": {"clear"},
    "lab_a_submitter": ALL,  # the submitting user: a named recipient of its own red report
    "lab_b_submitter": {"clear"},  # a lab never sees another lab's non-public reports
    "lead_reviewer": ALL,  # EU regulator's reviewer, named recipient of the red report
    "other_reviewer": {"clear", "green", "amber"},  # US regulator: not a lead for FR/EU
    "regulator": {"clear", "green", "amber", "amber+strict"},  # EU regulator, not a red recipient
    "coordination": {"clear", "green", "amber"},  # coordination body, no jurisdiction
}
PRINCIPALS = sorted(EXPECTED)


@dataclass
class World:
    incidents: dict[str, Incident]  # tlp -> incident
    clients: dict[str, APIClient]  # principal name -> logged-in client (anonymous: no credentials)
    orgs: dict[str, Organization]
    memberships: dict[str, Membership]

    def visible(self, principal: str) -> set[str]:
        return EXPECTED[principal]


def _member(org: Organization, role: str) -> Membership:
    membership: Membership = MembershipFactory(organization=org, role=role)
    return membership


def build_world() -> World:
    org = OrganizationFactory
    orgs = {
        "lab_a": org(short_name="matrix-lab-a", kind="lab", country="FR"),
        "lab_b": org(short_name="matrix-lab-b", kind="lab", country="US"),
        "eu": org(short_name="matrix-eu", kind="regulator", country="BE", jurisdictions=["EU"]),
        "us": org(short_name="matrix-us", kind="regulator", country="US", jurisdictions=["US"]),
        "coord": org(short_name="matrix-coord", kind="coordination_body", country="CH"),
    }
    memberships = {
        "lab_a_submitter": _member(orgs["lab_a"], Role.LAB_SUBMITTER),
        "lab_b_submitter": _member(orgs["lab_b"], Role.LAB_SUBMITTER),
        "lead_reviewer": _member(orgs["eu"], Role.REVIEWER),
        "other_reviewer": _member(orgs["us"], Role.REVIEWER),
        "regulator": _member(orgs["eu"], Role.REGULATOR),
        "coordination": _member(orgs["coord"], Role.REVIEWER),
    }
    submitter = principal_for_membership(memberships["lab_a_submitter"])
    incidents = {}
    for tlp in TLPS:
        result = services.incident_submit(
            actor=submitter,
            data={
                "record_class": "real_world_incident",
                "title": f"Replication observed matrixterm {tlp}",
                "description": f"An agent started a replica (matrix {tlp}).",
                "submitter_capacity": "provider",
                "instruction_provenance": "uninstructed",
                "countries": ["FR"],
                "tlp": tlp,
            },
            links=services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")]),
        )
        incidents[tlp] = result.incident
    IncidentRecipient.objects.create(incident=incidents["red"], user=memberships["lead_reviewer"].user)
    clients: dict[str, APIClient] = {"anonymous": APIClient()}
    for name, membership in memberships.items():
        client = APIClient()
        sign_in(client, membership.user)
        clients[name] = client
    return World(incidents=incidents, clients=clients, orgs=orgs, memberships=memberships)


@pytest.fixture
def world(db: Any) -> World:
    return build_world()
