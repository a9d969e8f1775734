"""Raising a report's TLP: nobody raises it beyond what they could read afterwards. A person raising to
TLP:RED becomes a named recipient; a caller who still could not read it is refused, and nothing changes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from core.models import AuditEvent
from incidents.models import Incident, IncidentRecipient
from tests.coordination.helpers import lab_member, submit
from tests.factories import MembershipFactory, sign_in
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db


def _raise(client: APIClient, incident: Incident, tlp: str):
    return client.post(f"/api/v1/incidents/{incident.public_id}/tlp", {"tlp": tlp}, format="json")


def test_a_lab_admin_who_raises_to_red_becomes_a_named_recipient(lab_a):
    incident = submit(lab_member(lab_a), tlp="amber")
    admin = MembershipFactory(organization=lab_a, role=Role.LAB_ADMIN)
    client = APIClient()
    sign_in(client, admin.user)

    response = _raise(client, incident, "red")

    assert response.status_code == 200, response.content
    assert response.json()["tlp"] == "red"
    assert IncidentRecipient.objects.filter(incident=incident, user=admin.user).exists()
    event = AuditEvent.objects.get(event_code="incident.tlp_raised", target_public_id=incident.public_id)
    assert event.after["recipient_added"] and event.after["tlp"] == "red"
    assert client.get(f"/api/v1/incidents/{incident.public_id}").status_code == 200


def test_a_key_that_could_not_read_the_red_report_is_refused_and_nothing_changes(lab_a, make_key_client):
    incident = submit(lab_member(lab_a), tlp="amber")
    key_client = make_key_client(lab_a, role=Role.LAB_ADMIN)

    assert_problem(_raise(key_client, incident, "red"), 403, "tlp_beyond_own_clearance")

    incident.refresh_from_db()
    assert incident.tlp == "amber"
    assert not IncidentRecipient.objects.filter(incident=incident).exists()
    assert not AuditEvent.objects.filter(event_code="incident.tlp_raised").exists()
    # It may still raise within its own reach.
    assert _raise(key_client, incident, "amber+strict").status_code == 200
