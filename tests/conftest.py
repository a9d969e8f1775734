"""Shared fixtures: API clients for each kind of principal, the demo data, organisations."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Organization, Role
from incidents.demo import load_demo_incidents
from registry.demo import DemoCredentials, load_demo_data
from tests.factories import OrganizationFactory, issue_key


@pytest.fixture(autouse=True)
def _celery_join_flag_reset() -> None:
    """Eager Celery tasks run under `denied_join_result`, which saves and restores a process-global flag;
    two threads running eager tasks at once (the concurrency tests) can leave it stuck at True, and a
    later test's `.delay().get()` then fails with "Never call result.get() within a task". Start clean."""
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test starts with an empty in-process cache. The test cache (locmem) holds allauth's rate-limit
    counters: without this, the page tests that sign in through /accounts/login/ count against allauth's
    `login` limit (30/m per address) for whatever test the same xdist worker runs next, and a browser
    journey signing in within that minute got 429 (CI, tests/browser/test_webauthn.py). Tests that point
    the cache at Redis clear their own database."""
    from django.core.cache import caches
    from django.core.cache.backends.locmem import LocMemCache

    for cache in caches.all():
        if isinstance(cache, LocMemCache):
            cache.clear()


@pytest.fixture
def demo_data(db: Any) -> DemoCredentials:
    """The demo data of DESIGN 8 and the demo incidents, loaded through the same services as `make run`."""
    credentials = load_demo_data(credentials_path=None)
    load_demo_incidents()
    return credentials


@pytest.fixture
def anon() -> APIClient:
    return APIClient()


def client_for_key(plaintext: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {plaintext}")
    return client


@pytest.fixture
def make_key_client(db: Any) -> Callable[..., APIClient]:
    """make_key_client(org, role=..., scopes=...) -> an APIClient authenticated by a fresh key."""

    def make(org: Organization, role: str = Role.LAB_ADMIN, **kwargs: Any) -> APIClient:
        _, plaintext = issue_key(org, role, **kwargs)
        return client_for_key(plaintext)

    return make


@pytest.fixture
def lab_a(db: Any) -> Organization:
    return OrganizationFactory(short_name="lab-a", kind="lab", country="US")


@pytest.fixture
def lab_b(db: Any) -> Organization:
    return OrganizationFactory(short_name="lab-b", kind="lab", country="CN")


@pytest.fixture
def regulator_org(db: Any) -> Organization:
    return OrganizationFactory(short_name="eu-office", kind="regulator", country="BE", jurisdictions=["EU"])


@pytest.fixture
def client_a(lab_a: Organization, make_key_client: Callable[..., APIClient]) -> APIClient:
    return make_key_client(lab_a)


@pytest.fixture
def client_b(lab_b: Organization, make_key_client: Callable[..., APIClient]) -> APIClient:
    return make_key_client(lab_b)


@pytest.fixture
def regulator_client(regulator_org: Organization, make_key_client: Callable[..., APIClient]) -> APIClient:
    return make_key_client(regulator_org, role=Role.REGULATOR)
