"""Issue 7: the triage list costs a constant, small number of queries, whatever the page (the benchmark
suite, benchmarks/, measures the same on a 100k-incident clone; this is the CI-speed guard)."""

from __future__ import annotations

import copy

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from api_docs import examples
from tests.factories import FrontierModelFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

URL = "/api/v1/incidents/"
MAX_QUERIES = 3
# A search runs under a statement time limit (incidents.selectors.incident_search_time_limit): the savepoint
# and the set_config calls around it are bookkeeping, not reads, and are not counted.
BOOKKEEPING = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


def _reads(captured):
    return [
        q["sql"] for q in captured if not q["sql"].startswith(BOOKKEEPING) and "set_config(" not in q["sql"]
    ]


@pytest.fixture
def reviewer_client(make_key_client):
    body = OrganizationFactory(
        short_name="coord", kind="coordination_body", country="CH", jurisdictions=["EU", "US"]
    )
    return make_key_client(body, role=Role.REVIEWER)


@pytest.fixture
def reports(lab_a, client_a):
    model = FrontierModelFactory(provider=lab_a, tlp="clear")
    for number, tlp in enumerate(["clear", "green", "amber", "amber+strict", "red", "amber", "clear"]):
        body = copy.deepcopy(examples.INCIDENT_CREATE)
        body.update(models=[{"model": model.public_id, "role": "originating"}], tlp=tlp, countries=["US"])
        body["external_id"] = f"BENCH-{number}"
        response = client_a.post(URL, body, format="json")
        assert response.status_code == 201, response.content


def _pages(client, url, pages):
    counts, seen = [], []
    for _ in range(pages):
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        counts.append(len(_reads(queries.captured_queries)))
        seen += [row["public_id"] for row in body["results"]]
        if not body["next"]:
            break
        url = body["next"]
    return counts, seen


@pytest.mark.usefixtures("reports")
@pytest.mark.parametrize("query", ["", "&search=replica", "&status=submitted"])
def test_every_list_page_costs_the_same_few_queries(reviewer_client, query):
    assert reviewer_client.get(URL).status_code == 200  # the key's last_used_at stamp: once a minute
    counts, seen = _pages(reviewer_client, f"{URL}?limit=2{query}", pages=5)
    assert len(counts) >= 2, "the list must span several pages for the comparison to mean anything"
    assert len(set(counts)) == 1, f"queries per page vary: {counts}"
    assert counts[0] <= MAX_QUERIES, f"{counts[0]} queries per list page (at most {MAX_QUERIES})"
    assert len(seen) == len(set(seen)), "a row appeared on two pages"


@pytest.mark.usefixtures("reports")
def test_the_list_query_count_does_not_grow_with_the_page_size(reviewer_client):
    reviewer_client.get(URL)
    small, _ = _pages(reviewer_client, f"{URL}?limit=1", pages=1)
    large, seen = _pages(reviewer_client, f"{URL}?limit=50", pages=1)
    assert len(seen) == 6  # every report but the TLP:RED one the reviewer is not named on
    assert small == large
