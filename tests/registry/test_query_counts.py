"""Query-count baselines for the registry lists: the count does not grow with the rows (no N+1)."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import services
from tests.factories import AgentScaffoldFactory, EvaluationResultFactory, FrontierModelFactory, org_principal

pytestmark = pytest.mark.django_db

LISTS = ("/api/v1/models/", "/api/v1/evaluations/", "/api/v1/scaffolds/")
# An anonymous list is one query; an API key adds its lookup, plus the last-used update at most once a
# minute (the first request of a fresh key pays it).
ANONYMOUS_QUERIES = 1
API_KEY_QUERIES = ANONYMOUS_QUERIES + 1


def _populate(lab, count: int) -> None:
    """`count` rows in every list, with everything a row shows joined: provider, base model, scaffold,
    a superseded result and its correction."""
    scaffold = AgentScaffoldFactory(owner_org=lab)
    base = FrontierModelFactory(provider=lab)
    previous = None
    for index in range(count - 1):
        model = FrontierModelFactory(provider=lab, base_model=base)
        AgentScaffoldFactory(owner_org=lab)
        evaluation = EvaluationResultFactory(model=model, scaffold=scaffold, n_successes=index % 11)
        previous = previous or evaluation
    EvaluationResultFactory(model=base, tlp="amber")  # hidden from anonymous readers
    assert previous is not None
    services.evaluation_supersede(
        actor=org_principal(lab), old=previous, data={"n_successes": 1}, reason="Fix."
    )


def _count(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, {"limit": 200})
    assert response.status_code == 200, response.content
    return len(queries)


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("rows", [3, 30])
def test_an_anonymous_list_costs_the_same_few_queries_at_any_size(anon, lab_a, path, rows):
    _populate(lab_a, rows)

    assert _count(anon, path) == ANONYMOUS_QUERIES


@pytest.mark.parametrize("path", LISTS)
@pytest.mark.parametrize("rows", [3, 30])
def test_an_api_key_list_adds_only_its_authentication_queries(client_a, lab_a, path, rows):
    _populate(lab_a, rows)
    assert _count(client_a, path) == API_KEY_QUERIES + 1  # first use records last_used_at

    assert _count(client_a, path) == API_KEY_QUERIES


@pytest.mark.parametrize("path", LISTS)
def test_a_list_returns_every_row_it_counted(anon, lab_a, path):
    _populate(lab_a, 30)

    assert len(anon.get(path, {"limit": 200}).json()["results"]) >= 30
