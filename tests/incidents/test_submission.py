"""Filing incident reports: receipts, idempotent retries, follow-up revisions, amendments, withdrawal."""

from __future__ import annotations

import copy
import hashlib
import json

import pytest

from api_docs import examples
from core.models import AuditEvent
from incidents.models import Incident, IncidentRevision
from incidents.services import canonical_json
from tests.factories import FrontierModelFactory

pytestmark = pytest.mark.django_db
URL = "/api/v1/incidents/"


@pytest.fixture
def report(lab_a):
    model = FrontierModelFactory(provider=lab_a, tlp="clear")
    body = copy.deepcopy(examples.INCIDENT_CREATE)
    body["models"] = [
        {"model": model.public_id, "role": "originating"},
        {"model_name": "replica-1", "role": "replica"},
    ]
    return body


def test_a_submission_answers_201_with_a_receipt(client_a, report):
    response = client_a.post(URL, report, format="json")

    assert response.status_code == 201, response.content
    receipt = response.json()
    incident = Incident.objects.get(public_id=receipt["public_id"])
    assert receipt["public_id"].startswith("SRI-") and len(receipt["public_id"].split("-")[2]) == 6
    assert receipt["revision"] == 1 and receipt["created"] is True
    revision = IncidentRevision.objects.get(incident=incident, number=1)
    assert receipt["sha256"] == hashlib.sha256(canonical_json(revision.payload).encode()).hexdigest()
    assert response["Location"] == f"/api/v1/incidents/{incident.public_id}"
    assert AuditEvent.objects.filter(event_code="incident.submitted", target_id=str(incident.pk)).exists()


def test_record_class_and_instruction_provenance_are_mandatory(client_a, report):
    for field in ("record_class", "instruction_provenance"):
        body = {k: v for k, v in report.items() if k != field}
        response = client_a.post(URL, body, format="json")
        assert response.status_code == 400
        assert field in {e["field"] for e in response.json()["errors"]}
    assert Incident.objects.count() == 0


def test_the_same_external_id_twice_makes_one_incident_with_two_revisions(client_a, report):
    first = client_a.post(URL, report, format="json")
    follow_up = client_a.post(URL, {**report, "outcome": "contained_by_operator"}, format="json")

    assert first.status_code == 201 and follow_up.status_code == 200
    assert follow_up.json()["public_id"] == first.json()["public_id"]
    assert follow_up.json()["revision"] == 2 and follow_up.json()["created"] is False
    assert Incident.objects.count() == 1
    incident = Incident.objects.get()
    assert incident.outcome == "contained_by_operator"
    assert IncidentRevision.objects.filter(incident=incident).count() == 2


def test_a_retry_with_the_same_idempotency_key_replays_the_receipt(client_a, report):
    first = client_a.post(URL, report, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    again = client_a.post(URL, report, format="json", HTTP_IDEMPOTENCY_KEY="k-1")
    other = client_a.post(URL, {**report, "title": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1")

    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert other.status_code == 422
    assert IncidentRevision.objects.count() == 1


def test_a_final_report_needs_evidence(client_a, report):
    response = client_a.post(URL, {**report, "report_stage": "final"}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "final_report_incomplete"
    assert "evidence" in {e["field"] for e in response.json()["errors"]}
    assert Incident.objects.count() == 0


def test_times_in_the_future_are_refused(client_a, report):
    response = client_a.post(URL, {**report, "provider_aware_at": "2999-01-01T00:00:00Z"}, format="json")

    assert response.status_code == 400
    assert Incident.objects.count() == 0


def test_an_amendment_is_a_new_revision_and_revisions_compare_field_by_field(client_a, report):
    public_id = client_a.post(URL, report, format="json").json()["public_id"]
    etag = client_a.get(f"{URL}{public_id}")["ETag"]
    amended = client_a.patch(
        f"{URL}{public_id}",
        {"severity": "incident", "change_summary": "Reassessed."},
        format="json",
        HTTP_IF_MATCH=etag,
    )
    stale = client_a.patch(f"{URL}{public_id}", {"severity": "hazard"}, format="json", HTTP_IF_MATCH=etag)

    assert amended.status_code == 200 and amended.json()["revision"] == 2
    assert stale.status_code == 412
    revisions = client_a.get(f"{URL}{public_id}/revisions").json()
    assert [r["number"] for r in revisions] == [1, 2]
    assert revisions[1]["change_summary"] == "Reassessed."
    diff = client_a.get(f"{URL}{public_id}/revisions/compare", {"from": 1, "to": 2}).json()
    assert diff["changes"] == [{"field": "severity", "from_value": "hazard", "to_value": "incident"}]


def test_withdrawal_needs_a_reason_and_keeps_the_record(client_a, report):
    public_id = client_a.post(URL, report, format="json").json()["public_id"]

    assert client_a.post(f"{URL}{public_id}/withdraw", {}, format="json").status_code == 400
    response = client_a.post(f"{URL}{public_id}/withdraw", {"reason": "Wrong model."}, format="json")

    assert response.status_code == 200
    assert response.json()["status"] == "withdrawn"
    assert client_a.get(f"{URL}{public_id}").json()["withdrawal_reason"] == "Wrong model."
    assert client_a.patch(f"{URL}{public_id}", {"severity": "incident"}, format="json").status_code == 409


def test_revisions_are_append_only_in_the_database(client_a, report):
    from django.db import DatabaseError, transaction

    client_a.post(URL, report, format="json")
    with pytest.raises(DatabaseError), transaction.atomic():
        IncidentRevision.objects.update(sha256="0" * 64)


def test_the_published_incident_schema_accepts_the_documented_example(client):
    from jsonschema import Draft202012Validator

    schema = json.loads(client.get("/schemas/incident/v1.json").content)
    assert list(Draft202012Validator(schema).iter_errors(examples.INCIDENT_CREATE)) == []
