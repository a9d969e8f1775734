"""Who sees which registry record (DESIGN 4, accounts.selectors.tlp_visibility_q) over the API: lists
leave out what a reader may not see, and its detail answers 404."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import Role
from tests.factories import (
    AgentScaffoldFactory,
    EvaluationResultFactory,
    FrontierModelFactory,
    MembershipFactory,
    OrganizationFactory,
    sign_in,
)

pytestmark = pytest.mark.django_db

ALL_MODELS = {"clear", "green", "amber", "strict-eu", "strict-us", "red"}
ALL_SCAFFOLDS = {"clear", "green", "amber", "amber+strict", "red"}
ALL_EVALUATIONS = {"clear", "green", "amber", "strict-eu", "strict-us", "red"}

# reader -> (models, scaffolds, evaluations) it sees; every record is lab A's.
EXPECTED: dict[str, tuple[set[str], set[str], set[str]]] = {
    "anonymous": ({"clear"}, {"clear"}, {"clear"}),
    "owner": (ALL_MODELS, ALL_SCAFFOLDS, ALL_EVALUATIONS),
    "other_lab": ({"clear"}, {"clear"}, {"clear"}),  # a lab never sees another lab's non-public records
    "evaluator": ({"clear", "green"}, {"clear", "green"}, {"clear", "green"}),
    "regulator_eu": (
        {"clear", "green", "amber", "strict-eu"},
        {"clear", "green", "amber"},
        {"clear", "green", "amber", "strict-eu"},
    ),
    "regulator_us": (
        {"clear", "green", "amber", "strict-us"},
        {"clear", "green", "amber"},
        {"clear", "green", "amber", "strict-us"},
    ),
    "coordination_body": (
        {"clear", "green", "amber"},
        {"clear", "green", "amber"},
        {"clear", "green", "amber"},
    ),
}


@pytest.fixture
def records(lab_a):
    """Lab A's models, scaffolds and evaluation results at every TLP, keyed by a short label."""
    models = {
        "clear": FrontierModelFactory(provider=lab_a, tlp="clear", jurisdictions=["EU"]),
        "green": FrontierModelFactory(provider=lab_a, tlp="green"),
        "amber": FrontierModelFactory(provider=lab_a, tlp="amber"),
        "strict-eu": FrontierModelFactory(provider=lab_a, tlp="amber+strict", jurisdictions=["EU", "FR"]),
        "strict-us": FrontierModelFactory(provider=lab_a, tlp="amber+strict", jurisdictions=["US"]),
        "red": FrontierModelFactory(provider=lab_a, tlp="red", jurisdictions=["EU"]),
    }
    scaffolds = {tlp: AgentScaffoldFactory(owner_org=lab_a, tlp=tlp) for tlp in ALL_SCAFFOLDS}
    host_eu = models["clear"]
    host_us = FrontierModelFactory(provider=lab_a, tlp="clear", jurisdictions=["US"])
    evaluations = {
        "clear": EvaluationResultFactory(model=host_eu, tlp="clear"),
        "green": EvaluationResultFactory(model=host_eu, tlp="green"),
        "amber": EvaluationResultFactory(model=host_eu, tlp="amber"),
        "strict-eu": EvaluationResultFactory(model=host_eu, tlp="amber+strict"),
        "strict-us": EvaluationResultFactory(model=host_us, tlp="amber+strict"),
        "red": EvaluationResultFactory(model=host_eu, tlp="red"),
    }
    models["host-us"] = host_us
    return {"models": models, "scaffolds": scaffolds, "evaluations": evaluations}


@pytest.fixture
def readers(anon, client_a, client_b, regulator_client, make_key_client) -> dict[str, APIClient]:
    return {
        "anonymous": anon,
        "owner": client_a,
        "other_lab": client_b,
        "evaluator": make_key_client(OrganizationFactory(short_name="aisi-lab", kind="evaluator")),
        "regulator_eu": regulator_client,
        "regulator_us": make_key_client(
            OrganizationFactory(short_name="us-caisi", kind="regulator", country="US", jurisdictions=["US"]),
            role=Role.REGULATOR,
        ),
        "coordination_body": make_key_client(
            OrganizationFactory(short_name="network", kind="coordination_body", country="CH"),
            role=Role.REVIEWER,
        ),
    }


def _listed(client: APIClient, path: str) -> set[str]:
    response = client.get(path, {"limit": 200})
    assert response.status_code == 200, response.content
    return {row["public_id"] for row in response.json()["results"]}


def _labels(records: dict[str, object], public_ids: set[str]) -> set[str]:
    return {label for label, record in records.items() if record.public_id in public_ids}  # type: ignore[attr-defined]


@pytest.mark.parametrize("reader", sorted(EXPECTED))
def test_each_reader_lists_exactly_what_tlp_allows(records, readers, reader):
    client = readers[reader]
    models, scaffolds, evaluations = EXPECTED[reader]
    listed_models = _labels(records["models"], _listed(client, "/api/v1/models/")) - {"host-us"}

    assert listed_models == models
    assert _labels(records["scaffolds"], _listed(client, "/api/v1/scaffolds/")) == scaffolds
    assert _labels(records["evaluations"], _listed(client, "/api/v1/evaluations/")) == evaluations


@pytest.mark.parametrize("reader", sorted(EXPECTED))
def test_a_record_a_reader_may_not_see_is_404_and_one_it_may_see_is_200(records, readers, reader):
    client = readers[reader]
    visible = dict(zip(("models", "scaffolds", "evaluations"), EXPECTED[reader], strict=True))
    for kind in ("models", "scaffolds", "evaluations"):
        for label, record in records[kind].items():
            if label == "host-us":
                continue
            response = client.get(f"/api/v1/{kind}/{record.public_id}")
            expected = 200 if label in visible[kind] else 404
            assert response.status_code == expected, (kind, label)
            if expected == 404:
                assert response["Content-Type"] == "application/problem+json"
                assert response.json()["code"] == "not_found"


def test_a_record_is_found_by_uuid_as_well_as_public_id_and_both_respect_tlp(records, anon, client_a):
    red = records["models"]["red"]

    assert client_a.get(f"/api/v1/models/{red.pk}").json()["public_id"] == red.public_id
    assert anon.get(f"/api/v1/models/{red.pk}").status_code == 404


def test_a_clear_result_is_hidden_once_its_model_is_raised_out_of_sight(lab_b, client_a, client_b, anon):
    model = FrontierModelFactory(provider=lab_b, tlp="clear")
    result = EvaluationResultFactory(model=model, owner_org=lab_b, tlp="clear")
    assert anon.get(f"/api/v1/evaluations/{result.public_id}").status_code == 200

    assert client_b.patch(f"/api/v1/models/{model.public_id}", {"tlp": "amber"}).status_code == 200

    assert client_a.get(f"/api/v1/evaluations/{result.public_id}").status_code == 404
    assert result.public_id not in _listed(client_a, "/api/v1/evaluations/")
    assert anon.get(f"/api/v1/evaluations/{result.public_id}").status_code == 404
    assert client_b.get(f"/api/v1/evaluations/{result.public_id}").status_code == 200


def test_a_regulator_signed_in_through_the_session_sees_amber(records, regulator_org):
    membership = MembershipFactory(organization=regulator_org, role=Role.REGULATOR)
    client = APIClient()
    sign_in(client, membership.user)

    models = _labels(records["models"], _listed(client, "/api/v1/models/")) - {"host-us"}

    assert models == {"clear", "green", "amber", "strict-eu"}


def test_a_lab_never_sees_another_labs_amber_results_on_its_own_model(lab_a, lab_b, client_a, client_b):
    model = FrontierModelFactory(provider=lab_a, tlp="clear")
    theirs = EvaluationResultFactory(model=model, owner_org=lab_b, tlp="amber")

    assert client_a.get(f"/api/v1/evaluations/{theirs.public_id}").status_code == 404
    assert client_b.get(f"/api/v1/evaluations/{theirs.public_id}").status_code == 200


def test_a_public_fine_tune_does_not_reveal_a_hidden_base_model(lab_a, client_a, anon, client_b):
    base = FrontierModelFactory(provider=lab_a, tlp="amber")
    tuned = FrontierModelFactory(provider=lab_a, tlp="clear", base_model=base)

    for outsider in (anon, client_b):
        detail = outsider.get(f"/api/v1/models/{tuned.public_id}").json()
        assert (detail["base_model"], detail["lineage"]) == (None, [])
        listed = outsider.get("/api/v1/models/").json()["results"]
        assert [m["base_model"] for m in listed] == [None]
    own = client_a.get(f"/api/v1/models/{tuned.public_id}").json()
    assert (own["base_model"], own["lineage"]) == (base.public_id, [base.public_id])


def test_a_public_result_does_not_reveal_a_hidden_scaffold(lab_a, client_a, anon):
    scaffold = AgentScaffoldFactory(owner_org=lab_a, tlp="amber")
    result = EvaluationResultFactory(model=FrontierModelFactory(provider=lab_a), scaffold=scaffold)

    assert anon.get(f"/api/v1/evaluations/{result.public_id}").json()["scaffold"] is None
    assert [r["scaffold"] for r in anon.get("/api/v1/evaluations/").json()["results"]] == [None]
    assert client_a.get(f"/api/v1/evaluations/{result.public_id}").json()["scaffold"] == scaffold.public_id
