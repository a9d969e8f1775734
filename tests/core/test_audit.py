"""The audit log: append-only in the database, and every event says who did what to which record, in
which request."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.db import connection, transaction
from django.db.utils import Error as DatabaseError
from rest_framework.test import APIClient

from accounts.models import ApiKey, Organization, Role
from core.models import AuditEvent
from registry.models import AgentScaffold
from tests.conftest import client_for_key
from tests.factories import MembershipFactory, issue_key, sign_in

SCAFFOLDS = "/api/v1/scaffolds/"


@pytest.fixture
def event(lab_a: Organization) -> AuditEvent:
    key, _ = issue_key(lab_a)  # writes api_key.created
    return AuditEvent.objects.get(event_code="api_key.created", target_id=str(key.pk))


def _refused(change: Callable[[], object]) -> bool:
    try:
        with transaction.atomic():
            change()
    except DatabaseError as exc:
        assert "append-only" in str(exc)
        return True
    return False


def test_an_audit_event_cannot_be_updated_through_the_orm(event):
    assert _refused(lambda: AuditEvent.objects.filter(pk=event.pk).update(event_code="api_key.forged"))
    assert AuditEvent.objects.get(pk=event.pk).event_code == "api_key.created"


def test_an_audit_event_cannot_be_saved_over(event):
    event.actor_label = "someone else"

    assert _refused(event.save)
    assert AuditEvent.objects.get(pk=event.pk).actor_label == "test"


def test_an_audit_event_cannot_be_deleted(event):
    assert _refused(event.delete)
    assert _refused(lambda: AuditEvent.objects.all().delete())
    assert AuditEvent.objects.filter(pk=event.pk).exists()


def test_an_audit_event_cannot_be_changed_by_raw_sql(event):
    def raw_update() -> None:
        with connection.cursor() as cursor:
            cursor.execute("UPDATE core_auditevent SET request_id = 'x' WHERE id = %s", [event.pk])

    def raw_delete() -> None:
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM core_auditevent WHERE id = %s", [event.pk])

    assert _refused(raw_update)
    assert _refused(raw_delete)
    assert AuditEvent.objects.get(pk=event.pk).request_id == event.request_id


def test_audit_events_can_still_be_appended_after_a_refused_change(event, lab_a):
    assert _refused(lambda: AuditEvent.objects.filter(pk=event.pk).delete())

    issue_key(lab_a, name="second")

    assert AuditEvent.objects.filter(event_code="api_key.created").count() == 2


def test_an_api_write_records_actor_target_and_the_callers_request_id(lab_a):
    key, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER, name="ci")
    client = client_for_key(plaintext)

    response = client.post(
        SCAFFOLDS, {"name": "x", "version": "1"}, format="json", HTTP_X_REQUEST_ID="ci-run-42.step:7"
    )

    assert response.status_code == 201, response.content
    assert response["X-Request-ID"] == "ci-run-42.step:7"
    scaffold = AgentScaffold.objects.get()
    event = AuditEvent.objects.get(event_code="agent_scaffold.created")
    assert (event.target_type, event.target_id, event.target_public_id) == (
        "registry.agentscaffold",
        str(scaffold.pk),
        scaffold.public_id,
    )
    assert event.actor_kind == "service_account"
    assert event.actor_label == "lab-a/ci"
    assert event.actor_api_key_id == key.pk
    assert event.actor_user_id is None
    assert event.actor_org_id == lab_a.pk
    assert event.actor_role == Role.LAB_SUBMITTER
    assert event.request_id == "ci-run-42.step:7"
    assert event.after["name"] == "x"


def test_a_session_users_write_is_recorded_as_that_user(lab_a):
    membership = MembershipFactory(organization=lab_a, role=Role.LAB_ADMIN)
    client = APIClient()
    sign_in(client, membership.user)

    response = client.post(
        "/api/v1/api-keys/",
        {"name": "ci", "role": "lab_submitter", "scopes": ["registry:write"]},
        format="json",
        HTTP_X_REQUEST_ID="browser-1",
    )

    assert response.status_code == 201, response.content
    event = AuditEvent.objects.get(event_code="api_key.created", target_id=response.json()["id"])
    assert (event.actor_kind, event.actor_user_id, event.actor_api_key_id) == (
        "user",
        membership.user.pk,
        None,
    )
    assert (event.actor_label, event.actor_org_id) == (membership.user.username, lab_a.pk)
    assert event.request_id == "browser-1"


@pytest.mark.parametrize(
    "incoming",
    ["", "has spaces", "x" * 65, "semi;colon", "<script>", "ünïcode", "req-1\n", "req-1\r\nSet-Cookie: x=1"],
    ids=[
        "empty",
        "spaces",
        "too-long",
        "semicolon",
        "markup",
        "non-ascii",
        "trailing-newline",
        "header-injection",
    ],
)
def test_an_unusable_request_id_is_replaced_by_a_generated_one(lab_a, incoming):
    _, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER)

    response = client_for_key(plaintext).post(
        SCAFFOLDS, {"name": "x", "version": "1"}, format="json", HTTP_X_REQUEST_ID=incoming
    )

    generated = response["X-Request-ID"]
    assert generated != incoming and len(generated) == 32
    assert AuditEvent.objects.get(event_code="agent_scaffold.created").request_id == generated


def test_a_problem_response_carries_the_request_id(lab_a):
    _, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER)

    response = client_for_key(plaintext).post(SCAFFOLDS, {}, format="json", HTTP_X_REQUEST_ID="req-400")

    assert response.status_code == 400
    assert response["X-Request-ID"] == "req-400"
    assert response.json()["request_id"] == "req-400"


def test_a_revocation_records_who_revoked_which_key(lab_a):
    admin_key, admin_plaintext = issue_key(lab_a, Role.LAB_ADMIN, name="admin")
    victim, _ = issue_key(lab_a, Role.LAB_SUBMITTER, name="victim")

    response = client_for_key(admin_plaintext).post(
        f"/api/v1/api-keys/{victim.pk}/revoke", {"reason": "leaked"}, format="json", HTTP_X_REQUEST_ID="rev-1"
    )

    assert response.status_code == 200
    event = AuditEvent.objects.get(event_code="api_key.revoked")
    assert (event.target_type, event.target_id) == ("accounts.apikey", str(victim.pk))
    assert event.actor_api_key_id == admin_key.pk
    assert event.request_id == "rev-1"
    assert ApiKey.objects.get(pk=victim.pk).revoked_at is not None
