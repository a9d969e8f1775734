"""Who the API thinks you are: the browser session (with CSRF) and the principal an API key carries."""

from __future__ import annotations

import pytest
from django.http import HttpResponse
from django.test import Client
from rest_framework.test import APIClient

from accounts.authentication import principal_for_key, principal_for_membership
from accounts.models import ROLE_SCOPES, ApiKey, Role, Scope
from registry.models import AgentScaffold
from tests.factories import MembershipFactory, UserFactory, issue_key, sign_in
from tests.problems import assert_problem

PASSWORD = "correct horse battery staple"  # tests.factories.UserFactory's
KEYS = "/api/v1/api-keys/"
NEW_KEY = {"name": "ci-pipeline", "role": "lab_submitter", "scopes": ["registry:write"]}


def _login(client: Client, username: str, password: str = PASSWORD) -> HttpResponse:
    """Sign in through the login form, as a browser does (CSRF token from the form's cookie)."""
    client.get("/accounts/login/")
    response = client.post(
        "/accounts/login/",
        {
            "login": username,
            "password": password,
            "csrfmiddlewaretoken": client.cookies["csrftoken"].value,
        },
    )
    assert response.status_code in (200, 302)
    return response


@pytest.fixture
def lab_admin_user(lab_a):
    return MembershipFactory(organization=lab_a, role=Role.LAB_ADMIN).user


def test_a_member_logs_in_and_the_session_works_on_the_api(lab_admin_user):
    client = Client(enforce_csrf_checks=True)

    _login(client, lab_admin_user.username)

    assert "sessionid" in client.cookies
    response = client.get(KEYS)
    assert response.status_code == 200, response.content
    assert response.json()["results"] == []
    assert response["Cache-Control"] == "no-store"


def test_a_wrong_password_does_not_log_in(lab_admin_user):
    client = Client(enforce_csrf_checks=True)

    _login(client, lab_admin_user.username, password="not the password")

    assert "sessionid" not in client.cookies
    assert_problem(client.get(KEYS), 401, "not_authenticated")


def test_a_session_post_without_the_csrf_token_is_rejected(lab_admin_user):
    client = Client(enforce_csrf_checks=True)
    _login(client, lab_admin_user.username)

    response = client.post(KEYS, NEW_KEY, content_type="application/json")

    assert "CSRF" in assert_problem(response, 403, "forbidden")["detail"]
    assert not ApiKey.objects.filter(name="ci-pipeline").exists()


def test_a_session_post_with_the_csrf_token_is_accepted(lab_admin_user):
    client = Client(enforce_csrf_checks=True)
    _login(client, lab_admin_user.username)

    response = client.post(
        KEYS, NEW_KEY, content_type="application/json", HTTP_X_CSRFTOKEN=client.cookies["csrftoken"].value
    )

    assert response.status_code == 201, response.content
    assert ApiKey.objects.get(name="ci-pipeline").created_by_id == lab_admin_user.pk


def test_a_session_registry_write_without_csrf_writes_nothing(lab_a):
    user = MembershipFactory(organization=lab_a, role=Role.LAB_SUBMITTER).user
    client = APIClient(enforce_csrf_checks=True)
    sign_in(client, user)

    response = client.post("/api/v1/scaffolds/", {"name": "x", "version": "1"}, format="json")

    assert_problem(response, 403, "forbidden")
    assert not AgentScaffold.objects.exists()


def test_an_api_key_request_needs_no_csrf_token(lab_a):
    _, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER)
    client = APIClient(enforce_csrf_checks=True)
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")

    response = client.post("/api/v1/scaffolds/", {"name": "x", "version": "1"}, format="json")

    assert response.status_code == 201, response.content


def test_a_logged_in_user_without_membership_is_refused_by_the_api(db):
    user = UserFactory()
    client = APIClient()
    sign_in(client, user)

    assert "no organisation" in assert_problem(client.get(KEYS), 401, "authentication_failed")["detail"]
    assert_problem(
        client.post("/api/v1/scaffolds/", {"name": "x", "version": "1"}, format="json"),
        401,
        "authentication_failed",
    )
    assert not AgentScaffold.objects.exists()


def test_a_session_user_acts_with_the_scopes_of_their_role_only(lab_a, regulator_org):
    submitter = principal_for_membership(MembershipFactory(organization=lab_a, role=Role.LAB_SUBMITTER))
    regulator = principal_for_membership(MembershipFactory(organization=regulator_org, role=Role.REGULATOR))

    assert submitter.has_scope(Scope.REGISTRY_WRITE)
    assert not submitter.has_scope(Scope.API_KEYS_MANAGE)
    assert regulator.has_scope(Scope.INCIDENTS_WRITE)  # comments, assessments, lowering TLP
    assert not regulator.has_scope(Scope.API_KEYS_MANAGE)


def test_a_submitter_session_user_lacks_the_scope_to_create_keys(lab_a):
    user = MembershipFactory(organization=lab_a, role=Role.LAB_SUBMITTER).user
    client = APIClient()
    sign_in(client, user)

    assert_problem(client.post(KEYS, NEW_KEY, format="json"), 403, "insufficient_scope")


def test_the_principal_of_a_key_carries_its_org_role_and_scopes(regulator_org):
    key, _ = issue_key(regulator_org, Role.REVIEWER, scopes=[Scope.INCIDENTS_WRITE], name="triage-bot")

    principal = principal_for_key(ApiKey.objects.select_related("organization").get(pk=key.pk))

    assert principal.kind == "service_account"
    assert principal.label == "eu-office/triage-bot"
    assert (principal.org_id, principal.org_short_name, principal.org_kind) == (
        regulator_org.pk,
        "eu-office",
        "regulator",
    )
    assert principal.org_jurisdictions == ("EU",)
    assert principal.role == Role.REVIEWER
    assert principal.scopes == frozenset({Scope.INCIDENTS_WRITE})
    assert principal.api_key_id == key.pk and principal.user_id is None
    assert principal.is_authenticated
    assert principal.has_scope(Scope.INCIDENTS_WRITE) and not principal.has_scope(Scope.REGISTRY_WRITE)
    assert principal.idempotency_scope == f"key:{key.pk}"


def test_a_key_never_acts_beyond_its_roles_scopes_even_if_the_row_says_so(lab_a):
    key, _ = issue_key(lab_a, Role.LAB_SUBMITTER, scopes=[Scope.REGISTRY_WRITE])
    ApiKey.objects.filter(pk=key.pk).update(scopes=[Scope.REGISTRY_WRITE, Scope.API_KEYS_MANAGE])

    principal = principal_for_key(ApiKey.objects.get(pk=key.pk))

    assert principal.scopes == frozenset({Scope.REGISTRY_WRITE})
    assert principal.scopes <= ROLE_SCOPES[Role.LAB_SUBMITTER]


def test_the_principal_of_a_session_carries_the_members_org_and_role(lab_a):
    membership = MembershipFactory(organization=lab_a, role=Role.LAB_ADMIN)

    principal = principal_for_membership(membership)

    assert (principal.kind, principal.user_id, principal.api_key_id) == ("user", membership.user.pk, None)
    assert (principal.org_id, principal.role) == (lab_a.pk, Role.LAB_ADMIN)
    assert principal.scopes == ROLE_SCOPES[Role.LAB_ADMIN]
    assert principal.idempotency_scope == f"user:{membership.user.pk}"
