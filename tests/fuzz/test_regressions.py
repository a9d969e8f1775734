"""What schemathesis found, pinned: each case below was a failure before its fix."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from tests.factories import OrganizationFactory, issue_key

pytestmark = pytest.mark.django_db

# Python accepts UTC offsets up to 23:59, PostgreSQL only up to 15:59: the filter sent "+17:32" to the
# database, which refused it (DataError, answered 422 and undocumented for a read).
FAR_OFFSET = "0033-12-08T03:34:37.835334+17:32"


@pytest.fixture
def regulator(db: Any) -> APIClient:
    org = OrganizationFactory(
        short_name="fuzz-reg-office", kind="regulator", country="BE", jurisdictions=["EU"]
    )
    _, key = issue_key(org, Role.REGULATOR)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    return client


@pytest.mark.parametrize(
    ("path", "parameter"),
    [
        ("/api/v1/incidents/", "due_before"),
        ("/api/v1/incidents/", "modified_after"),
        ("/api/v1/audit/", "occurred_after"),
        ("/api/v1/audit/", "modified_after"),
    ],
)
def test_a_timestamp_with_an_offset_postgresql_refuses_is_read_as_the_same_instant(
    regulator: APIClient, path: str, parameter: str
) -> None:
    response = regulator.get(path, {parameter: FAR_OFFSET})

    assert response.status_code == 200, response.content


def test_a_far_offset_timestamp_that_leaves_the_calendar_in_utc_is_a_400(regulator: APIClient) -> None:
    response = regulator.get("/api/v1/incidents/", {"due_before": "0001-01-01T00:00:00+17:00"})

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
