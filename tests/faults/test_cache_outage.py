"""A cache outage (Redis restarting) must not turn requests into 500s: the rate limits are skipped until
the cache is back. Found by faults/broker_restart.py, where every request during a Redis restart was a
500 from the throttle's cache read."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from django.core.cache import caches
from django.test import override_settings
from rest_framework.test import APIClient

from tests.factories import OrganizationFactory, issue_key


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # nothing listens once the socket is closed


@pytest.fixture
def unreachable_redis_cache() -> Any:
    location = f"redis://127.0.0.1:{_closed_port()}/0"
    cache_settings = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": location}
    }
    with override_settings(CACHES=cache_settings):  # Django's setting_changed handler resets `caches`
        assert caches["default"].__class__.__name__ == "RedisCache"
        yield


@pytest.mark.django_db
def test_an_unreachable_rate_limit_cache_lets_requests_through(unreachable_redis_cache: Any) -> None:
    lab = OrganizationFactory(short_name="cache-outage-lab", kind="lab")
    _, key = issue_key(lab)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")

    authenticated = client.get("/api/v1/incidents/")
    anonymous = APIClient().get("/api/v1/models/")

    assert authenticated.status_code == 200, authenticated.content
    assert anonymous.status_code == 200, anonymous.content
