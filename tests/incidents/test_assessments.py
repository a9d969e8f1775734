"""Assessment containers (DESIGN 3.4): one per oversight organisation and report, each with its own TLP,
edited only by its organisation; seen only by those who see both the report and the container."""

from __future__ import annotations

import pytest

from accounts.authentication import principal_for_membership
from accounts.models import Role
from core.models import AuditEvent
from incidents import services
from incidents.models import Assessment
from tests.factories import MembershipFactory
from tests.incidents import matrix
from tests.incidents.matrix import EXPECTED, PRINCIPALS, TLPS, World
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db
world = matrix.world  # the shared 5 TLP x 7 principals fixture

OVERSIGHT = {"lead_reviewer", "other_reviewer", "regulator", "coordination"}
# Who sees the EU regulator's container on a report everyone sees (TLP:CLEAR), by the container's TLP.
CONTAINER_EXPECTED: dict[str, set[str]] = {
    "clear": set(PRINCIPALS),
    "green": set(PRINCIPALS) - {"anonymous"},  # every participant org, the labs included
    "amber": {"lead_reviewer", "regulator", "other_reviewer", "coordination"},  # no lab
    "amber+strict": {"lead_reviewer", "regulator"},  # the report is FR/EU: the US regulator is no lead
    "red": {"lead_reviewer", "regulator"},  # the assessing organisation only
}
VERDICT = {"verdict": "confirmed_self_replication", "severity_override": "serious_hazard", "notes": "Live."}


def _url(world: World, tlp: str, suffix: str = "") -> str:
    return f"/api/v1/incidents/{world.incidents[tlp].public_id}/assessments{suffix}"


def _assess(world: World, tlp: str, *, container_tlp: str, who: str = "lead_reviewer") -> Assessment:
    actor = principal_for_membership(world.memberships[who])
    assessment, _ = services.assessment_set(
        actor=actor, incident=world.incidents[tlp], data={**VERDICT, "tlp": container_tlp}
    )
    return assessment


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("tlp", TLPS)
def test_the_assessment_list_is_404_exactly_when_the_report_is_out_of_scope(world, principal, tlp):
    _assess(world, tlp, container_tlp="clear")

    response = world.clients[principal].get(_url(world, tlp))

    if tlp not in EXPECTED[principal]:
        assert_problem(response, 404, "not_found")
        assert "Live." not in response.content.decode()
    else:
        assert response.status_code == 200
        assert [row["org"] for row in response.json()] == ["matrix-eu"]


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("container_tlp", TLPS)
def test_a_container_is_seen_only_as_its_own_tlp_allows(world, principal, container_tlp):
    _assess(world, "clear", container_tlp=container_tlp)

    response = world.clients[principal].get(_url(world, "clear"))

    assert response.status_code == 200
    seen = [row["org"] for row in response.json()]
    assert seen == (["matrix-eu"] if principal in CONTAINER_EXPECTED[container_tlp] else [])


def test_a_clear_container_on_a_red_report_stays_hidden_from_those_who_cannot_see_the_report(world):
    _assess(world, "red", container_tlp="clear")

    assert_problem(world.clients["regulator"].get(_url(world, "red")), 404)  # EU, but no named recipient
    assert_problem(world.clients["lab_b_submitter"].get(_url(world, "red")), 404)
    assert len(world.clients["lead_reviewer"].get(_url(world, "red")).json()) == 1


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("tlp", TLPS)
def test_only_oversight_staff_who_see_the_report_keep_a_container(world, principal, tlp):
    response = world.clients[principal].put(_url(world, tlp, "/mine"), VERDICT, format="json")

    if principal == "anonymous":
        assert_problem(response, 401)
    elif tlp not in EXPECTED[principal]:
        assert_problem(response, 404, "not_found")
    elif principal in OVERSIGHT:
        assert response.status_code == 201, response.content
        assert response.json()["tlp"] == "amber"  # the default: oversight bodies only
    else:
        assert_problem(response, 403, "not_assessor")
    assert Assessment.objects.exists() == (response.status_code == 201)


def test_nobody_edits_another_organisations_container(world):
    eu = _assess(world, "amber", container_tlp="amber")
    us_client = world.clients["other_reviewer"]

    # The only write path is the caller's own container: the US regulator gets its own, not the EU's.
    response = us_client.put(
        _url(world, "amber", "/mine"), {"verdict": "not_self_replication"}, format="json"
    )
    assert response.status_code == 201
    assert response.json()["org"] == "matrix-us"
    # No address reaches the EU container for writing.
    for method, path in [
        ("put", f"/{eu.pk}"),
        ("patch", f"/{eu.pk}"),
        ("patch", "/mine"),
        ("post", ""),
        ("put", ""),
        ("delete", "/mine"),
    ]:
        attempt = getattr(us_client, method)(
            _url(world, "amber", path), {"verdict": "not_self_replication"}, format="json"
        )
        assert attempt.status_code in (404, 405), (method, path, attempt.status_code)
    # And a field naming the organisation is refused, not obeyed.
    smuggled = us_client.put(
        _url(world, "amber", "/mine"), {"verdict": "inconclusive", "org": "matrix-eu"}, format="json"
    )
    assert_problem(smuggled, 400)

    before = (eu.verdict, eu.updated_by, eu.modified_at)
    eu.refresh_from_db()
    assert (eu.verdict, eu.updated_by, eu.modified_at) == before
    assert eu.updated_by == world.memberships["lead_reviewer"].user.get_username()
    assert Assessment.objects.filter(incident=world.incidents["amber"]).count() == 2


def test_a_second_member_of_the_organisation_edits_the_same_container(world):
    first = _assess(world, "amber", container_tlp="amber", who="lead_reviewer")

    response = world.clients["regulator"].put(
        _url(world, "amber", "/mine"), {"verdict": "inconclusive"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["id"] == str(first.pk)
    assert Assessment.objects.count() == 1


def test_the_container_is_replaced_whole_and_each_change_is_audited_with_before_and_after(world):
    client = world.clients["regulator"]
    url = _url(world, "amber", "/mine")

    created = client.put(url, {**VERDICT, "tlp": "green"}, format="json")
    replaced = client.put(url, {"verdict": "inconclusive"}, format="json")

    assert created.status_code == 201
    assert replaced.status_code == 200
    body = replaced.json()
    assert (body["verdict"], body["severity_override"], body["notes"], body["tlp"]) == (
        "inconclusive",
        "",
        "",
        "amber",
    )
    events = list(AuditEvent.objects.filter(event_code="incident.assessment_set").order_by("id"))
    assert [e.target_public_id for e in events] == [world.incidents["amber"].public_id] * 2
    assert events[0].before is None
    assert events[0].after["verdict"] == "confirmed_self_replication"
    assert events[1].before["tlp"] == "green"
    assert events[1].after == {
        "org_id": str(world.orgs["eu"].pk),
        "verdict": "inconclusive",
        "severity_override": "",
        "notes": "",
        "tlp": "amber",
    }


def test_putting_the_same_container_twice_changes_nothing_and_audits_once(world):
    client = world.clients["regulator"]
    url = _url(world, "amber", "/mine")

    first = client.put(url, VERDICT, format="json")
    second = client.put(url, VERDICT, format="json")

    assert (first.status_code, second.status_code) == (201, 200)
    assert first["ETag"] == second["ETag"]
    assert AuditEvent.objects.filter(event_code="incident.assessment_set").count() == 1


def test_if_match_guards_the_container_against_lost_updates(world):
    client = world.clients["regulator"]
    url = _url(world, "amber", "/mine")
    client.put(url, VERDICT, format="json")
    etag = client.get(url)["ETag"]

    updated = client.put(url, {"verdict": "inconclusive"}, format="json", HTTP_IF_MATCH=etag)
    stale = client.put(url, {"verdict": "not_self_replication"}, format="json", HTTP_IF_MATCH=etag)

    assert updated.status_code == 200
    assert updated["ETag"] != etag
    assert_problem(stale, 412, "etag_mismatch")
    assert Assessment.objects.get().verdict == "inconclusive"


def test_if_match_on_a_container_that_does_not_exist_yet_fails(world):
    response = world.clients["regulator"].put(
        _url(world, "amber", "/mine"), VERDICT, format="json", HTTP_IF_MATCH='"whatever"'
    )

    assert_problem(response, 412, "etag_mismatch")
    assert not Assessment.objects.exists()


def test_my_container_is_404_until_my_organisation_has_one(world):
    client = world.clients["other_reviewer"]
    _assess(world, "amber", container_tlp="clear")  # the EU's, not mine

    assert_problem(client.get(_url(world, "amber", "/mine")), 404, "no_assessment")


def test_my_own_red_container_is_readable_by_my_organisation(world):
    _assess(world, "amber", container_tlp="red", who="lead_reviewer")

    response = world.clients["regulator"].get(_url(world, "amber", "/mine"))

    assert response.status_code == 200
    assert response.json()["tlp"] == "red"
    assert response["ETag"]


def test_a_regulator_api_key_sets_its_organisations_container(world, make_key_client):
    client = make_key_client(world.orgs["coord"], role=Role.REGULATOR)

    response = client.put(_url(world, "amber", "/mine"), VERDICT, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["org"] == "matrix-coord"


def test_a_platform_admin_of_a_lab_does_not_assess(world):
    # KIND_ROLES keeps platform_admin out of labs, but the rule must not rest on that alone.
    membership = MembershipFactory(organization=world.orgs["lab_a"], role=Role.PLATFORM_ADMIN)
    actor = principal_for_membership(membership)

    with pytest.raises(Exception, match="oversight") as raised:
        services.assessment_set(actor=actor, incident=world.incidents["clear"], data=VERDICT)

    assert getattr(raised.value, "code", None) == "not_assessor"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "verdict"),
        ({"verdict": "guilty"}, "verdict"),
        ({"verdict": "inconclusive", "tlp": "purple"}, "tlp"),
        ({"verdict": "inconclusive", "severity_override": "apocalypse"}, "severity_override"),
        ({"verdict": "inconclusive", "notes": "x" * 20001}, "notes"),
    ],
)
def test_a_malformed_assessment_is_refused_and_nothing_is_written(world, body, field):
    response = world.clients["regulator"].put(_url(world, "amber", "/mine"), body, format="json")

    problem = assert_problem(response, 400)
    assert field in {error["field"] for error in problem["errors"]}
    assert not Assessment.objects.exists()
