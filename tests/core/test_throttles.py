"""Rate limits: per API key, per user, per organisation and per anonymous address, answered with 429
problem+json and Retry-After; counted in Redis when Redis is the cache."""

from __future__ import annotations

import os
import uuid
from typing import Any

import pytest
from django.core.cache import cache
from django.test import override_settings

from core.api.throttles import AnonymousRateThrottle, OrganizationRateThrottle, PrincipalRateThrottle
from tests.factories import MembershipFactory, sign_in

pytestmark = pytest.mark.django_db

URL = "/api/v1/models/"


@pytest.fixture(autouse=True)
def limits(monkeypatch: pytest.MonkeyPatch) -> Any:
    """Real limits (the test settings lift them). DRF binds THROTTLE_RATES at import, hence the patch."""
    rates = {"principal": "3/min", "anonymous": "2/min"}
    monkeypatch.setattr(PrincipalRateThrottle, "THROTTLE_RATES", rates)
    monkeypatch.setattr(AnonymousRateThrottle, "THROTTLE_RATES", rates)
    cache.clear()
    yield
    cache.clear()


def test_an_api_key_gets_its_own_budget_and_then_429_problem_json(lab_a, lab_b, make_key_client):
    first, second = make_key_client(lab_a), make_key_client(lab_b)

    assert [first.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    refused = first.get(URL)

    assert refused.status_code == 429
    assert refused["Content-Type"].startswith("application/problem+json")
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert second.get(URL).status_code == 200  # another key is counted apart


def test_anonymous_callers_are_counted_per_address_not_per_claimed_forwarded_for(anon):
    assert [anon.get(URL).status_code for _ in range(2)] == [200, 200]
    # A client cannot pick a fresh bucket by sending its own X-Forwarded-For (no trusted proxies).
    assert anon.get(URL, HTTP_X_FORWARDED_FOR="203.0.113.9").status_code == 429
    assert anon.get(URL, REMOTE_ADDR="198.51.100.7").status_code == 200  # another address


def test_a_session_user_is_counted_as_the_user(client, lab_a):
    sign_in(client, MembershipFactory(organization=lab_a).user)
    assert [client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    assert client.get(URL).status_code == 429


@pytest.fixture
def org_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    """The organisation's budget: more than one key's, less than two keys'."""
    monkeypatch.setattr(OrganizationRateThrottle, "THROTTLE_RATES", {"organization": "4/min"})


def test_an_organisation_shares_one_budget_across_its_keys(org_limit, lab_a, lab_b, make_key_client):
    first, second, other_org = make_key_client(lab_a), make_key_client(lab_a), make_key_client(lab_b)

    assert [first.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    assert second.get(URL).status_code == 200  # its own key budget is fresh, the org's has one left
    refused = second.get(URL)

    assert refused.status_code == 429  # a new key does not buy the org more requests
    assert refused.json()["code"] == "rate_limited"
    assert 0 < int(refused["Retry-After"]) <= 60
    assert other_org.get(URL).status_code == 200


def test_session_users_count_in_their_organisations_budget(org_limit, client, lab_a, make_key_client):
    sign_in(client, MembershipFactory(organization=lab_a).user)
    key = make_key_client(lab_a)
    assert [client.get(URL).status_code for _ in range(2)] == [200, 200]
    assert [key.get(URL).status_code for _ in range(2)] == [200, 200]
    assert client.get(URL).status_code == 429


def _redis_url() -> str:
    return os.environ.get("REDLINE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture
def redis_cache() -> Any:
    """The production cache backend (Django's RedisCache) on a local Redis, under a prefix of our own."""
    redis = pytest.importorskip("redis")
    client = redis.Redis.from_url(_redis_url(), socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"no Redis at {_redis_url()}")
    prefix = f"redline-test-{uuid.uuid4().hex[:10]}"
    caches = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": _redis_url(),
            "KEY_PREFIX": prefix,
        }
    }
    with override_settings(CACHES=caches):
        yield client, prefix
    for key in client.scan_iter(f"{prefix}:*"):
        client.delete(key)


def test_the_counts_live_in_redis_when_it_is_the_cache(redis_cache, lab_a, make_key_client):
    client, prefix = redis_cache
    key_client = make_key_client(lab_a)

    assert [key_client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    refused = key_client.get(URL)

    assert refused.status_code == 429 and int(refused["Retry-After"]) > 0
    stored = sorted(k.decode() for k in client.scan_iter(f"{prefix}:*"))
    assert any("throttle_principal_key:" in k for k in stored), stored
    assert any(f"throttle_organization_org:{lab_a.pk}" in k for k in stored), stored


def test_an_organisation_budget_is_shared_across_keys_in_redis_too(
    redis_cache, org_limit, lab_a, make_key_client
):
    first, second = make_key_client(lab_a), make_key_client(lab_a)

    assert [first.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    assert second.get(URL).status_code == 200  # its own key budget is fresh, the org's has one left
    refused = second.get(URL)

    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= 60


def test_a_request_checks_all_its_redis_buckets_in_one_round_trip(
    redis_cache, lab_a, make_key_client, monkeypatch
):
    import redis

    key_client = make_key_client(lab_a)
    assert key_client.get(URL).status_code == 200  # the script is loaded into Redis once
    commands: list[str] = []
    original = redis.Redis.execute_command

    def counting(self: Any, *args: Any, **options: Any) -> Any:
        commands.append(str(args[0]))
        return original(self, *args, **options)

    monkeypatch.setattr(redis.Redis, "execute_command", counting)
    assert key_client.get(URL).status_code == 200

    assert commands == ["EVALSHA"]  # the key's and the organisation's bucket together


def test_a_bucket_left_by_the_list_counter_is_started_afresh(redis_cache, lab_a, make_key_client):
    client, prefix = redis_cache
    key_client = make_key_client(lab_a)
    client.set(f"{prefix}:1:throttle_organization_org:{lab_a.pk}", b"not a sorted set")

    assert [key_client.get(URL).status_code for _ in range(3)] == [200, 200, 200]
    assert key_client.get(URL).status_code == 429
