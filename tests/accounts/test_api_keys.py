"""API keys over HTTP: shown once, stored hashed, bounded by the role, revoked with immediate effect."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.forms.models import model_to_dict
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Organization, Role, Scope
from core.models import AuditEvent, IdempotencyRecord
from tests.conftest import client_for_key
from tests.factories import MembershipFactory, issue_key, sign_in
from tests.problems import assert_problem, field_error_codes

KEYS = "/api/v1/api-keys/"
NEW_KEY = {"name": "ci-pipeline", "role": "lab_submitter", "scopes": ["registry:write"]}


def _create(client: APIClient, body: dict[str, Any] | None = None, **headers: str) -> Any:
    return client.post(KEYS, body if body is not None else NEW_KEY, format="json", **headers)


def _row_text(key: ApiKey) -> str:
    return json.dumps(model_to_dict(key), default=str)


def _tables_containing(text: str) -> list[str]:
    """Every table of the database with a row whose text form contains `text`."""
    found = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            sql = f"SELECT 1 FROM {quoted} AS t WHERE t::text LIKE %s LIMIT 1"  # noqa: S608
            cursor.execute(sql, [f"%{text}%"])
            if cursor.fetchone():
                found.append(table)
    return found


@pytest.fixture
def admin_client(lab_a: Organization, make_key_client: Callable[..., APIClient]) -> APIClient:
    return make_key_client(lab_a, role=Role.LAB_ADMIN)


@pytest.fixture
def submitter_client(lab_a: Organization, make_key_client: Callable[..., APIClient]) -> APIClient:
    return make_key_client(lab_a, role=Role.LAB_SUBMITTER)


# --- issuing ------------------------------------------------------------------------------------------


def test_lab_admin_key_creates_a_key_and_sees_the_secret_exactly_once(admin_client, lab_a):
    response = _create(admin_client)

    assert response.status_code == 201, response.content
    body = response.json()
    prefix, dot, secret = body["key"].partition(".")
    assert dot and prefix == body["prefix"] and len(secret) >= 32
    assert response.content.decode().count(secret) == 1
    assert body["organization"] == "lab-a"
    assert (body["role"], body["scopes"], body["is_active"]) == ("lab_submitter", ["registry:write"], True)
    assert response["Location"] == f"/api/v1/api-keys/{body['id']}"

    listing = admin_client.get(KEYS)
    detail = admin_client.get(f"{KEYS}{body['id']}")
    assert listing.status_code == 200 and detail.status_code == 200
    assert body["id"] in {row["id"] for row in listing.json()["results"]}
    for read in (listing, detail):
        assert secret not in read.content.decode()
        assert "key" not in read.json().get("results", [read.json()])[0]


@pytest.mark.parametrize("idempotency", [{}, {"HTTP_IDEMPOTENCY_KEY": "key-1"}], ids=["plain", "idempotent"])
def test_the_database_stores_only_the_sha256_of_the_secret(admin_client, idempotency):
    body = _create(admin_client, **idempotency).json()
    secret = body["key"].split(".", 1)[1]

    key = ApiKey.objects.get(pk=body["id"])
    assert key.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in _row_text(key)
    assert _tables_containing(secret) == []
    assert _tables_containing(key.secret_hash) == ["accounts_apikey"]  # the scan does find what is there


def test_a_retried_key_creation_does_not_store_the_secret_in_the_idempotency_record(admin_client):
    first = _create(admin_client, HTTP_IDEMPOTENCY_KEY="new-ci-key")
    replay = _create(admin_client, HTTP_IDEMPOTENCY_KEY="new-ci-key")

    secret = first.json()["key"].split(".", 1)[1]
    assert first.status_code == replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert ApiKey.objects.filter(name="ci-pipeline").count() == 1
    assert secret not in replay.content.decode()
    for record in IdempotencyRecord.objects.all():
        assert secret not in json.dumps(record.response_body)


def test_lab_admin_session_user_creates_a_key_recorded_as_created_by_them(lab_a):
    membership = MembershipFactory(organization=lab_a, role=Role.LAB_ADMIN)
    client = APIClient()
    sign_in(client, membership.user)

    response = _create(client)

    assert response.status_code == 201, response.content
    assert response.json()["created_by"] == membership.user.username
    assert ApiKey.objects.get(pk=response.json()["id"]).created_by_id == membership.user.pk


def test_creating_a_key_writes_an_api_key_created_audit_event(admin_client, lab_a):
    body = _create(admin_client).json()

    event = AuditEvent.objects.get(event_code="api_key.created", target_id=body["id"])
    assert event.target_type == "accounts.apikey"
    assert event.actor_kind == "service_account"
    assert event.actor_org_id == lab_a.pk
    assert event.after["prefix"] == body["prefix"]


# --- using a key --------------------------------------------------------------------------------------


def test_a_new_key_authenticates_and_records_when_it_was_last_used(admin_client):
    body = _create(admin_client, {**NEW_KEY, "role": "lab_admin", "scopes": ["api_keys:manage"]}).json()
    assert ApiKey.objects.get(pk=body["id"]).last_used_at is None

    response = client_for_key(body["key"]).get(KEYS)

    assert response.status_code == 200
    assert ApiKey.objects.get(pk=body["id"]).last_used_at is not None


def test_a_new_submitter_key_can_register_a_model(admin_client):
    body = _create(admin_client).json()
    model = {"name": "Probe-8B", "version": "1", "weights_availability": "open", "market_status": "on_market"}

    response = client_for_key(body["key"]).post("/api/v1/models/", model, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["provider"] == "lab-a"


def test_revoked_key_gets_401_on_its_very_next_request(admin_client):
    body = _create(admin_client).json()
    victim = client_for_key(body["key"])
    assert victim.get("/api/v1/models/").status_code == 200

    revoked = admin_client.post(f"{KEYS}{body['id']}/revoke", {"reason": "leaked in a CI log"}, format="json")

    assert revoked.status_code == 200, revoked.content
    assert revoked.json()["is_active"] is False and revoked.json()["revoked_at"] is not None
    response = victim.get("/api/v1/models/")
    problem = assert_problem(response, 401, "authentication_failed")
    assert "revoked" in problem["detail"]
    assert response["WWW-Authenticate"].startswith("Api-Key")


def test_revoking_writes_an_api_key_revoked_audit_event_once(admin_client):
    body = _create(admin_client).json()

    admin_client.post(f"{KEYS}{body['id']}/revoke", {"reason": "rotation"}, format="json")
    again = admin_client.post(f"{KEYS}{body['id']}/revoke", {}, format="json")

    assert again.status_code == 200
    [event] = AuditEvent.objects.filter(event_code="api_key.revoked", target_id=body["id"])
    assert event.after == {"prefix": body["prefix"], "reason": "rotation"}
    assert ApiKey.objects.get(pk=body["id"]).revocation_reason == "rotation"


def test_expired_key_gets_401_on_its_next_request(lab_a):
    key, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER)
    client = client_for_key(plaintext)
    assert client.get("/api/v1/models/").status_code == 200

    ApiKey.objects.filter(pk=key.pk).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = client.get("/api/v1/models/")
    assert "expired" in assert_problem(response, 401, "authentication_failed")["detail"]
    assert "WWW-Authenticate" in response


@pytest.mark.parametrize(
    "credential",
    [
        "garbage",
        "nodot",
        ".secretonly",
        "prefixonly.",
        "rlffffff.not-the-secret",
        "x" * 17 + ".secret",
        "rl000000." + "s" * 129,
        "\x00.secret",
        "rl\x00.secret",
        "rl000000.\x00",
        "ключ.секрет",
        "rl000000.two words",
        "rl000000.a.b",
    ],
)
def test_a_malformed_or_unknown_key_gets_401_with_www_authenticate(lab_a, credential):
    issue_key(lab_a)  # a real key exists, so an unknown one is not merely an empty table
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {credential}")

    response = client.get("/api/v1/models/")

    assert_problem(response, 401, "authentication_failed")
    assert response["WWW-Authenticate"] == 'Api-Key realm="api"'


def test_the_auth_scheme_is_case_insensitive(lab_a):
    _, plaintext = issue_key(lab_a)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"api-key {plaintext}")

    assert client.get(KEYS).status_code == 200


def test_a_known_prefix_with_the_wrong_secret_gets_401(lab_a):
    key, plaintext = issue_key(lab_a)
    client = client_for_key(f"{key.prefix}.{'A' * 43}")

    assert_problem(client.get(KEYS), 401, "authentication_failed")
    assert client_for_key(plaintext).get(KEYS).status_code == 200


def test_anonymous_cannot_list_api_keys(anon):
    response = anon.get(KEYS)

    assert_problem(response, 401, "not_authenticated")
    assert "WWW-Authenticate" in response


# --- who may manage keys ------------------------------------------------------------------------------


def test_submitter_key_cannot_list_keys(submitter_client):
    assert_problem(submitter_client.get(KEYS), 403, "not_key_admin")


def test_submitter_key_cannot_create_a_key(submitter_client):
    before = ApiKey.objects.count()

    assert_problem(_create(submitter_client), 403, "insufficient_scope")
    assert ApiKey.objects.count() == before


def test_submitter_key_cannot_revoke_a_key(submitter_client, lab_a):
    key, _ = issue_key(lab_a, Role.LAB_SUBMITTER, name="victim")

    assert_problem(submitter_client.post(f"{KEYS}{key.pk}/revoke", {}, format="json"), 403)
    key.refresh_from_db()
    assert key.revoked_at is None


def test_submitter_session_user_cannot_list_or_create_keys(lab_a):
    membership = MembershipFactory(organization=lab_a, role=Role.LAB_SUBMITTER)
    client = APIClient()
    sign_in(client, membership.user)

    assert_problem(client.get(KEYS), 403)
    assert_problem(_create(client), 403)
    assert not ApiKey.objects.filter(name="ci-pipeline").exists()


def test_lab_admin_key_without_the_manage_scope_cannot_list_keys(lab_a, make_key_client):
    client = make_key_client(lab_a, role=Role.LAB_ADMIN, scopes=[Scope.REGISTRY_WRITE])

    assert_problem(client.get(KEYS), 403, "not_key_admin")


def test_lab_admin_cannot_see_or_revoke_another_labs_key(admin_client, lab_b):
    other, _ = issue_key(lab_b, Role.LAB_SUBMITTER, name="lab-b-ci")

    listing = admin_client.get(KEYS).json()["results"]
    assert str(other.pk) not in {row["id"] for row in listing}
    assert_problem(admin_client.get(f"{KEYS}{other.pk}"), 404, "not_found")
    assert_problem(admin_client.post(f"{KEYS}{other.pk}/revoke", {}, format="json"), 404, "not_found")
    other.refresh_from_db()
    assert other.revoked_at is None
    assert not AuditEvent.objects.filter(event_code="api_key.revoked").exists()


def test_a_key_id_that_is_not_a_uuid_is_404(admin_client):
    assert_problem(admin_client.get(f"{KEYS}not-a-uuid"), 404, "not_found")


# --- what a key may be --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "scopes"),
    [("lab_submitter", ["api_keys:manage"]), ("lab_submitter", ["registry:write", "api_keys:manage"])],
)
def test_key_scopes_must_be_a_subset_of_the_roles_scopes(admin_client, role, scopes):
    before = ApiKey.objects.count()

    response = _create(admin_client, {**NEW_KEY, "role": role, "scopes": scopes})

    assert_problem(response, 400, "invalid_scope")
    assert ApiKey.objects.count() == before


@pytest.mark.parametrize("role", ["reviewer", "regulator"])
def test_a_lab_admin_cannot_issue_an_oversight_role(admin_client, role):
    before = ApiKey.objects.count()

    response = _create(admin_client, {**NEW_KEY, "role": role})

    assert response.status_code in (400, 403)
    assert_problem(response, response.status_code, "invalid_role")
    assert ApiKey.objects.count() == before


def test_expires_at_in_the_past_is_rejected(admin_client):
    before = ApiKey.objects.count()
    past = (timezone.now() - timedelta(minutes=1)).isoformat()

    assert_problem(_create(admin_client, {**NEW_KEY, "expires_at": past}), 400, "invalid_expiry")
    assert ApiKey.objects.count() == before


def test_a_key_with_a_future_expiry_works_until_then(admin_client):
    future = timezone.now() + timedelta(days=30)

    body = _create(admin_client, {**NEW_KEY, "expires_at": future.isoformat()}).json()

    assert abs(ApiKey.objects.get(pk=body["id"]).expires_at - future) < timedelta(seconds=1)
    assert client_for_key(body["key"]).get("/api/v1/models/").status_code == 200


@pytest.mark.parametrize(
    "extra",
    [
        {"organization": "lab-b"},
        {"prefix": "rlchosen"},
        {"secret_hash": "0" * 64},
        {"revoked_at": None},
        {"scope": ["registry:write"]},
    ],
)
def test_unknown_fields_are_rejected_and_nothing_is_created(admin_client, extra):
    before = (ApiKey.objects.count(), AuditEvent.objects.count())

    response = _create(admin_client, {**NEW_KEY, **extra})

    body = assert_problem(response, 400, "validation_error")
    assert field_error_codes(body) == {next(iter(extra)): "unknown_field"}
    assert (ApiKey.objects.count(), AuditEvent.objects.count()) == before


def test_missing_and_invalid_fields_are_field_errors(admin_client):
    response = _create(admin_client, {"role": "pope", "scopes": ["root"]})

    codes = field_error_codes(assert_problem(response, 400, "validation_error"))
    assert codes == {"name": "required", "role": "invalid_choice", "scopes[0]": "invalid_choice"}


def test_a_prefix_already_taken_is_drawn_again(admin_client, lab_a, monkeypatch):
    taken, _ = issue_key(lab_a, name="first")
    draws = iter([taken.prefix, taken.prefix, "rl0123456789"])
    monkeypatch.setattr("accounts.services.new_key_prefix", lambda: next(draws))

    response = _create(admin_client)

    assert response.status_code == 201, response.content
    assert response.json()["prefix"] == "rl0123456789"
    assert client_for_key(response.json()["key"]).get("/api/v1/models/").status_code == 200


def test_issued_prefixes_carry_40_random_bits(lab_a):
    prefixes = {issue_key(lab_a, name=f"k{n}")[0].prefix for n in range(20)}

    assert len(prefixes) == 20
    assert all(len(p) == 12 and p.startswith("rl") and int(p[2:], 16) >= 0 for p in prefixes)
