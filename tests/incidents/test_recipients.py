"""TLP:RED reaches only its submitter and the reviewers the submitting organisation names."""

from __future__ import annotations

import pytest

from accounts.models import Role
from core.models import AuditEvent
from tests.factories import MembershipFactory
from tests.incidents.matrix import world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def test_naming_a_reviewer_lets_them_read_a_red_report(world):  # noqa: F811
    red = world.incidents["red"]
    url = f"/api/v1/incidents/{red.public_id}"
    other = world.clients["other_reviewer"]
    assert other.get(url).status_code == 404

    response = world.clients["lab_a_submitter"].post(
        f"{url}/recipients", {"username": world.memberships["other_reviewer"].user.username}, format="json"
    )

    assert response.status_code == 201, response.content
    assert other.get(url).status_code == 200
    assert AuditEvent.objects.filter(event_code="incident.recipient_added", target_id=str(red.pk)).exists()
    names = [r["username"] for r in world.clients["lab_a_submitter"].get(f"{url}/recipients").json()]
    assert world.memberships["other_reviewer"].user.username in names


def test_only_oversight_staff_can_be_named_and_only_by_the_submitter(world):  # noqa: F811
    red = world.incidents["red"]
    url = f"/api/v1/incidents/{red.public_id}/recipients"
    lab_b_user = world.memberships["lab_b_submitter"].user.username
    refused = world.clients["lab_a_submitter"].post(url, {"username": lab_b_user}, format="json")
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_recipient"

    colleague = MembershipFactory(organization=world.orgs["eu"], role=Role.REVIEWER).user.username
    by_reviewer = world.clients["lead_reviewer"].post(url, {"username": colleague}, format="json")
    assert by_reviewer.status_code == 403
    assert (
        world.clients["lab_b_submitter"].post(url, {"username": colleague}, format="json").status_code == 404
    )
