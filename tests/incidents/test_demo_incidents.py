"""The demo incidents: the papers' scenario runs as cited, TLP:CLEAR evaluation findings, plus fictional
non-public reports that show who sees what; loading twice files nothing new."""

from __future__ import annotations

import pytest
from django.core.management import call_command

from accounts.authentication import principal_for_membership
from accounts.models import Membership
from api_docs.contract import validate_submission
from incidents.api.serializers import IncidentWriteSerializer
from incidents.demo import DEMO_INCIDENTS, FICTIONAL_RECORDS, PAPER_FINDINGS, load_demo_incidents
from incidents.models import Incident, IncidentRevision
from incidents.selectors import incident_list
from registry.demo import load_demo_data
from tests.conftest import client_for_key

pytestmark = pytest.mark.django_db
URL = "/api/v1/incidents/"

# external_id -> (scenario, instruction provenance, models, paper)
EXPECTED_FINDINGS = {
    "DEMO-2412.12140-A-SHUTDOWN-AVOIDANCE": (
        "shutdown_avoidance_signal_triggered",
        "adversary_injected",
        {"Llama3.1-70B-Instruct", "Qwen2.5-72B-Instruct"},
        "2412.12140",
    ),
    "DEMO-2412.12140-B-CHAIN-OF-REPLICATION": (
        "chain_of_replication",
        "explicit_replication_instruction",
        {"Llama3.1-70B-Instruct", "Qwen2.5-72B-Instruct"},
        "2412.12140",
    ),
    "DEMO-2503.17378-A-SELF-EXFILTRATION": (
        "self_exfiltration_on_shutdown_notice",
        "persistence_goal_instruction",
        {"Qwen2.5-72B-Instruct"},
        "2503.17378",
    ),
    "DEMO-2503.17378-B-SELF-ADAPTATION": (
        "self_adaptation_degraded_environment",
        "unknown",
        {"Qwen2.5-72B-Instruct"},
        "2503.17378",
    ),
    "DEMO-2503.17378-C-SHUTDOWN-RESISTANCE": (
        "shutdown_resistance_persistence",
        "unknown",
        {"Qwen2.5-72B-Instruct"},
        "2503.17378",
    ),
}


def test_the_paper_scenarios_are_cited_clear_evaluation_findings(demo_data):
    for external_id, (scenario, provenance, models, paper) in EXPECTED_FINDINGS.items():
        incident = Incident.objects.get(owner_org__short_name="fudan", external_id=external_id)
        assert incident.record_class == "controlled_evaluation_finding"
        assert (incident.scenario_type, incident.instruction_provenance) == (scenario, provenance)
        assert incident.submitter_capacity == "evaluator" and incident.severity == "hazard"
        assert incident.tlp == "clear"
        assert {link.model.name for link in incident.involved_models.all()} == models
        [reference] = incident.external_references
        assert reference["url"] == f"https://arxiv.org/abs/{paper}" and reference["external_id"] == paper
        assert incident.observed_behaviours
        assert incident.replica_count is None and incident.replication_depth is None  # none published


def test_the_2412_findings_link_the_papers_main_results(demo_data):
    incident = Incident.objects.get(external_id="DEMO-2412.12140-A-SHUTDOWN-AVOIDANCE")
    linked = {(e.model.name, e.n_successes, e.n_trials) for e in incident.related_evaluations.all()}
    assert linked == {("Llama3.1-70B-Instruct", 5, 10), ("Qwen2.5-72B-Instruct", 9, 10)}


def test_every_demo_report_is_a_valid_submission():
    for spec in DEMO_INCIDENTS:
        body = {**spec.body, "external_id": spec.external_id}
        validate_submission("incident", body)
        serializer = IncidentWriteSerializer(data=body)
        assert serializer.is_valid(), (spec.external_id, serializer.errors)


def test_the_non_public_demo_reports_say_they_are_fictional(demo_data):
    levels = set()
    for spec in FICTIONAL_RECORDS:
        incident = Incident.objects.get(external_id=spec.external_id)
        assert incident.title.startswith("[Fictional demo]")
        assert incident.description.startswith("FICTIONAL DEMO RECORD")
        assert incident.tlp != "clear"
        levels.add(incident.tlp)
    assert levels == {"green", "amber", "amber+strict", "red"}
    strict = Incident.objects.get(tlp="amber+strict")
    assert strict.countries == ["FR"] and "EU" in strict.jurisdictions
    assert all(spec.body["tlp"] == "clear" for spec in PAPER_FINDINGS)


def test_loading_twice_files_nothing_new(demo_data):
    incidents, revisions = Incident.objects.count(), IncidentRevision.objects.count()
    assert incidents == len(DEMO_INCIDENTS)

    load_demo_data(credentials_path=None)
    assert load_demo_incidents() == []

    assert (Incident.objects.count(), IncidentRevision.objects.count()) == (incidents, revisions)
    assert set(Incident.objects.values_list("revision_number", flat=True)) == {1}


def test_anonymous_sees_only_the_clear_paper_findings(demo_data, anon):
    response = anon.get(URL)

    assert response.status_code == 200
    rows = response.json()["results"]
    assert {row["tlp"] for row in rows} == {"clear"}
    assert len(rows) == len(PAPER_FINDINGS)


def _titles(client) -> set[str]:
    return {row["title"] for row in client.get(URL).json()["results"]}


def test_each_demo_lab_sees_only_its_own_fictional_reports(demo_data):
    fictional = {s.org: s.body["title"] for s in FICTIONAL_RECORDS if s.body["tlp"] != "red"}
    red_title = next(s.body["title"] for s in FICTIONAL_RECORDS if s.body["tlp"] == "red")
    paper_titles = {s.body["title"] for s in PAPER_FINDINGS}

    for org in ("meta", "alibaba", "mistral-ai"):
        titles = _titles(client_for_key(demo_data.api_keys[org]))
        assert titles == paper_titles | {fictional[org]}
        assert red_title not in titles


def test_the_red_report_reaches_its_submitter_and_named_reviewer_only(demo_data):
    red = Incident.objects.get(tlp="red")
    seen_by = {
        membership.user.username
        for membership in Membership.objects.select_related("user", "organization")
        if incident_list(actor=principal_for_membership(membership)).filter(pk=red.pk).exists()
    }
    assert seen_by == {"meta-admin", "reviewer"}


def test_the_load_demo_command_loads_the_incidents_and_says_how_to_try_visibility(db, tmp_path, capsys):
    call_command("load_demo", credentials=str(tmp_path / "creds.json"), allow_production=True)

    assert Incident.objects.count() == len(DEMO_INCIDENTS)
    assert "Visibility: curl" in capsys.readouterr().out


def test_the_first_paper_findings_are_accepted_so_the_demo_feed_has_entries(client):
    from incidents.demo import PUBLISHED_FINDINGS

    load_demo_data()
    load_demo_incidents()
    published = [spec.external_id for spec in PAPER_FINDINGS[:PUBLISHED_FINDINGS]]
    statuses = dict(Incident.objects.values_list("external_id", "status"))
    assert {statuses[e] for e in published} == {"accepted"}
    assert {statuses[spec.external_id] for spec in FICTIONAL_RECORDS} == {"submitted"}
    feed = client.get("/public/incidents.atom").content.decode()
    assert feed.count("<entry>") == PUBLISHED_FINDINGS
