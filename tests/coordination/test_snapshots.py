"""Bulk snapshots: TLP:CLEAR records only whoever asks, the same set as the anonymous API lists, both
formats from one field list, streamed with a query count that does not grow with the rows, CSV formula
guard, 404 problems for unknown datasets and formats."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from coordination import snapshots
from tests.factories import EvaluationResultFactory, FrontierModelFactory
from tests.incidents import matrix
from tests.problems import assert_problem

pytestmark = pytest.mark.django_db
world = matrix.world
BASE = "/api/v1/snapshots/"
LISTS = {
    "models": "/api/v1/models/",
    "evaluations": "/api/v1/evaluations/",
    "incidents": "/api/v1/incidents/",
}


def _body(response) -> str:
    assert response.status_code == 200, response.content[:300]
    assert response.streaming
    return b"".join(response.streaming_content).decode()


def _jsonl(response) -> list[dict]:
    return [json.loads(line) for line in _body(response).splitlines()]


def _anonymous_ids(client, path: str) -> set[str]:
    ids: set[str] = set()
    url: str | None = path + "?limit=200"
    while url:
        page = client.get(url).json()
        ids |= {row["public_id"] for row in page["results"]}
        url = page.get("next")
    return ids


@pytest.fixture
def registry(world, lab_a):
    clear = FrontierModelFactory(provider=lab_a, name="Snap-Clear")
    hidden = FrontierModelFactory(provider=lab_a, name="Snap-Amber", tlp="amber")
    EvaluationResultFactory(model=clear, n_trials=10, n_successes=9)
    EvaluationResultFactory(model=clear, n_trials=10, n_successes=1, tlp="green")
    EvaluationResultFactory(model=hidden, n_trials=10, n_successes=5, tlp="amber")
    return clear, hidden


@pytest.mark.parametrize("principal", ["anonymous", "lab_a_submitter", "regulator", "lead_reviewer"])
@pytest.mark.parametrize("dataset", sorted(snapshots.DATASETS))
def test_a_snapshot_is_the_public_record_whoever_asks(world, registry, client, principal, dataset):
    rows = _jsonl(world.clients[principal].get(f"{BASE}{dataset}.jsonl"))

    assert {row["public_id"] for row in rows} == _anonymous_ids(client, LISTS[dataset])
    assert rows and [r["public_id"] for r in rows] == sorted(r["public_id"] for r in rows)
    assert list(rows[0]) == [f.name for f in snapshots.DATASETS[dataset].fields]
    text = json.dumps(rows)
    assert "Snap-Amber" not in text
    for tlp in ("green", "amber", "amber+strict", "red"):
        assert world.incidents[tlp].public_id not in text


@pytest.mark.parametrize("dataset", sorted(snapshots.DATASETS))
def test_csv_and_jsonl_carry_the_same_rows_under_the_documented_header(world, registry, client, dataset):
    response = client.get(f"{BASE}{dataset}.csv")
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert f"redline-{dataset}-" in response["Content-Disposition"]
    reader = csv.DictReader(io.StringIO(_body(response)))
    assert reader.fieldnames == [f.name for f in snapshots.DATASETS[dataset].fields]
    from_csv = [row["public_id"] for row in reader]
    assert from_csv == [row["public_id"] for row in _jsonl(client.get(f"{BASE}{dataset}.jsonl"))]


def test_a_cell_that_looks_like_a_formula_is_text(world, lab_a, client):
    FrontierModelFactory(provider=lab_a, name='=HYPERLINK("http://evil")')
    rows = list(csv.DictReader(io.StringIO(_body(client.get(f"{BASE}models.csv")))))
    names = {row["name"] for row in rows}
    assert '\'=HYPERLINK("http://evil")' in names
    assert not any(name.startswith(("=", "+", "@")) for name in names)
    assert snapshots.csv_cell("-1") == "'-1"
    assert (snapshots.csv_cell(3), snapshots.csv_cell(None), snapshots.csv_cell(True)) == ("3", "", "true")


def test_the_query_count_does_not_grow_with_the_rows(world, lab_a, client):
    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            lines = _body(client.get(f"{BASE}models.jsonl")).splitlines()
        return len(queries), len(lines)

    FrontierModelFactory.create_batch(3, provider=lab_a)
    few_queries, few = count()
    FrontierModelFactory.create_batch(30, provider=lab_a)
    many_queries, many = count()
    assert many == few + 30
    assert many_queries == few_queries


def test_the_index_documents_every_dataset_and_field(client):
    body = client.get(BASE).json()
    described = {d["dataset"]: d for d in body["datasets"]}
    assert set(described) == set(snapshots.DATASETS)
    for name, dataset in snapshots.DATASETS.items():
        assert [f["name"] for f in described[name]["fields"]] == [f.name for f in dataset.fields]
        assert all(f["description"] for f in described[name]["fields"])
        assert described[name]["formats"]["csv"].endswith(f"{BASE}{name}.csv")


@pytest.mark.parametrize("path", ["secrets.csv", "models.xlsx", "incidents.json"])
def test_an_unknown_dataset_or_format_is_a_404_problem(client, path):
    assert_problem(client.get(BASE + path), 404, "not_found")


def test_a_csv_download_ignores_an_accept_header_it_cannot_match(world, client):
    response = client.get(f"{BASE}incidents.csv", HTTP_ACCEPT="text/csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
