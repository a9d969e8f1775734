"""Idempotency-Key on creating POSTs (DESIGN 6): a retry replays, a reuse is refused, a race is a 409."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import ApiKey, Organization, Role
from core.idempotency import _lock_id
from core.models import AuditEvent, IdempotencyRecord
from core.tasks import purge_idempotency_records
from registry.models import AgentScaffold
from tests.conftest import client_for_key
from tests.factories import issue_key
from tests.problems import assert_problem

SCAFFOLDS = "/api/v1/scaffolds/"
BODY = {"name": "x", "version": "1"}


def _post(client: APIClient, body: Any = None, key: str | None = "retry-1", path: str = SCAFFOLDS) -> Any:
    headers = {} if key is None else {"HTTP_IDEMPOTENCY_KEY": key}
    return client.post(path, BODY if body is None else body, format="json", **headers)


@pytest.fixture
def lab_key(lab_a: Organization) -> tuple[ApiKey, APIClient]:
    key, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER)
    return key, client_for_key(plaintext)


def test_a_retry_with_the_same_key_and_body_replays_the_first_response(lab_key):
    _, client = lab_key

    first = _post(client)
    replay = _post(client)

    assert first.status_code == 201, first.content
    assert replay.status_code == 201
    assert replay.json() == first.json()
    assert replay["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first
    assert replay["Location"] == first["Location"]
    assert replay["ETag"] == first["ETag"]
    assert AgentScaffold.objects.count() == 1
    assert AuditEvent.objects.filter(event_code="agent_scaffold.created").count() == 1
    assert IdempotencyRecord.objects.count() == 1


def test_a_retry_with_the_same_body_in_another_key_order_is_the_same_request(lab_key):
    _, client = lab_key

    first = _post(client, {"name": "x", "version": "1", "tools": ["a", "b"]})
    replay = _post(client, {"tools": ["a", "b"], "version": "1", "name": "x"})

    assert replay.status_code == 201 and replay["Idempotent-Replayed"] == "true"
    assert replay.json()["id"] == first.json()["id"]
    assert AgentScaffold.objects.count() == 1


def test_the_same_key_with_a_different_body_is_refused_with_422(lab_key):
    _, client = lab_key
    _post(client)

    response = _post(client, {"name": "y", "version": "1"})

    assert_problem(response, 422, "idempotency_key_reused")
    assert list(AgentScaffold.objects.values_list("name", flat=True)) == ["x"]


def test_the_same_key_on_another_endpoint_is_refused_with_422(lab_key):
    _, client = lab_key
    _post(client)
    model = {"name": "x", "version": "1", "weights_availability": "open", "market_status": "on_market"}

    assert_problem(_post(client, model, path="/api/v1/models/"), 422, "idempotency_key_reused")


def test_without_a_key_every_post_is_a_new_request(lab_key):
    _, client = lab_key

    assert _post(client, key=None).status_code == 201
    assert_problem(_post(client, key=None), 409, "duplicate_scaffold")
    assert not IdempotencyRecord.objects.exists()


def test_keys_are_scoped_per_principal(lab_key, lab_b):
    key_a, client_a = lab_key
    key_b, plaintext_b = issue_key(lab_b, Role.LAB_SUBMITTER)

    first_a = _post(client_a)
    first_b = _post(client_for_key(plaintext_b))

    assert first_a.status_code == first_b.status_code == 201
    assert "Idempotent-Replayed" not in first_b
    assert first_a.json()["id"] != first_b.json()["id"]
    assert sorted(AgentScaffold.objects.values_list("owner_org__short_name", flat=True)) == ["lab-a", "lab-b"]
    assert set(IdempotencyRecord.objects.values_list("scope", "key")) == {
        (f"key:{key_a.pk}", "retry-1"),
        (f"key:{key_b.pk}", "retry-1"),
    }


@pytest.mark.parametrize(
    "bad_key",
    ["", "x" * 256, "clé-non-ascii", "ключ", "has space", "tab\there", "nul\x00", "newline\n"],
    ids=["empty", "256-chars", "latin1", "cyrillic", "space", "tab", "nul", "trailing-newline"],
)
def test_an_invalid_key_is_a_400_and_nothing_is_written(lab_key, bad_key):
    _, client = lab_key

    assert_problem(_post(client, key=bad_key), 400, "invalid_idempotency_key")
    assert not AgentScaffold.objects.exists()
    assert not IdempotencyRecord.objects.exists()


def test_a_key_of_255_printable_characters_is_accepted(lab_key):
    _, client = lab_key
    key = "".join(chr(33 + i % 94) for i in range(255))

    assert _post(client, key=key).status_code == 201
    assert _post(client, key=key)["Idempotent-Replayed"] == "true"


def test_a_failed_first_request_stores_nothing_so_a_corrected_retry_succeeds(lab_key):
    _, client = lab_key

    failed = _post(client, {**BODY, "tlp": "purple"})
    retried = _post(client)

    assert_problem(failed, 400, "validation_error")
    assert retried.status_code == 201, retried.content
    assert "Idempotent-Replayed" not in retried
    assert AgentScaffold.objects.count() == 1
    assert IdempotencyRecord.objects.get().response_status == 201


def test_a_first_request_refused_by_a_rule_stores_nothing(lab_key):
    _, client = lab_key
    _post(client, key="original")

    duplicate = _post(client, key="second")
    assert_problem(duplicate, 409, "duplicate_scaffold")
    assert not IdempotencyRecord.objects.filter(key="second").exists()
    assert _post(client, {"name": "x", "version": "2"}, key="second").status_code == 201


@pytest.fixture
def held_key_lock() -> Iterator[Any]:
    """hold(scope, key): another connection holds the request's advisory lock, as a request in flight does,
    until the test ends."""
    release = threading.Event()
    threads: list[threading.Thread] = []

    def hold(scope: str, key: str) -> None:
        taken = threading.Event()
        outcome: dict[str, Any] = {}

        def run() -> None:
            try:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_lock_id(scope, key)])
                    outcome["locked"] = cursor.fetchone()[0]
                    taken.set()
                    release.wait(timeout=30)
            finally:
                taken.set()
                connection.close()

        thread = threading.Thread(target=run, daemon=True)
        thread.start()
        threads.append(thread)
        assert taken.wait(timeout=10)
        assert outcome.get("locked") is True

    yield hold
    release.set()
    for thread in threads:
        thread.join(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_a_second_request_while_the_first_is_in_flight_gets_409_with_retry_after(lab_key, held_key_lock):
    key, client = lab_key
    held_key_lock(f"key:{key.pk}", "retry-1")

    response = _post(client)

    assert_problem(response, 409, "idempotency_in_flight")
    assert response["Retry-After"] == "1"
    assert not AgentScaffold.objects.exists()
    assert not IdempotencyRecord.objects.exists()
    # Another key of the same principal is not blocked by the one in flight.
    assert _post(client, key="retry-2").status_code == 201


@pytest.mark.django_db(transaction=True)
def test_once_the_first_request_finishes_the_retry_goes_through(lab_key):
    key, client = lab_key
    release = threading.Event()
    taken = threading.Event()

    def first_request() -> None:
        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_lock_id(f"key:{key.pk}", "retry-1")])
                taken.set()
                release.wait(timeout=30)
                # ... and the first request fails: its transaction rolls back and releases the lock.
                raise RuntimeError("first request died")
        except RuntimeError:
            pass
        finally:
            connection.close()

    thread = threading.Thread(target=first_request, daemon=True)
    thread.start()
    assert taken.wait(timeout=10)
    assert_problem(_post(client), 409, "idempotency_in_flight")

    release.set()
    thread.join(timeout=10)

    assert _post(client).status_code == 201
    assert AgentScaffold.objects.count() == 1


def test_a_key_older_than_the_ttl_is_a_new_request(lab_key, settings):
    _, client = lab_key
    settings.REDLINE_IDEMPOTENCY_TTL_HOURS = 24
    _post(client)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=25))

    response = _post(client, {"name": "y", "version": "1"})

    assert response.status_code == 201, response.content
    assert "Idempotent-Replayed" not in response
    assert AgentScaffold.objects.count() == 2
    record = IdempotencyRecord.objects.get()  # the new request's record replaced the expired one
    assert record.response_body["name"] == "y"


def test_a_key_within_the_ttl_still_replays(lab_key, settings):
    _, client = lab_key
    settings.REDLINE_IDEMPOTENCY_TTL_HOURS = 24
    _post(client)
    IdempotencyRecord.objects.update(created_at=timezone.now() - timedelta(hours=23))

    assert _post(client)["Idempotent-Replayed"] == "true"
    assert AgentScaffold.objects.count() == 1


def test_the_periodic_purge_forgets_only_expired_keys(lab_key, settings):
    _, client = lab_key
    settings.REDLINE_IDEMPOTENCY_TTL_HOURS = 24
    _post(client, key="old")
    _post(client, {"name": "y", "version": "1"}, key="fresh")
    IdempotencyRecord.objects.filter(key="old").update(created_at=timezone.now() - timedelta(days=2))

    assert purge_idempotency_records.delay().get() == 1

    assert list(IdempotencyRecord.objects.values_list("key", flat=True)) == ["fresh"]
