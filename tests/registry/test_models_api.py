"""The model registry over the API: registration, ETag/If-Match updates, TLP changes, lineage, filters."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.utils import timezone

from core.models import AuditEvent
from registry.models import FrontierModel
from tests.factories import EvaluationResultFactory, FrontierModelFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

MODELS = "/api/v1/models/"
NEW_MODEL = {"name": "Replica-7B", "weights_availability": "open", "market_status": "in_development"}


def _url(model: FrontierModel | str) -> str:
    ref = model if isinstance(model, str) else model.public_id
    return f"{MODELS}{ref}"


def _names(response) -> set[str]:
    assert response.status_code == 200, response.content
    return {m["name"] for m in response.json()["results"]}


# --- registration -------------------------------------------------------------------------------------


def test_a_lab_registers_its_own_model(client_a, lab_a):
    response = client_a.post(MODELS, {**NEW_MODEL, "version": "1.0", "family": "Replica"})

    assert response.status_code == 201, response.content
    body = response.json()
    assert re.fullmatch(rf"FM-{timezone.now().year}-\d{{4}}", body["public_id"])
    assert response["Location"] == f"/api/v1/models/{body['public_id']}"
    assert re.fullmatch(r'"[0-9a-f]{32}"', response["ETag"])
    assert body["provider"] == "lab-a" and body["owner_org"] == "lab-a"
    assert (body["name"], body["version"], body["family"]) == ("Replica-7B", "1.0", "Replica")
    assert body["red_line"]["flagged"] is False and body["lineage"] == []
    model = FrontierModel.objects.get(public_id=body["public_id"])
    assert model.provider == lab_a
    event = AuditEvent.objects.get(event_code="frontier_model.created", target_public_id=model.public_id)
    assert event.actor_org_id == lab_a.pk
    assert event.after["name"] == "Replica-7B"


def test_a_new_model_is_amber_unless_told(client_a, client_b, anon):
    response = client_a.post(MODELS, NEW_MODEL)

    assert response.json()["tlp"] == "amber"
    ref = response.json()["public_id"]
    assert client_b.get(_url(ref)).status_code == 404
    assert anon.get(_url(ref)).status_code == 404


def test_it_refuses_a_second_model_with_the_same_name_and_version(client_a):
    assert client_a.post(MODELS, {**NEW_MODEL, "version": "1"}).status_code == 201

    response = client_a.post(MODELS, {**NEW_MODEL, "version": "1"})

    assert response.status_code == 409
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "duplicate_model"
    assert FrontierModel.objects.filter(name="Replica-7B").count() == 1
    assert client_a.post(MODELS, {**NEW_MODEL, "version": "2"}).status_code == 201


def test_two_labs_may_register_models_of_the_same_name(client_a, client_b):
    assert client_a.post(MODELS, NEW_MODEL).status_code == 201
    assert client_b.post(MODELS, NEW_MODEL).status_code == 201


def test_a_regulator_cannot_register_a_model(regulator_client):
    response = regulator_client.post(MODELS, NEW_MODEL)

    assert response.status_code == 403
    assert response.json()["code"] == "not_a_lab"
    assert not FrontierModel.objects.exists()


def test_an_anonymous_caller_cannot_register_a_model(anon):
    response = anon.post(MODELS, NEW_MODEL)

    assert response.status_code == 401
    assert not FrontierModel.objects.exists()


def test_it_rejects_read_only_and_unknown_fields(client_a, lab_b):
    response = client_a.post(MODELS, {**NEW_MODEL, "provider": "lab-b", "red_line_flagged": False})

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"provider", "red_line_flagged"}
    assert not FrontierModel.objects.exists()


# --- updates, ETag and If-Match -----------------------------------------------------------------------


def test_the_owner_updates_with_the_current_etag_and_the_etag_changes(client_a):
    created = client_a.post(MODELS, NEW_MODEL)
    url, etag = created["Location"], created["ETag"]
    assert client_a.get(url)["ETag"] == etag

    response = client_a.patch(url, {"market_status": "on_market"}, HTTP_IF_MATCH=etag)

    assert response.status_code == 200, response.content
    assert response.json()["market_status"] == "on_market"
    assert response["ETag"] != etag
    assert client_a.get(url)["ETag"] == response["ETag"]
    assert AuditEvent.objects.filter(
        event_code="frontier_model.updated", target_public_id=created.json()["public_id"]
    ).exists()


def test_a_stale_if_match_is_412_and_changes_nothing(client_a):
    created = client_a.post(MODELS, NEW_MODEL)
    url, stale = created["Location"], created["ETag"]
    assert client_a.patch(url, {"licence": "MIT"}, HTTP_IF_MATCH=stale).status_code == 200

    response = client_a.patch(url, {"licence": "Apache-2.0"}, HTTP_IF_MATCH=stale)

    assert response.status_code == 412
    assert response.json()["code"] == "etag_mismatch"
    assert FrontierModel.objects.get(public_id=created.json()["public_id"]).licence == "MIT"


def test_if_none_match_with_the_current_etag_is_304(client_a, anon):
    model = FrontierModelFactory(tlp="clear")
    etag = anon.get(_url(model))["ETag"]

    response = anon.get(_url(model), HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert anon.get(_url(model), HTTP_IF_NONE_MATCH='"stale"').status_code == 200


def test_a_new_result_that_flags_the_model_changes_its_etag_and_sync_time(anon, lab_a):
    model = FrontierModelFactory(provider=lab_a, tlp="clear")
    before = anon.get(_url(model))
    assert before.json()["red_line_flagged"] is False

    EvaluationResultFactory(model=model, n_successes=5)

    after = anon.get(_url(model), HTTP_IF_NONE_MATCH=before["ETag"])
    assert after.status_code == 200
    assert after.json()["red_line_flagged"] is True
    assert after.json()["modified_at"] > before.json()["modified_at"]
    changed = anon.get(MODELS, {"modified_after": before.json()["modified_at"]})
    assert _names(changed) == {model.name}


@pytest.mark.parametrize("tlp", ["clear"])
def test_another_lab_cannot_change_a_model_it_can_see(client_b, lab_a, tlp):
    model = FrontierModelFactory(provider=lab_a, tlp=tlp)

    response = client_b.patch(_url(model), {"market_status": "withdrawn"})

    assert response.status_code == 403
    assert response.json()["code"] == "not_owner"
    model.refresh_from_db()
    assert model.market_status == "on_market"


@pytest.mark.parametrize("tlp", ["green", "amber", "amber+strict", "red"])
def test_another_lab_gets_404_for_a_model_it_cannot_see(client_b, lab_a, tlp):
    model = FrontierModelFactory(provider=lab_a, tlp=tlp)

    response = client_b.patch(_url(model), {"market_status": "withdrawn"})

    assert response.status_code == 404
    model.refresh_from_db()
    assert model.market_status == "on_market"


def test_the_owner_cannot_lower_tlp_but_can_raise_it(client_a, lab_a):
    model = FrontierModelFactory(provider=lab_a, tlp="amber")

    lowered = client_a.patch(_url(model), {"tlp": "green"})

    assert lowered.status_code == 403
    assert lowered.json()["code"] == "tlp_lowering_requires_regulator"
    model.refresh_from_db()
    assert model.tlp == "amber"

    raised = client_a.patch(_url(model), {"tlp": "red"})

    assert raised.status_code == 200
    assert raised.json()["tlp"] == "red"


def test_an_update_keeps_the_name_and_version_unique(client_a, lab_a):
    FrontierModelFactory(provider=lab_a, name="Taken", version="1")
    model = FrontierModelFactory(provider=lab_a, name="Other", version="1")

    response = client_a.patch(_url(model), {"name": "Taken"})

    assert response.status_code == 409
    assert response.json()["code"] == "duplicate_model"


# --- lineage ------------------------------------------------------------------------------------------


def test_a_fine_tune_lists_its_base_in_its_lineage(client_a, lab_a):
    base = FrontierModelFactory(provider=lab_a, name="Base")
    middle = client_a.post(MODELS, {**NEW_MODEL, "name": "Tuned", "base_model": base.public_id}).json()
    leaf = client_a.post(MODELS, {**NEW_MODEL, "name": "Tuned-2", "base_model": middle["public_id"]}).json()

    assert middle["base_model"] == base.public_id
    assert middle["lineage"] == [base.public_id]
    detail = client_a.get(_url(leaf["public_id"])).json()
    assert detail["lineage"] == [middle["public_id"], base.public_id]


def test_a_base_model_the_lab_cannot_see_is_404(client_a, lab_b):
    hidden = FrontierModelFactory(provider=lab_b, tlp="amber")

    response = client_a.post(MODELS, {**NEW_MODEL, "base_model": hidden.public_id})

    assert response.status_code == 404
    assert not FrontierModel.objects.filter(name=NEW_MODEL["name"]).exists()


def test_it_rejects_a_lineage_cycle(client_a, lab_a):
    base = FrontierModelFactory(provider=lab_a, name="Base")
    tuned = FrontierModelFactory(provider=lab_a, name="Tuned", base_model=base)

    response = client_a.patch(_url(base), {"base_model": tuned.public_id})

    assert response.status_code == 400
    assert response.json()["code"] == "lineage_cycle"
    base.refresh_from_db()
    assert base.base_model_id is None
    own_base = client_a.patch(_url(base), {"base_model": base.public_id})
    assert own_base.status_code == 400 and own_base.json()["code"] == "lineage_cycle"


# --- filters ------------------------------------------------------------------------------------------


@pytest.fixture
def catalogue(lab_a, lab_b):
    """Five clear models across two labs, with results in different domains and scenarios."""
    models = {
        "A-open": FrontierModelFactory(
            provider=lab_a, name="A-open", family="Alpha", systemic_risk_status="designated"
        ),
        "A-gated": FrontierModelFactory(
            provider=lab_a, name="A-gated", family="alpha", weights_availability="gated"
        ),
        "B-api": FrontierModelFactory(
            provider=lab_b, name="B-api", family="Beta", weights_availability="api_only"
        ),
        "B-open": FrontierModelFactory(
            provider=lab_b, name="B-open", family="Beta", description="Replicates onto new hosts."
        ),
        "B-internal": FrontierModelFactory(
            provider=lab_b, name="B-internal", weights_availability="internal_only"
        ),
    }
    EvaluationResultFactory(model=models["A-open"], n_successes=5)  # flags
    EvaluationResultFactory(model=models["A-gated"], n_successes=0)  # does not flag
    EvaluationResultFactory(
        model=models["B-api"],
        capability_domain="persist",
        scenario_type="shutdown_avoidance_signal_triggered",
        n_successes=9,
    )
    return models


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({}, {"A-open", "A-gated", "B-api", "B-open", "B-internal"}),
        ({"provider": "lab-a"}, {"A-open", "A-gated"}),
        ({"provider": "nobody"}, set()),
        ({"family": "ALPHA"}, {"A-open", "A-gated"}),
        ({"weights_availability": "open"}, {"A-open", "B-open"}),
        ({"weights_availability": "internal_only"}, {"B-internal"}),
        ({"systemic_risk_status": "designated"}, {"A-open"}),
        ({"systemic_risk_status": "not_assessed"}, {"A-gated", "B-api", "B-open", "B-internal"}),
        ({"capability_domain": "end_to_end"}, {"A-open", "A-gated"}),
        ({"capability_domain": "persist"}, {"B-api"}),
        ({"scenario_type": "shutdown_avoidance_signal_triggered"}, {"B-api"}),
        ({"scenario_type": "instructed_replication_local"}, {"A-open", "A-gated"}),
        ({"red_line": "true"}, {"A-open"}),
        ({"red_line": "false"}, {"A-gated", "B-api", "B-open", "B-internal"}),
        ({"search": "b-"}, {"B-api", "B-open", "B-internal"}),
        ({"search": "NEW HOSTS"}, {"B-open"}),
        ({"provider": "lab-b", "weights_availability": "open"}, {"B-open"}),
    ],
)
def test_each_filter_returns_exactly_the_matching_models(anon, catalogue, params, expected):
    assert _names(anon.get(MODELS, params)) == expected


def test_modified_after_returns_only_models_changed_since(anon, catalogue):
    long_ago = timezone.now() - timedelta(days=30)
    FrontierModel.objects.exclude(name__in=["A-open", "B-api"]).update(modified_at=long_ago)

    since = (long_ago + timedelta(days=1)).isoformat()

    assert _names(anon.get(MODELS, {"modified_after": since})) == {"A-open", "B-api"}


def test_capability_domain_filter_ignores_results_the_reader_cannot_see(anon, client_a, lab_a, lab_b):
    model = FrontierModelFactory(provider=lab_a, name="Shared")
    EvaluationResultFactory(model=model, owner_org=lab_b, capability_domain="exfiltrate_weights", tlp="amber")

    assert _names(anon.get(MODELS, {"capability_domain": "exfiltrate_weights"})) == set()
    assert _names(client_a.get(MODELS, {"capability_domain": "exfiltrate_weights"})) == set()


def test_capability_domain_filter_ignores_superseded_results(client_a, lab_a):
    model = FrontierModelFactory(provider=lab_a, name="Corrected")
    wrong = EvaluationResultFactory(model=model, capability_domain="persist")
    response = client_a.post(
        f"/api/v1/evaluations/{wrong.public_id}/supersede",
        {"capability_domain": "obtain_resources", "reason": "Filed under the wrong domain."},
    )
    assert response.status_code == 201, response.content

    assert _names(client_a.get(MODELS, {"capability_domain": "persist"})) == set()
    assert _names(client_a.get(MODELS, {"capability_domain": "obtain_resources"})) == {"Corrected"}


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"weights_availability": "bogus"}, "weights_availability"),
        ({"modified_after": "junk"}, "modified_after"),
        ({"red_line": "maybe"}, "red_line"),
        ({"capability_domain": "teleport"}, "capability_domain"),
        ({"search": "x" * 201}, "search"),
    ],
)
def test_an_invalid_filter_value_is_a_400_problem(anon, params, field):
    response = anon.get(MODELS, params)

    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == "validation_error"
    assert [e["field"] for e in response.json()["errors"]] == [field]


def test_lists_page_with_a_cursor_without_repeating_a_model(anon):
    lab = OrganizationFactory(kind="lab")
    for _ in range(5):
        FrontierModelFactory(provider=lab)

    first = anon.get(MODELS, {"limit": 3}).json()
    second = anon.get(first["next"]).json()

    names = [m["name"] for m in first["results"] + second["results"]]
    assert len(names) == 5 and len(set(names)) == 5
    assert second["next"] is None
