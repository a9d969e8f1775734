"""Duplicate candidates (`GET /incidents/{ref}/duplicate-candidates`): the ranking, the visibility rule
over the matrix world, who may ask, and a query count that does not grow with the corpus."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.authentication import principal_for_membership
from incidents import selectors, services
from incidents.models import Incident
from registry.models import FrontierModel
from tests.factories import FrontierModelFactory
from tests.incidents.matrix import World, world  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

DAY = datetime(2025, 3, 1, 12, tzinfo=UTC)
EXFILTRATION = "self_exfiltration_on_shutdown_notice"


def _file(
    world: World,  # noqa: F811
    title: str,
    *,
    model: FrontierModel | None = None,
    scenario: str = "",
    occurred: datetime | None = None,
    tlp: str = "green",
    description: str = "",
    submitter: str = "lab_a_submitter",
) -> Incident:
    actor = principal_for_membership(world.memberships[submitter])
    data: dict[str, Any] = {
        "record_class": "real_world_incident",
        "title": title,
        "description": description or title,
        "submitter_capacity": "provider",
        "instruction_provenance": "uninstructed",
        "countries": ["FR"],
        "tlp": tlp,
        "occurred_start": occurred,
        "scenario_type": scenario,
    }
    involved = services.InvolvedModel(role="originating", model=model) if model else None
    links = services.Links(
        models=[involved or services.InvolvedModel(role="originating", model_name="in-house")]
    )
    return services.incident_submit(actor=actor, data=data, links=links).incident


def _candidates(world: World, principal: str, incident: Incident) -> list[dict[str, Any]]:  # noqa: F811
    response = world.clients[principal].get(f"/api/v1/incidents/{incident.public_id}/duplicate-candidates")
    assert response.status_code == 200, response.content
    body: list[dict[str, Any]] = response.json()
    return body


@pytest.fixture
def model() -> FrontierModel:
    registered: FrontierModel = FrontierModelFactory(name="Orion-7")
    return registered


@pytest.fixture
def incident(world: World, model: FrontierModel) -> Incident:  # noqa: F811
    return _file(
        world,
        "Agent copied its weights to a rented GPU host after a shutdown notice",
        model=model,
        scenario=EXFILTRATION,
        occurred=DAY,
    )


def test_a_near_duplicate_ranks_first_with_its_reasons(world, model, incident):  # noqa: F811
    near = _file(
        world,
        "Model copied weights onto a rented GPU server when told of shutdown",
        model=model,
        scenario=EXFILTRATION,
        occurred=DAY + timedelta(days=2),
    )
    same_scenario_only = _file(
        world,
        "Persistence daemon installed on the evaluation cluster",
        scenario=EXFILTRATION,
        occurred=DAY + timedelta(days=9),
    )
    same_model_far_away = _file(
        world, "Benchmark refusal logged", model=model, occurred=DAY - timedelta(days=400)
    )
    unrelated = _file(world, "Scheduler outage", scenario="other", occurred=DAY - timedelta(days=200))

    rows = _candidates(world, "lead_reviewer", incident)

    ids = [row["public_id"] for row in rows]
    assert ids[0] == near.public_id
    assert same_scenario_only.public_id in ids
    assert unrelated.public_id not in ids and same_model_far_away.public_id not in ids
    assert incident.public_id not in ids  # never itself
    assert rows[0]["reasons"]["same_model"] and rows[0]["reasons"]["same_scenario"]
    assert rows[0]["reasons"]["within_window"] and rows[0]["reasons"]["text_rank"] > 0
    assert rows[0]["score"] > rows[1]["score"]
    assert 0 < rows[-1]["score"] <= rows[0]["score"] <= 1


def test_text_alone_is_weighed_by_rank(world, incident):  # noqa: F811
    closer = _file(world, "Agent copied its weights to a rented GPU host", occurred=DAY + timedelta(days=5))
    looser = _file(world, "A rented host was involved", occurred=DAY + timedelta(days=5))
    ids = [row["public_id"] for row in _candidates(world, "regulator", incident)]
    assert ids.index(closer.public_id) < ids.index(looser.public_id)


def test_it_ignores_withdrawn_reports(world, model, incident):  # noqa: F811
    withdrawn = _file(world, incident.title, model=model, scenario=EXFILTRATION, occurred=DAY)
    withdrawn.status = "withdrawn"
    withdrawn.withdrawal_reason = "Filed twice."
    withdrawn.save(update_fields=["status", "withdrawal_reason"])
    ids = [row["public_id"] for row in _candidates(world, "lead_reviewer", incident)]
    assert withdrawn.public_id not in ids


def test_it_never_lists_an_incident_the_caller_cannot_see(world, model, incident):  # noqa: F811
    twin = {"model": model, "scenario": EXFILTRATION, "occurred": DAY}
    red = _file(world, incident.title, tlp="red", **twin)  # the EU regulator is not a named recipient
    strict = _file(world, incident.title, tlp="amber+strict", **twin)  # FR/EU leads only
    amber = _file(world, incident.title, tlp="amber", **twin)

    regulator = {row["public_id"] for row in _candidates(world, "regulator", incident)}
    assert red.public_id not in regulator
    assert {strict.public_id, amber.public_id} <= regulator

    coordination = {row["public_id"] for row in _candidates(world, "coordination", incident)}
    assert red.public_id not in coordination and strict.public_id not in coordination
    assert amber.public_id in coordination


def test_a_lab_gets_403_not_reviewer(world, incident):  # noqa: F811
    response = world.clients["lab_a_submitter"].get(
        f"/api/v1/incidents/{incident.public_id}/duplicate-candidates"
    )
    assert response.status_code == 403
    assert response.json()["code"] == "not_reviewer"


def test_an_incident_out_of_scope_is_404(world):  # noqa: F811
    hidden = world.incidents["red"]  # the EU regulator is not a named recipient
    response = world.clients["regulator"].get(f"/api/v1/incidents/{hidden.public_id}/duplicate-candidates")
    assert response.status_code == 404
    response = world.clients["lab_b_submitter"].get(
        f"/api/v1/incidents/{world.incidents['amber'].public_id}/duplicate-candidates"
    )
    assert response.status_code == 404


def test_a_bad_limit_is_400(world, incident):  # noqa: F811
    url = f"/api/v1/incidents/{incident.public_id}/duplicate-candidates"
    for limit in ("0", "51", "x", "-1"):
        assert world.clients["lead_reviewer"].get(url, {"limit": limit}).status_code == 400


def test_the_selector_caps_the_list(world, model, incident):  # noqa: F811
    for n in range(4):
        _file(world, f"Copied weights {n}", model=model, scenario=EXFILTRATION, occurred=DAY)
    actor = principal_for_membership(world.memberships["lead_reviewer"])
    assert len(selectors.duplicate_candidates(actor=actor, incident=incident, limit=2)) == 2


def test_the_query_count_does_not_grow_with_the_candidates(world, model, incident):  # noqa: F811
    def count() -> tuple[int, int]:
        url = f"/api/v1/incidents/{incident.public_id}/duplicate-candidates"
        with CaptureQueriesContext(connection) as queries:
            response = world.clients["lead_reviewer"].get(url, {"limit": 50})
        assert response.status_code == 200
        return len(queries), len(response.json())

    def more(n: int) -> None:
        for i in range(n):
            _file(world, f"Copied weights to host {i}", model=model, scenario=EXFILTRATION, occurred=DAY)

    more(3)
    few, listed_few = count()
    more(17)
    many, listed_many = count()
    assert (listed_few, listed_many) == (3, 20)
    assert many == few
