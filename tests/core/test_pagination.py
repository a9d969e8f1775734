"""Keyset cursor pagination: every row exactly once, in a stable order, without COUNT(*)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import Organization, Role
from registry.models import AgentScaffold
from tests.conftest import client_for_key
from tests.factories import issue_key

SCAFFOLDS = "/api/v1/scaffolds/"


@pytest.fixture
def lab_client(lab_a: Organization) -> APIClient:
    _, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER)
    return client_for_key(plaintext)


@pytest.fixture
def seven(lab_client: APIClient) -> list[str]:
    """Seven scaffolds, created one after the other (distinct modified_at)."""
    ids = []
    for n in range(7):
        response = lab_client.post(SCAFFOLDS, {"name": f"s{n}", "version": "1"}, format="json")
        assert response.status_code == 201, response.content
        ids.append(response.json()["id"])
    return ids


def _walk(client: APIClient, params: dict[str, str]) -> tuple[list[list[str]], list[list[str]]]:
    """Follow `next` from the first page; returns the ids per page and the SQL of every page."""
    pages: list[list[str]] = []
    sql: list[list[str]] = []
    url: str | None = SCAFFOLDS
    query: dict[str, Any] | None = params
    while url is not None:
        with CaptureQueriesContext(connection) as captured:
            response = client.get(url, query)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append([row["id"] for row in body["results"]])
        sql.append([q["sql"] for q in captured.captured_queries])
        url, query = body["next"], None
        assert len(pages) <= 10, "the walk does not end"
    return pages, sql


def _expected(descending: bool) -> list[str]:
    rows = AgentScaffold.objects.values_list("modified_at", "id")
    return [str(pk) for _, pk in sorted(rows, reverse=descending)]


def test_walking_next_links_returns_every_row_once_newest_first(lab_client, seven):
    pages, _ = _walk(lab_client, {"limit": "3"})

    assert [len(page) for page in pages] == [3, 3, 1]
    flat = [pk for page in pages for pk in page]
    assert flat == _expected(descending=True)
    assert flat == list(reversed(seven))


def test_ordering_modified_at_walks_oldest_first(lab_client, seven):
    pages, _ = _walk(lab_client, {"limit": "3", "ordering": "modified_at"})

    flat = [pk for page in pages for pk in page]
    assert flat == _expected(descending=False) == seven


@pytest.mark.parametrize("ordering", ["-modified_at", "modified_at"])
def test_rows_sharing_one_modified_at_are_neither_skipped_nor_repeated(lab_client, seven, ordering):
    AgentScaffold.objects.update(modified_at=timezone.now())

    pages, _ = _walk(lab_client, {"limit": "3", "ordering": ordering})

    flat = [pk for page in pages for pk in page]
    assert sorted(flat) == sorted(seven) and len(set(flat)) == 7
    assert flat == _expected(descending=ordering.startswith("-"))


@pytest.mark.parametrize("ordering", ["-modified_at", "modified_at"])
def test_tie_groups_straddling_page_boundaries_are_walked_exactly_once(lab_client, seven, ordering):
    stamp = timezone.now()
    AgentScaffold.objects.filter(pk__in=seven[:4]).update(modified_at=stamp)
    AgentScaffold.objects.filter(pk__in=seven[4:]).update(modified_at=stamp + timedelta(microseconds=1))

    pages, _ = _walk(lab_client, {"limit": "3", "ordering": ordering})

    flat = [pk for page in pages for pk in page]
    assert len(flat) == 7 and set(flat) == set(seven)
    assert flat == _expected(descending=ordering.startswith("-"))


def test_a_row_changed_during_the_walk_is_not_returned_twice_newest_first(lab_client, seven):
    first = lab_client.get(SCAFFOLDS, {"limit": "3"}).json()
    AgentScaffold.objects.filter(pk=first["results"][0]["id"]).update(modified_at=timezone.now())

    rest, _ = _walk_from(lab_client, first["next"])

    assert not set(rest) & {row["id"] for row in first["results"]}
    assert len(rest) == 4


def _walk_from(client: APIClient, url: str | None) -> tuple[list[str], int]:
    seen: list[str] = []
    pages = 0
    while url is not None and pages < 10:
        body = client.get(url).json()
        seen.extend(row["id"] for row in body["results"])
        url = body["next"]
        pages += 1
    return seen, pages


def test_no_count_query_is_issued_and_each_page_costs_the_same(lab_client, seven):
    pages, sql = _walk(lab_client, {"limit": "3"})

    assert len(pages) == len(sql) == 3
    statements = [statement for page in sql for statement in page]
    assert statements and not any("COUNT(" in statement.upper() for statement in statements)
    assert len({len(page) for page in sql}) == 1, [len(page) for page in sql]


def test_a_page_takes_a_bounded_number_of_queries(lab_client, seven, django_assert_max_num_queries):
    with django_assert_max_num_queries(4):
        response = lab_client.get(SCAFFOLDS, {"limit": "200"})

    assert len(response.json()["results"]) == 7
    assert response.json()["next"] is None


def test_the_next_link_keeps_the_other_query_parameters(lab_client, seven):
    body = lab_client.get(SCAFFOLDS, {"limit": "2", "ordering": "modified_at", "search": "s"}).json()

    query = parse_qs(urlsplit(body["next"]).query)
    assert query["limit"] == ["2"] and query["ordering"] == ["modified_at"] and query["search"] == ["s"]
    assert len(query["cursor"]) == 1


def test_the_last_page_has_no_next_link(lab_client, seven):
    assert lab_client.get(SCAFFOLDS, {"limit": "7"}).json()["next"] is None
    assert lab_client.get(SCAFFOLDS, {"limit": "6"}).json()["next"] is not None


def test_modified_after_with_oldest_first_resumes_an_incremental_sync(lab_client, seven):
    third = AgentScaffold.objects.get(pk=seven[2])

    pages, _ = _walk(
        lab_client, {"limit": "2", "ordering": "modified_at", "modified_after": third.modified_at.isoformat()}
    )

    assert [pk for page in pages for pk in page] == seven[3:]


def test_an_empty_list_has_no_next_link(lab_client):
    assert lab_client.get(SCAFFOLDS, {"limit": "3"}).json() == {"next": None, "results": []}
