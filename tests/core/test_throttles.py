"""Rate limits: per API key, per user and per anonymous address, answered with 429 problem+json."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache

from core.api.throttles import AnonymousRateThrottle, PrincipalRateThrottle
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
