"""`GET /api/v1/audit/`: reviewers, regulators and platform admins read the audit log, scoped like every
other read: an event about a report is visible exactly when the report is (and, for an assessment, its
container); other events by organisation; newest first, keyset cursor, no COUNT."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from accounts.authentication import principal_for_membership
from accounts.models import Role
from core.models import AuditEvent
from incidents import services
from tests.factories import AgentScaffoldFactory, FrontierModelFactory, MembershipFactory, issue_key, sign_in
from tests.incidents import matrix
from tests.incidents.matrix import EXPECTED, TLPS, World
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db
world = matrix.world  # the shared 5 TLP x 7 principals fixture

AUDIT = "/api/v1/audit/"
READERS = ["lead_reviewer", "other_reviewer", "regulator", "coordination"]


def _events(client: APIClient, **params: str) -> list[dict]:
    rows: list[dict] = []
    response = client.get(AUDIT, {"limit": 200, **params})
    assert response.status_code == 200, response.content
    rows += response.json()["results"]
    assert response.json()["next"] is None
    return rows


def _platform_admin(world: World, org: str = "us") -> APIClient:
    membership = MembershipFactory(organization=world.orgs[org], role=Role.PLATFORM_ADMIN)
    client = APIClient()
    sign_in(client, membership.user)
    return client


def test_anonymous_callers_must_authenticate(world):
    assert_problem(world.clients["anonymous"].get(AUDIT), 401)


@pytest.mark.parametrize("principal", ["lab_a_submitter", "lab_b_submitter"])
def test_labs_cannot_read_the_audit_log_even_about_their_own_reports(world, principal):
    assert_problem(world.clients[principal].get(AUDIT), 403, "audit_not_allowed")


def test_a_lab_admin_api_key_cannot_read_the_audit_log(world, make_key_client):
    client = make_key_client(world.orgs["lab_a"], role=Role.LAB_ADMIN)

    assert_problem(client.get(AUDIT), 403, "audit_not_allowed")


@pytest.mark.parametrize("principal", READERS)
def test_a_reader_sees_the_events_of_exactly_the_reports_it_may_see(world, principal):
    rows = _events(world.clients[principal], event_code="incident.submitted")

    seen = {row["target_public_id"] for row in rows}
    assert seen == {world.incidents[tlp].public_id for tlp in EXPECTED[principal]}


def test_a_regulator_does_not_see_events_of_a_report_it_cannot_see_even_by_asking_for_it(world):
    red = world.incidents["red"].public_id

    assert _events(world.clients["regulator"], target_public_id=red) == []  # EU, not a named recipient
    assert (
        _events(world.clients["other_reviewer"], target_public_id=world.incidents["amber+strict"].public_id)
        == []
    )
    assert len(_events(world.clients["lead_reviewer"], target_public_id=red)) == 1


def test_an_assessment_event_is_hidden_when_its_container_is(world):
    lead = principal_for_membership(world.memberships["lead_reviewer"])
    incident = world.incidents["amber"]
    services.assessment_set(actor=lead, incident=incident, data={"verdict": "inconclusive", "tlp": "red"})

    def assessment_events(principal: str) -> list[dict]:
        return _events(world.clients[principal], event_code="incident.assessment_set")

    assert len(assessment_events("regulator")) == 1  # the assessing organisation
    assert assessment_events("other_reviewer") == []  # sees the report, not the red container
    assert assessment_events("coordination") == []

    services.assessment_set(actor=lead, incident=incident, data={"verdict": "inconclusive", "tlp": "amber"})

    assert len(assessment_events("other_reviewer")) == 2


def test_a_platform_admin_sees_every_non_incident_event_but_incident_events_only_as_it_sees_the_reports(
    world,
):
    issue_key(world.orgs["lab_b"], name="lab-b-ci")  # api_key.created, by the system
    FrontierModelFactory(provider=world.orgs["lab_b"], tlp="red")  # frontier_model.created, by lab B
    client = _platform_admin(world, org="us")

    codes = {row["event_code"] for row in _events(client)}
    submitted = {row["target_public_id"] for row in _events(client, event_code="incident.submitted")}

    assert {"api_key.created", "frontier_model.created"} <= codes
    assert submitted == {world.incidents[tlp].public_id for tlp in ("clear", "green", "amber")}


def test_a_regulator_sees_only_its_own_organisations_non_incident_events(world):
    issue_key(world.orgs["lab_b"], name="lab-b-ci")
    FrontierModelFactory(provider=world.orgs["lab_b"], tlp="clear")
    own = AgentScaffoldFactory(owner_org=world.orgs["eu"], tlp="green")

    rows = [
        row for row in _events(world.clients["regulator"]) if not row["event_code"].startswith("incident.")
    ]

    assert [row["target_public_id"] for row in rows] == [own.public_id]
    assert [row["event_code"] for row in _events(world.clients["other_reviewer"])] == [
        "incident.submitted"
    ] * 3


def test_events_come_newest_first_and_walk_by_cursor_without_gaps_or_repeats(world):
    client = world.clients["lead_reviewer"]
    everything = _events(client)
    assert len(everything) >= 5
    stamps = [(row["occurred_at"], row["id"]) for row in everything]
    assert stamps == sorted(stamps, reverse=True)

    walked, url = [], f"{AUDIT}?limit=2"
    while url:
        page = client.get(url).json()
        walked += [row["id"] for row in page["results"]]
        url = page["next"]

    assert walked == [row["id"] for row in everything]


def test_the_audit_list_never_counts_rows(world):
    with CaptureQueriesContext(connection) as queries:
        world.clients["lead_reviewer"].get(AUDIT)

    assert not any("COUNT(" in query["sql"].upper() for query in queries.captured_queries)


def test_events_filter_by_code_target_and_time(world):
    client = world.clients["lead_reviewer"]
    amber = world.incidents["amber"]
    lead = principal_for_membership(world.memberships["lead_reviewer"])
    cutoff = AuditEvent.objects.order_by("-occurred_at").first().occurred_at
    services.comment_add(actor=lead, incident=amber, visibility="internal", body="Noted.")

    by_code = _events(client, event_code="incident.comment_added")
    by_target = _events(client, target_public_id=amber.public_id)
    after = _events(client, occurred_after=cutoff.isoformat())

    assert [row["target_public_id"] for row in by_code] == [amber.public_id]
    assert [row["event_code"] for row in by_target] == ["incident.comment_added", "incident.submitted"]
    assert [row["event_code"] for row in after] == ["incident.comment_added"]
    assert _events(client, occurred_after=(cutoff + timedelta(days=1)).isoformat()) == []


@pytest.mark.parametrize(
    "params",
    [
        {"occurred_after": "yesterday"},
        {"cursor": "not-a-cursor"},
        {"limit": "0"},
        {"ordering": "event_code"},
        {"event_code": "x" * 65},
    ],
)
def test_bad_audit_queries_are_a_400(world, params):
    assert_problem(world.clients["lead_reviewer"].get(AUDIT, params), 400)


def test_a_uuid_cursor_is_not_accepted_for_the_audit_log(world):
    from core.api.pagination import KeysetCursorPagination

    forged = KeysetCursorPagination.encode_cursor(
        AuditEvent.objects.first().occurred_at, "00000000-0000-0000-0000-000000000000"
    )

    assert_problem(world.clients["lead_reviewer"].get(AUDIT, {"cursor": forged}), 400, "invalid_cursor")


def test_the_audit_log_is_read_only(world):
    for method in ("post", "put", "patch", "delete"):
        response = getattr(world.clients["lead_reviewer"], method)(AUDIT, {}, format="json")
        assert response.status_code == 405, (method, response.status_code)


def test_every_tlp_level_of_the_world_produced_one_submission_event(world):
    # Guards the tests above: they would pass vacuously if the fixture stopped auditing.
    assert AuditEvent.objects.filter(event_code="incident.submitted").count() == len(TLPS)
