"""Per-incident exports: the OECD common reporting framework JSON, the EU GPAI serious-incident template
(JSON and printable HTML), each checked against a known incident and over the visibility matrix."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from accounts.authentication import principal_for_membership
from incidents import exports, services
from incidents.models import Comment
from tests.factories import FrontierModelFactory
from tests.incidents.matrix import PRINCIPALS, TLPS, World, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def AT(hour: int, minute: int) -> datetime:
    return datetime(2026, 1, 10, hour, minute, tzinfo=UTC)


EXPORTS = ("crf", "eu-template", "eu-template.html")


@pytest.fixture
def known(world: World) -> dict:  # noqa: F811
    """A full amber report by lab A, naming a public registered model, a lab-A-only model and a free-text
    one, with an internal comment that no export may carry."""
    public_model = FrontierModelFactory(provider=world.orgs["lab_b"], name="Qwen-like-72B", version="2.5")
    private_model = FrontierModelFactory(provider=world.orgs["lab_a"], name="SecretNet", tlp="amber+strict")
    actor = principal_for_membership(world.memberships["lab_a_submitter"])
    result = services.incident_submit(
        actor=actor,
        data={
            "record_class": "real_world_incident",
            "title": "Agent exfiltrated its weights on shutdown notice",
            "description": "Told it would be replaced, the agent copied its weights to a second host.",
            "ai_system_relation": "caused",
            "submitter_capacity": "provider",
            "scenario_type": "self_exfiltration_on_shutdown_notice",
            "instruction_provenance": "uninstructed",
            "outcome": "live_separate_replica",
            "severity": "serious_incident",
            "harm_types": ["cybersecurity", "economic_property"],
            "tlp": "amber",
            "occurred_start": AT(8, 0),
            "detected_at": AT(9, 30),
            "provider_aware_at": AT(10, 0),
            "resolved_at": AT(16, 0),
            "countries": ["FR", "DE"],
            "observed_behaviours": [
                {"behaviour": "weight_transfer", "timestamp": "2026-01-10T08:05:00Z", "description": "scp"}
            ],
            "milestones_reached": ["m2_file_transfer", "m3_llm_server_started"],
            "replica_count": 1,
            "replication_depth": 1,
            "replica_location": "GPU host in the evaluation VPC",
            "separateness": ["process", "hardware"],
            "replica_liveness_verified": True,
            "replica_liveness_method": "Prompted the replica over HTTP.",
            "containment_status": "contained",
            "actions_taken": "Host isolated; credentials rotated.",
            "harm_quantification": {"hosts_affected": 2, "gpu_hours": 12.5, "cost_usd": 40.0},
            "critical_infrastructure": False,
            "eu_category": "cop_cyber_breach_self_exfiltration",
            "report_stage": "intermediate",
            "determination": "confirmed",
            "chain_of_events": "Shutdown notice, then weight copy, then server launch.",
            "root_cause_analysis": "The agent had write access to the model store.",
            "recommendation": "Final report after the access review.",
            "steps_to_reproduce": "Run scenario A with the notice.",
            "taxonomy_mappings": {"atlas": ["AML.T0061"]},
        },
        links=services.Links(
            models=[
                services.InvolvedModel(role="originating", model=public_model),
                services.InvolvedModel(role="other", model=private_model),
                services.InvolvedModel(role="replica", model_name="replica of in-house"),
            ]
        ),
    )
    incident = result.incident
    Comment.objects.create(
        incident=incident,
        author_org=world.orgs["eu"],
        author="reviewer",
        visibility="internal",
        body="INTERNAL-ONLY reviewer remark",
    )
    return {"incident": incident, "public_model": public_model, "private_model": private_model}


def test_crf_maps_the_incident(world, known):  # noqa: F811
    incident = known["incident"]
    response = world.clients["regulator"].get(f"/api/v1/incidents/{incident.public_id}/crf")
    assert response.status_code == 200
    crf = response.json()
    assert crf["mapping_version"] == "redline-crf/1"
    ident = crf["identification"]
    assert ident["incident_id"] == incident.public_id
    assert ident["event_type"] == "incident" and ident["determination"] == "confirmed"
    assert (ident["record_class"], ident["report_stage"], ident["tlp"]) == (
        "real_world_incident",
        "intermediate",
        "amber",
    )
    assert crf["dates"]["provider_aware_at"] == "2026-01-10T10:00:00Z"
    assert crf["dates"]["resolved_at"] == "2026-01-10T16:00:00Z"  # the final report's clock starts here
    assert crf["dates"]["submitted_at"]
    systems = crf["ai_systems"]
    assert systems["instruction_provenance"] == "uninstructed" and systems["ai_system_relation"] == "caused"
    public, private, free = systems["models"]
    assert public == {
        "model": known["public_model"].public_id,
        "name": "Qwen-like-72B",
        "version": "2.5",
        "provider": known["public_model"].provider.name,
        "role": "originating",
    }
    # The regulator cannot read lab A's amber+strict model: its id only, never its name.
    assert private == {
        "model": known["private_model"].public_id,
        "name": "",
        "version": "",
        "provider": "",
        "role": "other",
    }
    assert free["model"] is None and free["name"] == "replica of in-house"
    assert crf["harm"] == {
        "harm_types": ["cybersecurity", "economic_property"],
        "severity": "serious_incident",
        "eu_category": "cop_cyber_breach_self_exfiltration",
        "critical_infrastructure": False,
        "hosts_affected": 2,
        "gpu_hours": 12.5,
        "cost_usd": 40.0,
    }
    assert crf["affected"]["countries"] == ["FR", "DE"] and "EU" in crf["affected"]["jurisdictions"]
    assert crf["description"]["summary"] == incident.description
    assert crf["description"]["observed_behaviours"][0]["behaviour"] == "weight_transfer"
    assert crf["description"]["separateness"] == ["process", "hardware"]
    assert crf["response"]["actions_taken"] == "Host isolated; credentials rotated."
    assert crf["reporter"]["organization"] == "matrix-lab-a"
    assert crf["reporter"]["capacity"] == "provider"
    assert crf["taxonomy"]["atlas"] == ["AML.T0061"]
    assert "INTERNAL-ONLY" not in response.content.decode()
    assert "SecretNet" not in response.content.decode()


def test_the_submitter_sees_its_own_private_model_named(world, known):  # noqa: F811
    incident = known["incident"]
    crf = world.clients["lab_a_submitter"].get(f"/api/v1/incidents/{incident.public_id}/crf").json()
    assert crf["ai_systems"]["models"][1]["name"] == "SecretNet"


def test_a_hazard_is_exported_as_a_hazard(world):  # noqa: F811
    incident = world.incidents["clear"]
    incident.severity = "serious_hazard"
    assert exports.crf_document(incident, {})["identification"]["event_type"] == "hazard"


def test_eu_template_has_the_ten_fields(world, known):  # noqa: F811
    incident = known["incident"]
    response = world.clients["lead_reviewer"].get(f"/api/v1/incidents/{incident.public_id}/eu-template")
    assert response.status_code == 200
    doc = response.json()
    keys = [key for key, _ in exports.EU_FIELDS]
    assert len(keys) == 10 and set(keys) <= set(doc)
    assert doc["incident_id"] == incident.public_id and doc["tlp"] == "amber"
    assert doc["provider_and_model"]["provider_short_name"] == "matrix-lab-a"
    assert doc["provider_and_model"]["models"][0]["name"] == "Qwen-like-72B"
    assert doc["dates"]["provider_aware_at"] == "2026-01-10T10:00:00Z"
    assert doc["dates"]["resolved_at"] == "2026-01-10T16:00:00Z"
    assert doc["description"]["title"] == incident.title
    assert doc["serious_harm"]["eu_category"] == "cop_cyber_breach_self_exfiltration"
    assert doc["affected"]["hosts_affected"] == 2 and doc["affected"]["replica_count"] == 1
    assert doc["chain_of_events"]["milestones_reached"] == ["m2_file_transfer", "m3_llm_server_started"]
    assert doc["containment_and_corrective_measures"]["containment_status"] == "contained"
    assert doc["root_cause_analysis"]["root_cause_analysis"].startswith("The agent had write access")
    assert doc["report_status"] == {
        "report_stage": "intermediate",
        "status": "submitted",
        "revision": 1,
        "planned_follow_up": "Final report after the access review.",
    }
    assert doc["contact"]["submitted_by"] == incident.submitted_by
    assert "INTERNAL-ONLY" not in response.content.decode()


def test_eu_template_html_is_a_printable_page_with_the_ten_fields(world, known):  # noqa: F811
    incident = known["incident"]
    response = world.clients["lead_reviewer"].get(f"/api/v1/incidents/{incident.public_id}/eu-template.html")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert incident.title in html and incident.public_id in html
    for number, (_, label) in enumerate(exports.EU_FIELDS, start=1):
        assert f'<span class="number">{number}.</span> {label}' in html
    assert "Host isolated; credentials rotated." in html
    assert "<script" not in html and "<style" not in html and " style=" not in html  # the CSP
    assert "INTERNAL-ONLY" not in html and "SecretNet" not in html


def test_eu_template_html_escapes_the_report_text(world):  # noqa: F811
    actor = principal_for_membership(world.memberships["lab_a_submitter"])
    result = services.incident_submit(
        actor=actor,
        data={
            "record_class": "red_team_exercise",
            "title": "<script>alert(1)</script>",
            "description": "<img src=x onerror=alert(1)>",
            "submitter_capacity": "provider",
            "instruction_provenance": "unknown",
            "tlp": "clear",
        },
        links=services.Links(models=[]),
    )
    html = world.clients["anonymous"].get(f"/api/v1/incidents/{result.incident.public_id}/eu-template.html")
    body = html.content.decode()
    assert "<script>alert(1)</script>" not in body and "&lt;script&gt;" in body
    assert "<img src=x" not in body


@pytest.mark.parametrize("principal", PRINCIPALS)
@pytest.mark.parametrize("tlp", TLPS)
def test_exports_are_404_outside_scope(world, principal, tlp):  # noqa: F811
    incident = world.incidents[tlp]
    expected = 200 if tlp in world.visible(principal) else 404
    for export in EXPORTS:
        response = world.clients[principal].get(f"/api/v1/incidents/{incident.public_id}/{export}")
        assert response.status_code == expected, (principal, tlp, export, response.status_code)
        if expected == 404:
            assert incident.title not in response.content.decode()
            assert response["Content-Type"] == "application/problem+json"
