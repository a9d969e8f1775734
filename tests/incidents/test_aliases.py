"""Aliases (issue 6): a report linked to the same event in the AI Incident Database, the OECD AI Incidents
Monitor, AVID and MITRE ATLAS case studies; checked per source, searchable, shown, exported."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.authentication import principal_for_membership
from core.models import AuditEvent
from incidents import services
from incidents.models import IncidentAlias
from tests.factories import sign_in
from tests.incidents.matrix import World, build_world
from tests.problems import assert_problem, field_error_codes

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/"
BODY = {
    "record_class": "real_world_incident",
    "title": "Replica outlived its host",
    "description": "The agent copied itself to a second host.",
    "submitter_capacity": "provider",
    "instruction_provenance": "uninstructed",
    "tlp": "green",
}


@pytest.fixture
def world(db: Any) -> World:
    return build_world()


def _file(world: World, **extra: Any) -> Any:
    return world.clients["lab_a_submitter"].post(URL, {**BODY, **extra}, format="json")


def test_a_submission_records_aliases_in_canonical_form(world):
    response = _file(
        world,
        aliases=[
            {"source": "aiid", "external_id": "23"},
            {"source": "oecd_aim", "external_id": "https://oecd.ai/en/incidents/2024-05-22-4A1B"},
            {"source": "avid", "external_id": "avid-2023-v013"},
            {
                "source": "atlas",
                "external_id": "AML.CS0042",
                "url": "https://atlas.mitre.org/studies/AML.CS0042",
            },
        ],
    )
    assert response.status_code == 201, response.content
    detail = world.clients["regulator"].get(response.json()["url"]).json()
    assert [(a["source"], a["external_id"], a["url"]) for a in detail["aliases"]] == [
        ("aiid", "23", "https://incidentdatabase.ai/cite/23"),
        ("atlas", "AML.CS0042", "https://atlas.mitre.org/studies/AML.CS0042"),
        ("avid", "AVID-2023-V013", "https://avidml.org/database/AVID-2023-V013"),
        ("oecd_aim", "2024-05-22-4a1b", "https://oecd.ai/en/incidents/2024-05-22-4A1B"),
    ]
    assert detail["aliases"][0]["source_name"] == "AI Incident Database"


@pytest.mark.parametrize(
    ("alias", "field", "code"),
    [
        ({"source": "aiid", "external_id": "AIID-23"}, "aliases[0].external_id", "invalid_alias_id"),
        ({"source": "aiid", "external_id": "0"}, "aliases[0].external_id", "invalid_alias_id"),
        ({"source": "atlas", "external_id": "AML.T0061"}, "aliases[0].external_id", "invalid_alias_id"),
        ({"source": "avid", "external_id": "AVID-2023-V1"}, "aliases[0].external_id", "invalid_alias_id"),
        ({"source": "oecd_aim", "external_id": "2024-05-22"}, "aliases[0].external_id", "invalid_alias_id"),
        (
            {"source": "aiid", "external_id": "https://evil.example/cite/23"},
            "aliases[0].external_id",
            "invalid_alias_id",
        ),
        (
            {"source": "aiid", "external_id": "23", "url": "https://evil.example/cite/23"},
            "aliases[0].url",
            "invalid_alias_url",
        ),
        (
            {"source": "aiid", "external_id": "23", "url": "http://incidentdatabase.ai/cite/23"},
            "aliases[0].url",
            "invalid_alias_url",
        ),
    ],
)
def test_each_source_checks_its_id_format(world, alias, field, code):
    body = assert_problem(_file(world, aliases=[alias]), 400)
    assert field_error_codes(body) == {field: code}
    assert not IncidentAlias.objects.exists()


def test_an_unknown_source_or_extra_key_is_refused(world):
    assert_problem(_file(world, aliases=[{"source": "cve", "external_id": "1"}]), 400)
    assert_problem(_file(world, aliases=[{"source": "aiid", "external_id": "1", "note": "x"}]), 400)


def test_an_amendment_replaces_the_submitters_aliases_and_keeps_the_reviewers(world):
    public_id = _file(world, aliases=[{"source": "aiid", "external_id": "23"}]).json()["public_id"]
    reviewer = world.clients["lead_reviewer"]
    added = reviewer.post(
        f"{URL}{public_id}/aliases", {"source": "atlas", "external_id": "AML.CS0001"}, format="json"
    )
    assert added.status_code == 201, added.content
    amended = world.clients["lab_a_submitter"].patch(
        f"{URL}{public_id}",
        {"aliases": [{"source": "avid", "external_id": "AVID-2023-R0001"}]},
        format="json",
    )
    assert amended.status_code == 200, amended.content
    detail = reviewer.get(f"{URL}{public_id}").json()
    assert {(a["source"], a["external_id"]) for a in detail["aliases"]} == {
        ("atlas", "AML.CS0001"),
        ("avid", "AVID-2023-R0001"),
    }
    untouched = world.clients["lab_a_submitter"].patch(
        f"{URL}{public_id}", {"title": "Renamed"}, format="json"
    )
    assert untouched.status_code == 200
    assert len(reviewer.get(f"{URL}{public_id}").json()["aliases"]) == 2


def test_adding_an_alias_is_idempotent_audited_and_scoped(world):
    public_id = _file(world).json()["public_id"]
    path = f"{URL}{public_id}/aliases"
    body = {"source": "aiid", "external_id": "101"}
    reviewer = world.clients["regulator"]
    first = reviewer.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="alias-1")
    replay = reviewer.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="alias-1")
    assert first.status_code == 201 and replay.status_code == 201
    assert replay["Idempotent-Replayed"] == "true"
    again = reviewer.post(path, body, format="json")
    assert again.status_code == 200  # already there: returned unchanged
    assert IncidentAlias.objects.filter(external_id="101").count() == 1
    assert AuditEvent.objects.filter(event_code="incident.alias_added").count() == 1
    # A lab that cannot see the (green) report: 404; one that could see a public report but is not its
    # submitter: 403; an anonymous caller: 401.
    assert_problem(world.clients["lab_b_submitter"].post(path, body, format="json"), 404)
    assert_problem(APIClient().post(path, body, format="json"), 401)
    assert_problem(reviewer.post(path, {"source": "aiid", "external_id": "x"}, format="json"), 400)
    public = world.incidents["clear"].public_id
    assert_problem(world.clients["lab_b_submitter"].post(f"{URL}{public}/aliases", body, format="json"), 403)
    listed = world.clients["lab_a_submitter"].get(path).json()
    assert [(a["source"], a["external_id"]) for a in listed] == [("aiid", "101")]


def test_the_alias_filter_and_search_find_the_report(world):
    public_id = _file(world, aliases=[{"source": "atlas", "external_id": "AML.CS0042"}]).json()["public_id"]
    client = world.clients["regulator"]
    for query in ("atlas:AML.CS0042", "AML.CS0042", "aml.cs0042"):
        found = client.get(URL, {"alias": query}).json()["results"]
        assert [row["public_id"] for row in found] == [public_id], query
    assert client.get(URL, {"alias": "aiid:AML.CS0042"}).json()["results"] == []
    assert client.get(URL, {"alias": "AML.CS0043"}).json()["results"] == []
    searched = client.get(URL, {"search": "AML.CS0042"}).json()["results"]
    assert [row["public_id"] for row in searched] == [public_id]
    # An alias added later is searchable too (the search vector is refreshed).
    services.incident_alias_add(
        actor=principal_for_membership(world.memberships["regulator"]),
        incident=world.incidents["amber"],
        source="avid",
        external_id="AVID-2024-V007",
    )
    searched = client.get(URL, {"search": "AVID-2024-V007"}).json()["results"]
    assert [row["public_id"] for row in searched] == [world.incidents["amber"].public_id]


def test_aliases_are_stix_external_references_and_shown_on_the_page(world):
    public_id = _file(world, aliases=[{"source": "aiid", "external_id": "23"}]).json()["public_id"]
    bundle = world.clients["regulator"].get(f"{URL}{public_id}/stix").json()
    (incident,) = [o for o in bundle["objects"] if o["type"] == "incident"]
    assert {
        "source_name": "AI Incident Database",
        "external_id": "23",
        "url": "https://incidentdatabase.ai/cite/23",
    } in incident["external_references"]
    browser = Client()
    sign_in(browser, world.memberships["regulator"].user)
    page = browser.get(f"/incidents/{public_id}/").content.decode()
    assert "Also recorded as" in page
    assert 'href="https://incidentdatabase.ai/cite/23"' in page
