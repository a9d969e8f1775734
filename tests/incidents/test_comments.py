"""Comments on incident reports: internal ones for oversight staff, shared ones also for the submitting
organisation; the report's own visibility (DESIGN 4) comes first, comments are immutable and audited."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError
from django.test.utils import CaptureQueriesContext

from accounts.authentication import principal_for_membership
from accounts.models import Role
from core.models import AuditEvent
from incidents import services
from incidents.models import Comment
from tests.factories import MembershipFactory, sign_in
from tests.incidents import matrix
from tests.incidents.matrix import EXPECTED, PRINCIPALS, TLPS, World
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db
world = matrix.world  # the shared 5 TLP x 7 principals fixture

OVERSIGHT = {"lead_reviewer", "other_reviewer", "regulator", "coordination"}
SUBMITTER = "lab_a_submitter"


def _url(world: World, tlp: str) -> str:
    return f"/api/v1/incidents/{world.incidents[tlp].public_id}/comments"


def _seed(world: World) -> None:
    """On every report: an internal note and a shared question from the lead reviewer (who sees every
    level), and a shared answer from the submitter."""
    reviewer = principal_for_membership(world.memberships["lead_reviewer"])
    submitter = principal_for_membership(world.memberships[SUBMITTER])
    for tlp, incident in world.incidents.items():
        services.comment_add(actor=reviewer, incident=incident, visibility="internal", body=f"secret-{tlp}")
        services.comment_add(actor=reviewer, incident=incident, visibility="shared", body="Logs, please?")
        services.comment_add(actor=submitter, incident=incident, visibility="shared", body="Attached.")


def _readable(principal: str) -> list[str]:
    if principal in OVERSIGHT:
        return ["internal", "shared", "shared"]
    if principal == SUBMITTER:
        return ["shared", "shared"]
    return []


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("tlp", TLPS)
def test_the_comment_list_follows_the_report_visibility_and_the_comment_audience(world, principal, tlp):
    _seed(world)

    response = world.clients[principal].get(_url(world, tlp))

    if tlp not in EXPECTED[principal]:
        assert_problem(response, 404, "not_found")
        assert f"secret-{tlp}" not in response.content.decode()
        return
    assert response.status_code == 200, response.content
    rows = response.json()["results"]
    assert sorted(row["visibility"] for row in rows) == _readable(principal)


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("tlp", TLPS)
@pytest.mark.parametrize("visibility", ["internal", "shared"])
def test_who_may_write_which_comment(world, principal, tlp, visibility):
    response = world.clients[principal].post(
        _url(world, tlp), {"visibility": visibility, "body": "A remark."}, format="json"
    )

    if principal == "anonymous":
        assert_problem(response, 401)
    elif tlp not in EXPECTED[principal]:
        assert_problem(response, 404, "not_found")
    elif principal in OVERSIGHT or (principal == SUBMITTER and visibility == "shared"):
        assert response.status_code == 201, response.content
        assert response.json()["visibility"] == visibility
    elif visibility == "internal":
        assert_problem(response, 403, "internal_comment_not_allowed")
    else:
        assert_problem(response, 403, "comment_not_allowed")
    created = Comment.objects.filter(incident=world.incidents[tlp]).exists()
    assert created == (response.status_code == 201)


def test_a_lab_never_sees_internal_comments_on_its_own_report_even_with_an_api_key(world, make_key_client):
    _seed(world)
    client = make_key_client(world.orgs["lab_a"], role=Role.LAB_ADMIN)

    response = client.get(_url(world, "amber"))

    assert response.status_code == 200
    assert [row["visibility"] for row in response.json()["results"]] == ["shared", "shared"]
    assert "secret-amber" not in response.content.decode()


def test_another_member_of_the_submitting_lab_reads_shared_comments_but_not_a_red_report(world, client):
    _seed(world)
    colleague = MembershipFactory(organization=world.orgs["lab_a"], role=Role.LAB_SUBMITTER)
    sign_in(client, colleague.user)

    assert len(client.get(_url(world, "amber")).json()["results"]) == 2
    assert_problem(client.get(_url(world, "red")), 404)  # TLP:RED: only the named recipients


def test_a_regulator_api_key_can_write_an_internal_comment(world, make_key_client):
    client = make_key_client(world.orgs["eu"], role=Role.REGULATOR)

    response = client.post(
        _url(world, "amber+strict"), {"visibility": "internal", "body": "Escalate."}, format="json"
    )

    assert response.status_code == 201, response.content
    assert response.json()["author_org"] == "matrix-eu"


def test_posting_a_comment_is_audited_without_its_body(world):
    client = world.clients["regulator"]
    incident = world.incidents["amber"]

    response = client.post(_url(world, "amber"), {"visibility": "internal", "body": "Hush."}, format="json")

    event = AuditEvent.objects.get(event_code="incident.comment_added", target_public_id=incident.public_id)
    assert event.after == {
        "comment_id": response.json()["id"],
        "visibility": "internal",
        "author_org": "matrix-eu",
    }
    assert "Hush." not in str(event.after)
    assert event.actor_org_id == world.orgs["eu"].pk


def test_a_retried_comment_with_the_same_idempotency_key_is_filed_once(world):
    client = world.clients["regulator"]
    body = {"visibility": "shared", "body": "Please send the logs."}

    first = client.post(_url(world, "amber"), body, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    second = client.post(_url(world, "amber"), body, format="json", HTTP_IDEMPOTENCY_KEY="c-1")

    assert first.status_code == second.status_code == 201
    assert second["Idempotent-Replayed"] == "true"
    assert second.json() == first.json()
    assert Comment.objects.filter(incident=world.incidents["amber"]).count() == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"visibility": "shared"}, "body"),
        ({"visibility": "shared", "body": ""}, "body"),
        ({"visibility": "public", "body": "x"}, "visibility"),
        ({"body": "x"}, "visibility"),
        ({"visibility": "shared", "body": "x", "author": "someone else"}, "author"),
        ({"visibility": "shared", "body": "x" * 20001}, "body"),
    ],
)
def test_a_malformed_comment_is_refused_and_nothing_is_written(world, body, field):
    response = world.clients["regulator"].post(_url(world, "amber"), body, format="json")

    problem = assert_problem(response, 400)
    assert field in {error["field"] for error in problem["errors"]}
    assert not Comment.objects.exists()


def test_a_whitespace_only_comment_is_refused(world):
    response = world.clients["regulator"].post(
        _url(world, "amber"), {"visibility": "shared", "body": "   \n "}, format="json"
    )

    assert_problem(response, 400)
    assert not Comment.objects.exists()


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_comments_are_immutable_through_the_api(world, method):
    _seed(world)

    response = getattr(world.clients["regulator"], method)(
        _url(world, "amber"), {"visibility": "shared", "body": "rewritten"}, format="json"
    )

    assert_problem(response, 405)
    assert not Comment.objects.filter(body="rewritten").exists()


def test_comments_are_append_only_in_the_database(world):
    _seed(world)
    comment = Comment.objects.filter(author_user__isnull=False).first()
    assert comment is not None
    for statement in (
        lambda: Comment.objects.filter(pk=comment.pk).update(body="rewritten"),
        lambda: Comment.objects.filter(pk=comment.pk).delete(),
        lambda: comment.author_user.delete(),  # PROTECT: an author is deactivated, never deleted
    ):
        with pytest.raises((DatabaseError, ProtectedError)), transaction.atomic():
            statement()
    assert Comment.objects.get(pk=comment.pk).body == comment.body


def test_comments_are_listed_oldest_first_and_walk_by_cursor(world):
    reviewer = principal_for_membership(world.memberships["lead_reviewer"])
    incident = world.incidents["amber"]
    for number in range(5):
        services.comment_add(actor=reviewer, incident=incident, visibility="shared", body=f"c{number}")
    client = world.clients["regulator"]

    bodies, url = [], _url(world, "amber") + "?limit=2"
    while url:
        page = client.get(url).json()
        bodies += [row["body"] for row in page["results"]]
        url = page["next"]

    assert bodies == [f"c{number}" for number in range(5)]


def _count_list_queries(world: World, comments: int, tlp: str) -> int:
    reviewer = principal_for_membership(world.memberships["lead_reviewer"])
    incident = world.incidents[tlp]
    assert not Comment.objects.filter(incident=incident).exists()  # comments are never deleted
    for number in range(comments):
        visibility = "internal" if number % 2 else "shared"
        services.comment_add(actor=reviewer, incident=incident, visibility=visibility, body=f"n{number}")
    client = world.clients["regulator"]
    with CaptureQueriesContext(connection) as queries:
        response = client.get(_url(world, tlp), {"limit": 50})
    assert len(response.json()["results"]) == comments
    return len(queries)


def test_the_comment_list_costs_the_same_number_of_queries_for_3_and_20_comments(world):
    assert _count_list_queries(world, 3, "amber") == _count_list_queries(world, 20, "green")
