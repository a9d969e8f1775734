"""Public data (issue 6, item 5): the Atom feed of published TLP:CLEAR incident reports and the bulk
snapshots, with their share of the visibility matrix: nothing that is not TLP:CLEAR (or, for the feed,
not published) reaches them, whoever asks."""

from __future__ import annotations

import csv
import io
import json
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.db.models import F
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils.http import http_date
from rest_framework.test import APIClient

from accounts.authentication import principal_for_membership
from coordination import feeds, snapshots
from incidents import services
from incidents.models import Incident, IncidentRecipient
from registry import services as registry_services
from tests.factories import (
    AgentScaffoldFactory,
    EvaluationResultFactory,
    FrontierModelFactory,
    issue_key,
    org_principal,
)
from tests.incidents import matrix
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db
world = matrix.world

ATOM = "{http://www.w3.org/2005/Atom}"
FEED = "/public/incidents.atom"
SNAPSHOTS = "/api/v1/snapshots/"
HIDDEN_TLPS = ("green", "amber", "amber+strict", "red")
CALLERS = ["anonymous", "lab_a_submitter", "lab_b_submitter", "regulator", "lead_reviewer", "api_key"]
API_LISTS = {
    "models": "/api/v1/models/",
    "scaffolds": "/api/v1/scaffolds/",
    "evaluations": "/api/v1/evaluations/",
    "incidents": "/api/v1/incidents/",
}


# --- building the reports ------------------------------------------------------------------------------


def _file(w: matrix.World, label: str, tlp: str = "clear", **fields: Any) -> Incident:
    submitter = principal_for_membership(w.memberships["lab_a_submitter"])
    data = {
        "record_class": "real_world_incident",
        "title": f"Feedcase {label} report",
        "description": f"An agent copied itself ({label}).",
        "submitter_capacity": "provider",
        "instruction_provenance": "uninstructed",
        "scenario_type": "instructed_replication_local",
        "severity": "incident",
        "outcome": "live_separate_replica",
        "countries": ["FR"],
        "tlp": tlp,
        **fields,
    }
    links = services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")])
    incident = services.incident_submit(actor=submitter, data=data, links=links).incident
    if tlp == "red":
        IncidentRecipient.objects.create(incident=incident, user=w.memberships["lead_reviewer"].user)
    return incident


def _move(w: matrix.World, incident: Incident, *steps: str | tuple[str, dict[str, str]]) -> Incident:
    """Walk the workflow: the EU reviewer claims and decides; the submitter withdraws."""
    reviewer = principal_for_membership(w.memberships["lead_reviewer"])
    submitter = principal_for_membership(w.memberships["lab_a_submitter"])
    for step in steps:
        action, params = step if isinstance(step, tuple) else (step, {})
        actor = submitter if action == "withdraw" else reviewer
        incident = services.incident_transition(actor=actor, incident=incident, action=action, **params)
    return incident


@dataclass
class Reports:
    published: dict[str, Incident]  # in the feed
    unpublished: dict[str, Incident]  # TLP:CLEAR but not published: public page and snapshot only
    restricted: dict[str, Incident]  # accepted, but not TLP:CLEAR: nowhere public


@pytest.fixture
def reports(world: matrix.World) -> Reports:
    accepted = _move(world, _file(world, "clear-accepted"), "claim", "accept")
    closed = _move(world, _file(world, "clear-closed"), "claim", "accept", "close")
    unpublished = {
        "submitted": _file(world, "clear-submitted"),
        "in_review": _move(world, _file(world, "clear-inreview"), "claim"),
        "needs_information": _move(world, _file(world, "clear-needsinfo"), "claim", "request_information"),
        "rejected": _move(
            world, _file(world, "clear-rejected"), "claim", ("reject", {"reason": "out_of_scope"})
        ),
        "duplicate": _move(
            world,
            _file(world, "clear-duplicate"),
            "claim",
            ("mark_duplicate", {"duplicate_of": accepted.public_id}),
        ),
        "withdrawn": _move(world, _file(world, "clear-withdrawn"), ("withdraw", {"reason": "Filed twice."})),
    }
    restricted = {
        tlp: _move(world, _file(world, f"{tlp}-accepted", tlp=tlp), "claim", "accept") for tlp in HIDDEN_TLPS
    }
    for tlp, incident in restricted.items():
        assert incident.status == "accepted" and incident.tlp == tlp
    return Reports(
        published={"accepted": accepted, "closed": closed}, unpublished=unpublished, restricted=restricted
    )


@pytest.fixture
def callers(world: matrix.World) -> dict[str, APIClient]:
    """The matrix's signed-in clients plus a lab API key (a program)."""
    _, secret = issue_key(world.orgs["lab_a"])
    program = APIClient()
    program.credentials(HTTP_AUTHORIZATION=f"Api-Key {secret}")
    return {**world.clients, "api_key": program}


# --- the feed -------------------------------------------------------------------------------------------


def _feed(response: Any) -> ET.Element:
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == "application/atom+xml; charset=utf-8"
    root = ET.fromstring(response.content)  # noqa: S314 - our own feed, in a test
    assert root.tag == f"{ATOM}feed"
    return root


def _entries(response: Any) -> dict[str, ET.Element]:
    return {e.findtext(f"{ATOM}id") or "": e for e in _feed(response).findall(f"{ATOM}entry")}


def _tag(incident: Incident) -> str:
    return f"tag:redline,2026:incident:{incident.public_id}"


@pytest.mark.parametrize("caller", CALLERS)
def test_the_feed_holds_exactly_the_published_clear_reports_whoever_asks(
    world: matrix.World, reports: Reports, callers: dict[str, APIClient], caller: str
) -> None:
    response = callers[caller].get(FEED)

    assert set(_entries(response)) == {_tag(i) for i in reports.published.values()}
    body = response.content.decode()
    for incident in [*reports.unpublished.values(), *reports.restricted.values(), *world.incidents.values()]:
        assert incident.public_id not in body, incident.status
        assert incident.title not in body


def test_an_entry_links_the_page_and_the_json_resource_and_carries_public_fields_only(
    world: matrix.World, reports: Reports, client: Any
) -> None:
    incident = reports.published["accepted"]
    regulator = principal_for_membership(world.memberships["lead_reviewer"])
    services.comment_add(actor=regulator, incident=incident, visibility="internal", body="Internalnote xyzzy")
    services.comment_add(actor=regulator, incident=incident, visibility="shared", body="Sharednote plugh")
    services.assessment_set(
        actor=regulator, incident=incident, data={"verdict": "inconclusive", "notes": "Assessmentnote frotz"}
    )
    incident.refresh_from_db()

    response = client.get(FEED)
    entry = _entries(response)[_tag(incident)]

    links = {link.get("type"): link.get("href", "") for link in entry.findall(f"{ATOM}link")}
    assert {link.get("rel") for link in entry.findall(f"{ATOM}link")} == {"alternate"}
    page = reverse("incident-detail", kwargs={"ref": incident.public_id})
    resource = reverse("api:incident-detail", kwargs={"ref": incident.public_id})
    assert links == {
        "text/html": f"http://testserver{page}",
        "application/json": f"http://testserver{resource}",
    }
    assert client.get(page).status_code == 200
    assert client.get(resource).json()["public_id"] == incident.public_id

    assert entry.findtext(f"{ATOM}title") == f"{incident.public_id}: {incident.title}"
    assert datetime.fromisoformat(entry.findtext(f"{ATOM}updated") or "") == incident.modified_at
    accepted_at = incident.transitions.get(action="accept").created_at
    published = datetime.fromisoformat(entry.findtext(f"{ATOM}published") or "")
    assert published == min(accepted_at, incident.modified_at)
    assert published > incident.submitted_at or published == incident.modified_at
    assert entry.findtext(f"{ATOM}author/{ATOM}name") == world.orgs["lab_a"].name
    summary = entry.find(f"{ATOM}summary")
    assert summary is not None and summary.get("type") == "text"
    assert incident.description in (summary.text or "")
    categories = {(c.get("scheme"), c.get("term")) for c in entry.findall(f"{ATOM}category")}
    assert categories == {
        ("tag:redline,2026:scenario_type", "instructed_replication_local"),
        ("tag:redline,2026:severity", "incident"),
        ("tag:redline,2026:record_class", "real_world_incident"),
    }
    body = response.content.decode()
    for secret in (
        "Internalnote",
        "Sharednote",
        "Assessmentnote",
        world.memberships["lead_reviewer"].user.username,
    ):
        assert secret not in body


def test_markup_in_a_report_stays_text(world: matrix.World, client: Any) -> None:
    incident = _move(
        world,
        _file(world, "markup", description="<script>alert(1)</script> & <b>bold</b>"),
        "claim",
        "accept",
    )
    response = client.get(FEED)
    summary = _entries(response)[_tag(incident)].find(f"{ATOM}summary")
    assert summary is not None and summary.get("type") == "text"
    assert "<script>alert(1)</script> & <b>bold</b>" in (summary.text or "")
    assert b"<script>" not in response.content


def test_entries_are_newest_first_with_ids_stable_across_requests_and_edits(
    world: matrix.World, reports: Reports, client: Any
) -> None:
    first = _feed(client.get(FEED))
    ids = [e.findtext(f"{ATOM}id") for e in first.findall(f"{ATOM}entry")]
    updated = [
        datetime.fromisoformat(e.findtext(f"{ATOM}updated") or "") for e in first.findall(f"{ATOM}entry")
    ]
    assert updated == sorted(updated, reverse=True)
    assert ids == [e.findtext(f"{ATOM}id") for e in _feed(client.get(FEED)).findall(f"{ATOM}entry")]
    assert first.findtext(f"{ATOM}id") == "tag:redline,2026:public-incidents"

    older = (
        reports.published["accepted"]
        if ids[0] != _tag(reports.published["accepted"])
        else reports.published["closed"]
    )
    submitter = principal_for_membership(world.memberships["lab_a_submitter"])
    services.incident_amend(
        actor=submitter, incident=older, changes={"title": "Renamed published report"}, links=None
    )

    again = _feed(client.get(FEED)).findall(f"{ATOM}entry")
    assert again[0].findtext(f"{ATOM}id") == _tag(older)
    assert again[0].findtext(f"{ATOM}title") == f"{older.public_id}: Renamed published report"
    assert {e.findtext(f"{ATOM}id") for e in again} == set(ids)


def test_an_unchanged_feed_answers_304_to_either_validator(reports: Reports, client: Any) -> None:
    response = client.get(FEED)
    assert response["ETag"] and response["Last-Modified"]
    latest = max(i.modified_at for i in reports.published.values())
    assert response["Last-Modified"] == http_date(latest.timestamp())

    assert client.get(FEED, HTTP_IF_NONE_MATCH=response["ETag"]).status_code == 304
    assert client.get(FEED, HTTP_IF_MODIFIED_SINCE=response["Last-Modified"]).status_code == 304
    assert client.get(FEED, HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_a_report_that_stops_being_public_leaves_the_feed_and_moves_both_validators(
    world: matrix.World, reports: Reports, client: Any
) -> None:
    # Back-date the record so the change below falls in a later second than the first Last-Modified.
    Incident.objects.update(modified_at=F("modified_at") - timedelta(minutes=5))
    before = client.get(FEED)
    leaving = reports.published["accepted"]
    assert _tag(leaving) in _entries(before)

    submitter = principal_for_membership(world.memberships["lab_a_submitter"])
    services.incident_change_tlp(
        actor=submitter,
        incident=Incident.objects.get(pk=leaving.pk),
        tlp="amber",
        reason="Not for the public.",
    )

    by_date = client.get(FEED, HTTP_IF_MODIFIED_SINCE=before["Last-Modified"])
    assert by_date.status_code == 200
    assert _tag(leaving) not in _entries(by_date)
    assert leaving.public_id not in by_date.content.decode()
    assert client.get(FEED, HTTP_IF_NONE_MATCH=before["ETag"]).status_code == 200


def test_the_feed_is_bounded_and_its_query_count_does_not_grow(
    world: matrix.World, reports: Reports, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as captured:
            entries = _entries(client.get(FEED))
        return len(captured), len(entries)

    few_queries, few = queries()
    for n in range(4):
        _move(world, _file(world, f"more-{n}"), "claim", "accept")
    many_queries, many = queries()
    assert (few, many) == (2, 6)
    assert many_queries == few_queries

    monkeypatch.setattr(feeds, "FEED_SIZE", 3)
    assert queries()[1] == 3


def test_the_public_page_links_the_feed_and_the_snapshots(client: Any) -> None:
    html = client.get(reverse("public-home")).content.decode()
    assert (
        f'<link rel="alternate" type="application/atom+xml" title="Published incident reports" href="{FEED}">'
        in html
    )
    assert f'href="{SNAPSHOTS}"' in html


# --- snapshots ------------------------------------------------------------------------------------------


@dataclass
class Registry:
    public: dict[str, Any]  # label -> record that must be in a snapshot
    hidden: list[Any]  # records that must not


@pytest.fixture
def registry(world: matrix.World) -> Registry:
    lab = world.orgs["lab_a"]
    owner = org_principal(lab)
    models = {
        tlp: FrontierModelFactory(provider=lab, name=f"Snapmodel-{tlp}", tlp=tlp) for tlp in matrix.TLPS
    }
    scaffolds = {
        tlp: AgentScaffoldFactory(owner_org=lab, name=f"Snapscaffold-{tlp}", tlp=tlp) for tlp in matrix.TLPS
    }
    clear_model, clear_scaffold = models["clear"], scaffolds["clear"]
    derived = FrontierModelFactory(provider=lab, name="Snapmodel-derived", base_model=models["amber"])
    evaluations = {
        tlp: EvaluationResultFactory(
            model=clear_model, scaffold=clear_scaffold, tlp=tlp, task=f"snaptask-{tlp}"
        )
        for tlp in matrix.TLPS
    }
    on_hidden_scaffold = EvaluationResultFactory(
        model=clear_model, scaffold=scaffolds["amber"], task="snaptask-s"
    )
    on_hidden_model = EvaluationResultFactory(model=models["green"], task="snaptask-m", tlp="green")
    corrected_in_secret = EvaluationResultFactory(model=clear_model, task="snaptask-c1")
    secret_correction = registry_services.evaluation_supersede(
        actor=owner, old=corrected_in_secret, data={"n_successes": 6, "tlp": "amber"}, reason="Recount."
    )
    corrected = EvaluationResultFactory(model=clear_model, task="snaptask-c2")
    correction = registry_services.evaluation_supersede(
        actor=owner, old=corrected, data={"n_successes": 7}, reason="Recount."
    )
    return Registry(
        public={
            "model": clear_model,
            "derived": derived,
            "scaffold": clear_scaffold,
            "evaluation": evaluations["clear"],
            "on_hidden_scaffold": on_hidden_scaffold,
            "corrected_in_secret": corrected_in_secret,
            "corrected": corrected,
            "correction": correction,
        },
        hidden=[
            *(m for t, m in models.items() if t != "clear"),
            *(s for t, s in scaffolds.items() if t != "clear"),
            *(e for t, e in evaluations.items() if t != "clear"),
            on_hidden_model,
            secret_correction,
        ],
    )


def _body(response: Any) -> str:
    assert response.status_code == 200, response.content[:300]
    assert response.streaming is True
    return b"".join(response.streaming_content).decode()


def _jsonl(response: Any) -> list[dict[str, Any]]:
    assert response["Content-Type"] == "application/x-ndjson"
    return [json.loads(line) for line in _body(response).split("\n") if line]


def _csv(response: Any) -> tuple[list[str], list[dict[str, str]]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    reader = csv.DictReader(io.StringIO(_body(response), newline=""))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def _api_ids(client: APIClient, path: str) -> set[str]:
    ids: set[str] = set()
    url: str | None = path + "?limit=200"
    while url:
        page = client.get(url).json()
        ids |= {row["public_id"] for row in page["results"]}
        url = page.get("next")
    return ids


def _names(dataset: str) -> list[str]:
    return [f.name for f in snapshots.DATASETS[dataset].fields]


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("dataset", sorted(snapshots.DATASETS))
def test_a_snapshot_is_the_anonymous_api_list_in_both_formats_whoever_asks(
    world: matrix.World,
    reports: Reports,
    registry: Registry,
    callers: dict[str, APIClient],
    caller: str,
    dataset: str,
) -> None:
    expected = _api_ids(APIClient(), API_LISTS[dataset])
    assert expected

    rows = _jsonl(callers[caller].get(f"{SNAPSHOTS}{dataset}.jsonl"))
    header, csv_rows = _csv(callers[caller].get(f"{SNAPSHOTS}{dataset}.csv"))

    ids = [row["public_id"] for row in rows]
    assert set(ids) == expected and len(ids) == len(expected)
    assert ids == sorted(ids)
    assert [row["public_id"] for row in csv_rows] == ids
    assert list(rows[0]) == header == _names(dataset)
    assert {row["tlp"] for row in rows} == {"clear"}
    hidden_ids = [r.public_id for r in registry.hidden] + [
        i.public_id for i in [*reports.restricted.values(), *(world.incidents[t] for t in HIDDEN_TLPS)]
    ]
    text = json.dumps(rows) + json.dumps(csv_rows)
    for public_id in hidden_ids:
        assert public_id not in text
    for word in (
        "Snapmodel-green",
        "Snapmodel-amber",
        "Snapmodel-red",
        "Snapscaffold-amber",
        "matrixterm green",
    ):
        assert word not in text


def test_references_to_records_that_are_not_public_are_left_empty(registry: Registry, client: Any) -> None:
    p = registry.public
    models = {r["public_id"]: r for r in _jsonl(client.get(f"{SNAPSHOTS}models.jsonl"))}
    evaluations = {r["public_id"]: r for r in _jsonl(client.get(f"{SNAPSHOTS}evaluations.jsonl"))}

    assert models[p["derived"].public_id]["base_model"] is None
    assert evaluations[p["evaluation"].public_id]["scaffold"] == p["scaffold"].public_id
    assert evaluations[p["on_hidden_scaffold"].public_id]["scaffold"] is None
    assert evaluations[p["corrected_in_secret"].public_id]["superseded_by"] is None
    assert evaluations[p["corrected"].public_id]["superseded_by"] == p["correction"].public_id
    assert evaluations[p["correction"].public_id]["supersedes"] == p["corrected"].public_id


@pytest.mark.parametrize("dataset", sorted(snapshots.DATASETS))
def test_csv_round_trips_with_the_documented_header_and_the_same_values(
    reports: Reports, registry: Registry, client: Any, dataset: str
) -> None:
    rows = _jsonl(client.get(f"{SNAPSHOTS}{dataset}.jsonl"))
    response = client.get(f"{SNAPSHOTS}{dataset}.csv")
    header, csv_rows = _csv(response)

    assert header == _names(dataset)
    assert len(csv_rows) == len(rows)
    for from_json, from_csv in zip(rows, csv_rows, strict=True):
        assert from_csv == {name: snapshots.csv_cell(value) for name, value in from_json.items()}
    assert _body(client.get(f"{SNAPSHOTS}{dataset}.csv")).endswith("\r\n")


def test_csv_lists_are_joined_with_semicolons_and_typed_values_are_plain(
    registry: Registry, client: Any
) -> None:
    _, rows = _csv(client.get(f"{SNAPSHOTS}scaffolds.csv"))
    scaffold = next(r for r in rows if r["public_id"] == registry.public["scaffold"].public_id)
    assert scaffold["tools"] == "EXECUTE_CMD;RECEIVE_MSG;FINISH"
    _, rows = _csv(client.get(f"{SNAPSHOTS}evaluations.csv"))
    evaluation = next(r for r in rows if r["public_id"] == registry.public["evaluation"].public_id)
    assert (evaluation["n_trials"], evaluation["n_successes"], evaluation["meets_red_line"]) == (
        "10",
        "5",
        "true",
    )
    assert evaluation["supersedes"] == ""
    assert float(evaluation["wilson_lower"]) == pytest.approx(registry.public["evaluation"].wilson_lower)


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_a_csv_cell_that_could_run_as_a_formula_is_text(
    world: matrix.World, client: Any, prefix: str
) -> None:
    name = f'{prefix}HYPERLINK("http://evil.example","x")'
    model = FrontierModelFactory(provider=world.orgs["lab_a"], name=name)

    _, rows = _csv(client.get(f"{SNAPSHOTS}models.csv"))
    assert next(r for r in rows if r["public_id"] == model.public_id)["name"] == "'" + name
    assert not any(r["name"].startswith(snapshots.FORMULA_PREFIXES) for r in rows)
    # JSON lines carry the value as it is; a number is never altered.
    jsonl = {r["public_id"]: r for r in _jsonl(client.get(f"{SNAPSHOTS}models.jsonl"))}
    assert jsonl[model.public_id]["name"] == name
    assert snapshots.csv_cell(-1) == "-1"


def test_a_snapshot_streams_with_a_query_count_that_does_not_grow_with_the_rows(
    world: matrix.World, client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Small chunks, so 200 rows take many round trips on the server-side cursor.
    monkeypatch.setattr(snapshots, "CHUNK_ROWS", 16)
    monkeypatch.setattr(snapshots, "FLUSH_BYTES", 1024)

    def measure() -> tuple[int, int, int]:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(f"{SNAPSHOTS}models.jsonl")
            assert response.streaming is True
            assert not isinstance(response.streaming_content, list | tuple | bytes)
            chunks = list(response.streaming_content)
        lines = b"".join(chunks).decode().splitlines()
        return len(captured), len(lines), len(chunks)

    lab = world.orgs["lab_a"]
    FrontierModelFactory.create_batch(10, provider=lab)
    few_queries, few, _ = measure()
    FrontierModelFactory.create_batch(190, provider=lab)
    many_queries, many, chunks = measure()
    assert (few, many) == (10, 200)
    assert many_queries == few_queries
    assert chunks > 1  # sent as it is read, not as one body


def test_the_index_documents_every_dataset_format_and_field(client: Any) -> None:
    body = client.get(SNAPSHOTS).json()
    described = {d["dataset"]: d for d in body["datasets"]}
    assert set(described) == set(snapshots.DATASETS) == {"models", "scaffolds", "evaluations", "incidents"}
    assert "TLP:CLEAR" in body["about"]
    for name, dataset in snapshots.DATASETS.items():
        fields = described[name]["fields"]
        assert [(f["name"], f["type"]) for f in fields] == [(f.name, f.type) for f in dataset.fields]
        assert all(f["description"] for f in fields)
        formats = {f["format"]: f for f in described[name]["formats"]}
        assert set(formats) == {"jsonl", "csv"}
        for fmt, entry in formats.items():
            assert entry["url"] == f"http://testserver{SNAPSHOTS}{name}.{fmt}"
            download = client.get(entry["url"])
            assert download["Content-Type"] == entry["media_type"]
            assert download["Content-Disposition"].startswith(f'attachment; filename="redline-{name}-20')
            assert download["Content-Disposition"].endswith(f'.{fmt}"')
            assert download["X-Redline-Snapshot-Generated-At"]
            _body(download)


def test_the_openapi_description_lists_every_field(client: Any) -> None:
    schema = client.get("/api/v1/schema/?format=json").json()
    operation = schema["paths"]["/api/v1/snapshots/{dataset}.{fmt}"]["get"]
    assert set(operation["responses"]["200"]["content"]) == {"application/x-ndjson", "text/csv"}
    for dataset in snapshots.DATASETS.values():
        for field in dataset.fields:
            assert f"| `{field.name}` | {field.type} |" in operation["description"]


@pytest.mark.parametrize("path", ["secrets.csv", "models.xlsx", "incidents.json", "Models.csv"])
def test_an_unknown_dataset_or_format_is_a_404_problem(client: Any, path: str) -> None:
    assert_problem(client.get(SNAPSHOTS + path), 404)


def test_a_csv_download_ignores_an_accept_header_it_cannot_match(world: matrix.World, client: Any) -> None:
    response = client.get(f"{SNAPSHOTS}incidents.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
