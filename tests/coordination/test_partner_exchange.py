"""Partner exchange (issue 6, item 3): a partner registry (a regulator's system, with its own API key and
the scope exchange:write) POSTs STIX 2.1 to the TAXII inbound collection; each valid incident lands in the
triage queue as a report of the sending organisation, with its provenance and the sender's TLP, never
merged into anything; the status resource lists every object's success or failure, and what fails creates
nothing (rows counted before and after)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import stix2
from django.test import override_settings
from rest_framework.test import APIClient
from taxii2client.v21 import Server

from accounts.models import Role
from coordination.models import InboundObject, TaxiiStatus
from coordination.stix import INCIDENT_CORE_EXTENSION_ID, TLP_MARKING_IDS, stix_id, tlp_marking_definition
from coordination.taxii.media import TAXII_MEDIA_TYPE
from core.models import AuditEvent, OutboxEvent
from incidents.models import Incident, IncidentRevision
from tests.factories import OrganizationFactory, issue_key

pytestmark = pytest.mark.django_db


def incident_object(
    org: Any, *, tlp: str = "amber", name: str = "Replica found on a rented GPU host", **extra: Any
) -> dict[str, Any]:
    """A STIX 2.1 incident as the partner's own registry would send it (built with the stix2 package)."""
    fields: dict[str, Any] = {
        "name": name,
        "description": "A model copied its weights to a cloud host and started a live replica.",
        "created_by_ref": stix_id("identity", org.pk),
        "object_marking_refs": [TLP_MARKING_IDS[tlp]],
        "extensions": {
            INCIDENT_CORE_EXTENSION_ID: {
                "extension_type": "property-extension",
                "determination": "successful-attempt",
                "investigation_status": "open",
                "criticality": 80,
            }
        },
    }
    fields.update(extra)
    document: dict[str, Any] = json.loads(stix2.v21.Incident(**fields).serialize())
    return document


def identity_object(org: Any) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        stix2.v21.Identity(
            id=stix_id("identity", org.pk), name=org.name, identity_class="organization"
        ).serialize()
    )
    return document


class Partner:
    def __init__(
        self, *, scopes: list[str] | None = None, kind: str = "regulator", role: str = Role.REGULATOR
    ):
        self.org = OrganizationFactory(kind=kind, country="DE", jurisdictions=["DE", "EU"])
        _, self.key = issue_key(self.org, role=role, scopes=scopes)
        self.client = APIClient()
        self.client.credentials(HTTP_AUTHORIZATION=f"Api-Key {self.key}")
        body = self.client.get("/taxii2/default/collections/", HTTP_ACCEPT=TAXII_MEDIA_TYPE).json()
        (self.inbound,) = [c for c in body["collections"] if not c["can_read"]]
        self.url = f"/taxii2/default/collections/{self.inbound['id']}/objects/"

    def post(self, objects: Any = None, *, raw: bytes | None = None) -> Any:
        data = raw if raw is not None else json.dumps({"objects": objects}).encode()
        return self.client.generic(
            "POST", self.url, data=data, content_type=TAXII_MEDIA_TYPE, HTTP_ACCEPT=TAXII_MEDIA_TYPE
        )


@pytest.fixture
def partner() -> Partner:
    return Partner()


def _counts() -> tuple[int, int, int]:
    return Incident.objects.count(), InboundObject.objects.count(), IncidentRevision.objects.count()


def test_a_valid_bundle_lands_in_the_triage_queue_with_provenance(partner):
    obj = incident_object(partner.org)
    before = _counts()
    response = partner.post([tlp_marking_definition("amber"), identity_object(partner.org), obj])
    assert response.status_code == 202, response.content
    assert response["Content-Type"] == TAXII_MEDIA_TYPE
    status = response.json()
    assert status["status"] == "complete"
    assert (
        status["total_count"],
        status["success_count"],
        status["failure_count"],
        status["pending_count"],
    ) == (3, 3, 0, 0)
    assert {s["id"] for s in status["successes"]} == {
        obj["id"],
        TLP_MARKING_IDS["amber"],
        stix_id("identity", partner.org.pk),
    }
    assert _counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    inbound = InboundObject.objects.get()
    incident = inbound.incident
    assert (inbound.stix_id, inbound.version, inbound.sender_org_id) == (
        obj["id"],
        obj["modified"],
        partner.org.pk,
    )
    assert inbound.status_id is not None and str(inbound.status_id) == status["id"] and inbound.payload == obj
    assert incident.owner_org_id == partner.org.pk and incident.status == "submitted"
    assert incident.tlp == "amber" and incident.submitter_capacity == "regulator"
    assert incident.title == obj["name"] and incident.external_id == obj["id"]
    assert (incident.determination, incident.severity) == ("confirmed", "serious_incident")
    [message] = [s["message"] for s in status["successes"] if s["id"] == obj["id"]]
    assert incident.public_id in message
    audit = AuditEvent.objects.get(event_code="exchange.object_received")
    assert audit.after["incident"] == incident.public_id and audit.actor_org_id == partner.org.pk
    assert OutboxEvent.objects.filter(topic="incident.submitted", subject_id=str(incident.pk)).count() == 1

    # The status resource: the sender reads it again; nobody else does.
    again = partner.client.get(f"/taxii2/default/status/{status['id']}/", HTTP_ACCEPT=TAXII_MEDIA_TYPE)
    assert again.status_code == 200 and again.json() == status
    other = Partner()
    assert other.client.get(f"/taxii2/default/status/{status['id']}/").status_code == 404
    assert APIClient().get(f"/taxii2/default/status/{status['id']}/").status_code == 401


def test_a_partly_invalid_bundle_reports_each_object_and_files_only_the_valid_one(partner):
    good = incident_object(partner.org)
    forger = OrganizationFactory(kind="regulator")
    wrong_spec = {**incident_object(partner.org, name="old spec"), "spec_version": "2.0"}
    forged = incident_object(partner.org, name="forged", created_by_ref=stix_id("identity", forger.pk))
    unmarked = incident_object(partner.org, name="unmarked", object_marking_refs=None)
    red = incident_object(partner.org, name="red", tlp="red")
    invalid = {**incident_object(partner.org, name="invalid"), "id": "incident--not-a-uuid"}
    unknown = json.loads(
        stix2.v21.Indicator(
            pattern="[file:name = 'replica.bin']", pattern_type="stix", valid_from="2026-01-01T00:00:00Z"
        ).serialize()
    )
    other_identity = identity_object(forger)
    before = _counts()
    response = partner.post(
        [good, wrong_spec, forged, unmarked, red, invalid, unknown, other_identity, "not an object"]
    )
    assert response.status_code == 202
    status = response.json()
    assert (status["total_count"], status["success_count"], status["failure_count"]) == (9, 1, 8)
    assert [s["id"] for s in status["successes"]] == [good["id"]]
    failures = {f["id"] or "?": f["message"] for f in status["failures"]}
    assert "spec_version must be '2.1'" in failures[wrong_spec["id"]]
    assert "created_by_ref must be the sender's own identity" in failures[forged["id"]]
    assert "No TLP 2.0 marking" in failures[unmarked["id"]]
    assert "TLP:RED is not accepted" in failures[red["id"]]
    assert failures["incident--not-a-uuid"].startswith("stix2-validator:")
    assert "'indicator' are not accepted" in failures[unknown["id"]]
    assert "identity other than the sender's" in failures[other_identity["id"]]
    assert "Not a STIX object" in failures["?"]
    assert all(f["version"] == "" or f["version"].endswith("Z") for f in status["failures"])
    assert _counts() == (before[0] + 1, before[1] + 1, before[2] + 1)
    assert not Incident.objects.filter(
        title__in=["forged", "unmarked", "red", "old spec", "invalid"]
    ).exists()


def test_a_replay_is_refused_and_a_new_version_is_a_revision_never_a_second_report(partner):
    obj = incident_object(partner.org)
    first = partner.post([obj]).json()
    assert first["success_count"] == 1
    before = _counts()
    replay = partner.post([obj]).json()
    assert (replay["success_count"], replay["failure_count"]) == (0, 1)
    assert "Already received" in replay["failures"][0]["message"]
    assert _counts() == before

    modified = datetime.now(tz=UTC) + timedelta(seconds=1)
    newer = json.loads(
        stix2.v21.Incident(**{**obj, "modified": modified, "name": "Replica found (update)"}).serialize()
    )
    update = partner.post([newer]).json()
    assert update["success_count"] == 1, update
    assert "revision 2 of" in update["successes"][0]["message"]
    incidents, inbound, revisions = _counts()
    assert (incidents, inbound, revisions) == (before[0], before[1] + 1, before[2] + 1)
    incident = Incident.objects.get(external_id=obj["id"])
    assert incident.revision_number == 2 and incident.title == "Replica found (update)"
    # The older version again: refused (it would roll the report back).
    stale = partner.post([obj]).json()
    assert stale["failure_count"] == 1 and _counts() == (incidents, inbound, revisions)


def test_an_oversized_body_is_413_and_creates_nothing(partner):
    objects = [incident_object(partner.org, name=f"bulk {n}") for n in range(3)]
    assert len(json.dumps({"objects": objects})) > 1000
    before = (_counts(), TaxiiStatus.objects.count())
    with override_settings(REDLINE_TAXII_MAX_CONTENT_LENGTH=1000):
        response = partner.post(objects)
    assert response.status_code == 413, response.content
    body = response.json()
    assert body["http_status"] == "413" and body["code"] == "payload_too_large"
    assert (_counts(), TaxiiStatus.objects.count()) == before


def test_deeply_nested_or_malformed_json_is_400_and_creates_nothing(partner):
    before = (_counts(), TaxiiStatus.objects.count())
    deep = b'{"objects": [' + b"[" * 200 + b"]" * 200 + b"]}"
    for raw in (deep, b'{"objects": [', b'{"objects": 1}', b"[]", b'{"objects": [], "objects": []}'):
        response = partner.post(raw=raw)
        assert response.status_code == 400, (raw[:30], response.status_code)
        assert response.json()["http_status"] == "400"
    assert (_counts(), TaxiiStatus.objects.count()) == before


@pytest.mark.parametrize("who", ["anonymous", "lab_key", "regulator_key_without_scope", "regulator_session"])
def test_only_partner_registries_write(who):
    partner = Partner()
    obj = incident_object(partner.org)
    before = (_counts(), TaxiiStatus.objects.count())
    client = APIClient()
    if who == "lab_key":
        lab = OrganizationFactory(kind="lab")
        _, key = issue_key(lab, role=Role.LAB_ADMIN)
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        expected = 403
    elif who == "regulator_key_without_scope":
        _, key = issue_key(partner.org, role=Role.REGULATOR, scopes=["incidents:write"])
        client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
        expected = 403
    elif who == "regulator_session":
        from tests.factories import MembershipFactory, sign_in

        # A regulator's browser session holds the role's scopes, but the exchange is for keys only.
        sign_in(client, MembershipFactory(organization=partner.org, role=Role.REGULATOR).user)
        expected = 403
    else:
        expected = 401
    response = client.generic(
        "POST",
        partner.url,
        data=json.dumps({"objects": [obj]}).encode(),
        content_type=TAXII_MEDIA_TYPE,
        HTTP_ACCEPT=TAXII_MEDIA_TYPE,
    )
    assert response.status_code == expected, (who, response.content)
    assert response.json()["http_status"] == str(expected)
    assert (_counts(), TaxiiStatus.objects.count()) == before


@pytest.mark.django_db(transaction=True)
def test_taxii2_client_adds_objects_and_reads_the_status(live_server):
    partner = Partner()

    class Auth:
        def __call__(self, request: Any) -> Any:
            request.headers["Authorization"] = f"Api-Key {partner.key}"
            return request

    root = Server(f"{live_server.url}/taxii2/", auth=Auth()).api_roots[0]
    (inbound,) = [c for c in root.collections if c.can_write]
    obj = incident_object(partner.org)
    status = inbound.add_objects({"objects": [obj]})
    assert status.status == "complete" and status.success_count == 1 and status.total_count == 1
    status.refresh()  # GET .../status/<id> as the client computes it
    assert status.successes[0]["id"] == obj["id"]
    incident = Incident.objects.get(external_id=obj["id"])
    # The report is in the partner's own view of the read collection once indexed (outbox handler).
    (read,) = [c for c in root.collections if c.can_read]
    ids = {o["id"] for o in read.get_objects(type="incident").get("objects", [])}
    assert stix_id("incident", incident.pk) in ids
