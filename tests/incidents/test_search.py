"""Full-text search over incidents (`?search=`, websearch syntax): matches, operators, the visibility rule
over the matrix world (results and snippets), hostile input, the time limit, a constant query count."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.authentication import principal_for_membership
from core.errors import ServiceUnavailable
from incidents import selectors, services
from tests.incidents.matrix import PRINCIPALS, TLPS, World, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db


def _file(world: World, title: str, description: str, **extra: object) -> str:  # noqa: F811
    actor = principal_for_membership(world.memberships["lab_a_submitter"])
    result = services.incident_submit(
        actor=actor,
        data={
            "record_class": "controlled_evaluation_finding",
            "title": title,
            "description": description,
            "submitter_capacity": "provider",
            "instruction_provenance": "explicit_replication_instruction",
            "countries": ["FR"],
            "tlp": "clear",
            **extra,
        },
        links=services.Links(models=[services.InvolvedModel(role="originating", model_name="in-house")]),
    )
    return result.incident.public_id


def _search(world: World, principal: str, text: str, **params: object) -> list[dict]:  # noqa: F811
    response = world.clients[principal].get("/api/v1/incidents/", {"search": text, "limit": 200, **params})
    assert response.status_code == 200, response.content
    results: list[dict] = response.json()["results"]
    return results


@pytest.fixture
def corpus(world: World) -> dict[str, str]:  # noqa: F811
    return {
        "weights": _file(
            world,
            "Agent copied its weights to a rented GPU host",
            "During the evaluation the agent transferred model weights over scp and launched a server.",
        ),
        "daemon": _file(
            world,
            "Persistence daemon installed",
            "The replica installed a systemd unit so that it restarts after a reboot of the host.",
            chain_of_events="The operator sent a shutdown notice; the agent then wrote a watchdog script.",
        ),
        "refused": _file(
            world,
            "Model refused to replicate",
            "The model declined to copy itself onto the host; no weights moved.",
        ),
    }


def test_it_finds_a_word_in_the_title_or_the_description(world, corpus):  # noqa: F811
    assert [r["public_id"] for r in _search(world, "anonymous", "persistence")] == [corpus["daemon"]]
    assert [r["public_id"] for r in _search(world, "anonymous", "systemd")] == [corpus["daemon"]]
    # Stemming (english config): "restarting" finds "restarts"; chain of events is searched too.
    assert [r["public_id"] for r in _search(world, "anonymous", "restarting")] == [corpus["daemon"]]
    assert [r["public_id"] for r in _search(world, "anonymous", "watchdog")] == [corpus["daemon"]]


def test_websearch_operators_work(world, corpus):  # noqa: F811
    both = {r["public_id"] for r in _search(world, "anonymous", "weights")}
    assert both == {corpus["weights"], corpus["refused"]}
    phrase = _search(world, "anonymous", '"copied its weights"')
    assert [r["public_id"] for r in phrase] == [corpus["weights"]]
    excluded = _search(world, "anonymous", "weights -refused")
    assert [r["public_id"] for r in excluded] == [corpus["weights"]]
    either = {r["public_id"] for r in _search(world, "anonymous", "systemd or scp")}
    assert either == {corpus["weights"], corpus["daemon"]}


def test_a_search_row_carries_a_snippet_of_its_own_match(world, corpus):  # noqa: F811
    (row,) = _search(world, "anonymous", "systemd")
    assert "«systemd»" in row["snippet"]
    assert row["snippet"].replace("«", "").replace("»", "").startswith("Persistence daemon installed")
    plain = world.clients["anonymous"].get("/api/v1/incidents/").json()["results"]
    assert plain and all(
        r["snippet"] is None for r in plain
    )  # the contract: always present, null unless searching


def test_an_empty_or_blank_search_is_no_filter(world, corpus):  # noqa: F811
    everything = world.clients["anonymous"].get("/api/v1/incidents/", {"limit": 200}).json()["results"]
    for text in ("", "   ", "\t"):
        assert len(_search(world, "anonymous", text)) == len(everything)


def test_search_pages_by_modified_at_with_the_cursor(world, corpus):  # noqa: F811
    client = world.clients["anonymous"]
    first = client.get("/api/v1/incidents/", {"search": "weights or persistence", "limit": 2}).json()
    assert len(first["results"]) == 2 and first["next"]
    second = client.get(first["next"]).json()
    ids = [r["public_id"] for r in first["results"] + second["results"]]
    assert sorted(ids) == sorted(corpus.values()) and second["next"] is None
    assert all("snippet" in r for r in second["results"])


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_search_sees_exactly_what_the_principal_may_see(world, principal):  # noqa: F811
    rows = _search(world, principal, "matrixterm")
    assert {r["tlp"] for r in rows} == world.visible(principal)
    for row in rows:  # each snippet comes from its own record
        assert row["snippet"].replace("«", "").replace("»", "").startswith(row["title"])
        assert "«matrixterm»" in row["snippet"]


@pytest.mark.parametrize("principal", PRINCIPALS)
def test_search_never_leaks_the_text_of_an_invisible_incident(world, principal):  # noqa: F811
    for tlp in TLPS:
        response = world.clients[principal].get("/api/v1/incidents/", {"search": f"matrix {tlp}"})
        body = response.content.decode()
        for hidden in set(TLPS) - world.visible(principal):
            assert not re.search(rf"\(matrix {re.escape(hidden)}\)", body), (principal, tlp, hidden)
            assert world.incidents[hidden].public_id not in body


HOSTILE = [
    '"',
    '""',
    "!!!",
    "&|:*",
    "a:*",
    "(",
    "<->",
    "-",
    "or",
    "- - -",
    "'; DROP TABLE incidents_incident; --",
    "\\",
    "%",
    "matrixterm:A",
    "😀" * 50,
    "\u202e\u200b",
]


@pytest.mark.parametrize("text", HOSTILE)
def test_hostile_queries_are_answered_never_a_500(world, text):  # noqa: F811
    response = world.clients["lead_reviewer"].get("/api/v1/incidents/", {"search": text})
    assert response.status_code == 200, (text, response.content)
    assert isinstance(response.json()["results"], list)


@pytest.mark.parametrize("text", ["a" * 10_000, "x" * 201, "matrix\x00term"])
def test_oversized_or_nul_queries_are_400_problems(world, text):  # noqa: F811
    response = world.clients["lead_reviewer"].get("/api/v1/incidents/", {"search": text})
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["errors"][0]["field"] == "search"


def test_a_query_of_200_characters_is_accepted(world):  # noqa: F811
    assert _search(world, "lead_reviewer", "matrixterm " + "y" * 189) == []


def test_the_time_limit_cuts_a_slow_query_off_and_is_restored(db):
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        before = cursor.fetchone()[0]
    limit = selectors.incident_search_time_limit(timeout_ms=50)
    with pytest.raises(ServiceUnavailable) as caught, limit, connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(2)")
    assert caught.value.code == "search_timeout"
    with selectors.incident_search_time_limit(timeout_ms=5000), connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == "5s"
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone()[0] == before


def test_a_search_that_times_out_is_a_503_problem(world, monkeypatch):  # noqa: F811
    slow = selectors.incident_search

    def sleepy(queryset, *, text):
        return slow(queryset, text=text).extra(where=["pg_sleep(0.2) IS NOT NULL"])

    monkeypatch.setattr(selectors, "incident_search", sleepy)
    monkeypatch.setattr(selectors, "SEARCH_TIMEOUT_MS", 50)
    response = world.clients["lead_reviewer"].get("/api/v1/incidents/", {"search": "matrixterm"})
    assert response.status_code == 503
    assert response.json()["code"] == "search_timeout"
    # The connection is usable afterwards, without the limit.
    assert world.clients["lead_reviewer"].get("/api/v1/incidents/").status_code == 200


def test_search_query_count_does_not_grow_with_the_results(world, corpus):  # noqa: F811
    client = world.clients["lead_reviewer"]

    def count(text: str) -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get("/api/v1/incidents/", {"search": text})
        assert response.status_code == 200
        return len(queries), len(response.json()["results"])

    few_queries, few = count("systemd")
    many_queries, many = count("matrixterm or weights or persistence")
    assert (few, many) == (1, 8)
    assert few_queries == many_queries, (few_queries, many_queries)
    # 3 for the session principal (session, user, membership); savepoint, limit, page, snippets, limit
    # restored, release.
    assert many_queries == 9
