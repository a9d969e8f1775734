"""One error shape everywhere (RFC 9457 problem+json), problem types that resolve, and the security headers
on every response."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import pytest
from django.db import DatabaseError, connection, transaction
from django.test import RequestFactory
from rest_framework.test import APIClient

from accounts.models import Organization, Role
from core.api.errors import problem_exception_handler
from core.views import server_error
from tests.conftest import client_for_key
from tests.factories import MembershipFactory, OrganizationFactory, issue_key, sign_in
from tests.problems import assert_problem


@pytest.fixture
def lab_client(lab_a: Organization) -> APIClient:
    _, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER)
    return client_for_key(plaintext)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/nothing-here/",
        "/api/v1/nothing-here",
        "/api/v2/models/",
        "/api/v1/models/FM-1999-9999",
        "/api/v1/models/not a ref",
        "/api/v1/scaffolds/SCF-1999-0001",
        "/api/v1/evaluations/EVR-1999-0001/raw-log",
        "/api/v1/organizations/no-such-org",
    ],
)
def test_an_unknown_api_path_or_record_is_a_problem_404(lab_client, path):
    assert_problem(lab_client.get(path), 404, "not_found")


def test_an_unknown_api_path_is_a_problem_404_for_anonymous_callers_and_posts(db):
    client = APIClient()

    assert_problem(client.get("/api/v1/nothing-here/"), 404, "not_found")
    assert_problem(client.post("/api/v1/nothing-here/", {}, format="json"), 404, "not_found")


def test_a_404_outside_the_api_is_an_html_page(db):
    response = APIClient().get("/no-such-page/")

    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/api/v1/models/"), ("put", "/api/v1/scaffolds/"), ("patch", "/api/v1/evaluations/")],
)
def test_a_method_the_resource_does_not_have_is_a_problem_405(lab_client, method, path):
    response = getattr(lab_client, method)(path, {}, format="json")

    assert_problem(response, 405, "method_not_allowed")


def test_an_unacceptable_accept_header_is_a_problem_406(lab_client):
    response = lab_client.get("/api/v1/models/", HTTP_ACCEPT="application/xml")

    assert_problem(response, 406, "not_acceptable")


def test_a_server_error_on_an_api_path_is_problem_json(db):
    request = RequestFactory().get("/api/v1/models/")

    response = server_error(request)

    assert response.status_code == 500
    assert response["Content-Type"] == "application/problem+json"
    body = json.loads(response.content)
    assert (body["code"], body["status"], body["instance"]) == ("internal_error", 500, "/api/v1/models/")
    assert "Traceback" not in body["detail"]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/nothing-here/", 404, "not_found"),
        ("post", "/api/v1/scaffolds/", 400, "validation_error"),
        ("get", "/api/v1/models/?limit=0", 400, "invalid_limit"),
        ("get", "/api/v1/api-keys/", 403, "not_key_admin"),
    ],
)
def test_the_problem_type_resolves_to_a_human_page(lab_client, method, path, status, code):
    problem = assert_problem(getattr(lab_client, method)(path, format="json"), status, code)

    page = APIClient().get(problem["type"])

    assert page.status_code == 200
    assert page["Content-Type"].startswith("text/html")
    assert code in page.content.decode()


def _assert_security_headers(response) -> None:
    csp = response["Content-Security-Policy"]
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"


@pytest.mark.parametrize(
    "path", ["/", "/api/v1/models/", "/api/v1/nothing-here/", "/problems/not_found", "/accounts/login/"]
)
def test_security_headers_are_on_pages_api_responses_and_errors(db, path):
    _assert_security_headers(APIClient().get(path))


def test_security_headers_are_on_a_401(db):
    response = APIClient().get("/api/v1/api-keys/")

    assert response.status_code == 401
    _assert_security_headers(response)


@pytest.mark.parametrize(
    ("path", "status"),
    [("/api/v1/models/", 200), ("/api/v1/nothing-here/", 404), ("/api/v1/api-keys/", 403)],
)
def test_authenticated_api_responses_are_not_stored_by_caches(lab_client, path, status):
    response = lab_client.get(path)

    assert response.status_code == status
    assert response["Cache-Control"] == "no-store"
    _assert_security_headers(response)


def test_a_401_to_a_presented_key_is_not_stored_by_caches(db):
    response = client_for_key("rl000000.wrong").get("/api/v1/models/")

    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"


def test_session_api_responses_are_not_stored_by_caches(lab_a):
    client = APIClient()
    sign_in(client, MembershipFactory(organization=lab_a, role=Role.LAB_ADMIN).user)

    response = client.get("/api/v1/api-keys/")

    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"


@pytest.mark.django_db(transaction=True)
def test_a_duplicate_created_concurrently_is_a_409_not_a_500(lab_a):
    """Two identical creates race past the service's duplicate check: the database's unique constraint
    decides, and the loser gets a problem 409 (not a 500)."""
    from registry.models import AgentScaffold

    _, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER)
    inserted, done = threading.Event(), threading.Event()

    def rival() -> None:
        try:
            with transaction.atomic():
                AgentScaffold.objects.create(
                    owner_org=lab_a, name="x", version="1", public_id="SCF-1999-0001"
                )
                inserted.set()
                # Commit only once the request is blocked on our uncommitted row.
                with connection.cursor() as cursor:
                    for _ in range(200):
                        cursor.execute("SELECT count(*) FROM pg_locks WHERE NOT granted")
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.02)
        finally:
            inserted.set()
            done.set()
            connection.close()

    thread = threading.Thread(target=rival, daemon=True)
    thread.start()
    assert inserted.wait(timeout=10)

    response = client_for_key(plaintext).post(
        "/api/v1/scaffolds/", {"name": "x", "version": "1"}, format="json"
    )

    thread.join(timeout=10)
    assert_problem(response, 409)
    assert AgentScaffold.objects.count() == 1


def _database_refusal(write: Callable[[], object]) -> Exception:
    try:
        with transaction.atomic():
            write()
    except DatabaseError as exc:
        return exc
    raise AssertionError("the database accepted the write")


def test_a_unique_violation_that_reaches_the_handler_is_a_409(lab_a):
    exc = _database_refusal(lambda: OrganizationFactory(short_name="lab-a"))

    response = problem_exception_handler(exc, {})

    assert response is not None
    assert (response.status_code, response.data["code"]) == (409, "conflict")


def test_any_other_constraint_violation_is_a_422_not_a_500(db):
    exc = _database_refusal(lambda: OrganizationFactory(country="fr"))  # the org_country_iso2 check

    response = problem_exception_handler(exc, {})

    assert response is not None
    assert (response.status_code, response.data["code"]) == (422, "constraint_violation")
    assert "org_country_iso2" not in response.data["detail"]  # no schema internals leak out


def test_api_reads_vary_on_the_credentials_so_shared_caches_cannot_mix_readers(client, db):
    response = client.get("/api/v1/organizations/")
    vary = {v.strip().lower() for v in response["Vary"].split(",")}
    assert {"authorization", "cookie"} <= vary
