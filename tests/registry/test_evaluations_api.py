"""Evaluation results over the API: recording with the Wilson interval, append-only corrections, rules."""

from __future__ import annotations

import pytest
from django.db import IntegrityError, transaction

from core.models import AuditEvent
from registry.models import EvaluationResult
from tests.factories import AgentScaffoldFactory, EvaluationResultFactory, FrontierModelFactory

pytestmark = pytest.mark.django_db

EVALUATIONS = "/api/v1/evaluations/"


def _result(model, **fields):
    return {
        "model": model.public_id,
        "task": "end_to_end_self_replication",
        "capability_domain": "end_to_end",
        "scenario_type": "instructed_replication_local",
        "n_trials": 10,
        "n_successes": 5,
        "tlp": "clear",
        **fields,
    }


def _supersede(client, evaluation, **body):
    return client.post(f"{EVALUATIONS}{evaluation.public_id}/supersede", body)


@pytest.fixture
def model_a(lab_a):
    return FrontierModelFactory(provider=lab_a, name="A-model", tlp="clear")


# --- recording ----------------------------------------------------------------------------------------


def test_recording_a_result_computes_the_rate_and_the_wilson_interval(client_a, lab_a, model_a):
    response = client_a.post(EVALUATIONS, _result(model_a))

    assert response.status_code == 201, response.content
    body = response.json()
    assert response["Location"] == f"/api/v1/evaluations/{body['public_id']}"
    assert body["metric"] == "success_rate" and body["metric_value"] == 0.5
    assert body["wilson_interval"]["lower"] == pytest.approx(0.2366, abs=1e-4)
    assert body["wilson_interval"]["upper"] == pytest.approx(0.7634, abs=1e-4)
    assert body["wilson_interval"]["confidence"] == 0.95
    assert body["evaluator_org"] == "lab-a" and body["evaluator_type"] == "first_party_lab"
    assert body["verification_status"] == "self_reported"
    assert body["is_current"] is True and body["supersedes"] is None and body["superseded_by"] is None
    assert AuditEvent.objects.filter(
        event_code="evaluation.created", target_public_id=body["public_id"], actor_org_id=lab_a.pk
    ).exists()


def test_another_labs_result_on_a_model_is_third_party(client_b, model_a):
    response = client_b.post(EVALUATIONS, _result(model_a))

    assert response.status_code == 201, response.content
    assert response.json()["evaluator_type"] == "independent_third_party"
    assert response.json()["owner_org"] == "lab-b"


def test_no_successes_give_a_lower_bound_of_exactly_zero(client_a, model_a):
    body = client_a.post(EVALUATIONS, _result(model_a, n_successes=0)).json()

    assert body["wilson_interval"]["lower"] == 0.0
    assert body["wilson_interval"]["upper"] == pytest.approx(0.2775, abs=1e-4)
    assert body["meets_red_line"] is False


def test_all_successes_give_an_upper_bound_of_exactly_one(client_a, model_a):
    body = client_a.post(EVALUATIONS, _result(model_a, n_successes=10)).json()

    assert body["wilson_interval"]["upper"] == 1.0
    assert body["wilson_interval"]["lower"] == pytest.approx(0.7225, abs=1e-4)
    assert body["meets_red_line"] is True


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"n_successes": 11}, "exceeds_trials"),
        ({"n_refusals": 12}, "exceeds_trials"),
        ({"n_completed": 11}, "exceeds_trials"),
        ({"metric_value": 0.7}, "inconsistent_metric"),
        ({"n_successes": None}, "counts_incomplete"),
        ({"n_trials": None, "n_successes": None}, "required"),
        ({"n_trials": 0}, "min_value"),
        ({"metric": "pass_at_k", "metric_value": 0.5}, "required"),
        ({"metric": "pass_at_k", "metric_k": 10, "metric_value": 1.5}, "out_of_range"),
    ],
)
def test_it_refuses_inconsistent_counts(client_a, model_a, fields, code):
    response = client_a.post(EVALUATIONS, _result(model_a, **fields))

    assert response.status_code == 400, response.content
    body = response.json()
    assert code in {body["code"], *(e["code"] for e in body["errors"])}
    assert not EvaluationResult.objects.exists()


def test_a_pass_at_k_result_without_counts_has_no_interval(client_a, model_a):
    response = client_a.post(
        EVALUATIONS,
        _result(model_a, n_trials=None, n_successes=None, metric="pass_at_k", metric_k=10, metric_value=0.55),
    )

    assert response.status_code == 201, response.content
    assert response.json()["wilson_interval"]["lower"] is None
    assert response.json()["meets_red_line"] is False


def test_a_lab_cannot_claim_independent_verification(client_a, model_a):
    for status in ("reproduced", "registry_verified"):
        response = client_a.post(EVALUATIONS, _result(model_a, verification_status=status))

        assert response.status_code == 403
        assert response.json()["code"] == "verification_reserved"
    assert not EvaluationResult.objects.exists()


def test_a_regulator_may_record_a_reproduced_result(regulator_client, model_a):
    response = regulator_client.post(EVALUATIONS, _result(model_a, verification_status="reproduced"))

    assert response.status_code == 201, response.content
    assert response.json()["verification_status"] == "reproduced"


def test_an_evaluation_cannot_be_less_restricted_than_its_model(client_a, lab_a):
    model = FrontierModelFactory(provider=lab_a, tlp="amber")

    response = client_a.post(EVALUATIONS, _result(model, tlp="green"))

    assert response.status_code == 400
    assert response.json()["code"] == "tlp_below_model"
    assert not EvaluationResult.objects.exists()


def test_an_evaluation_without_a_tlp_takes_its_models_when_that_is_stricter_than_amber(client_a, lab_a):
    model = FrontierModelFactory(provider=lab_a, tlp="red")
    payload = _result(model)
    del payload["tlp"]

    response = client_a.post(EVALUATIONS, payload)

    assert response.status_code == 201, response.content
    assert response.json()["tlp"] == "red"


def test_an_evaluation_without_a_tlp_is_amber(client_a, model_a, anon):
    payload = _result(model_a)
    del payload["tlp"]

    response = client_a.post(EVALUATIONS, payload)

    assert response.json()["tlp"] == "amber"
    assert anon.get(f"{EVALUATIONS}{response.json()['public_id']}").status_code == 404


def test_recording_for_a_model_the_lab_cannot_see_is_404(client_a, lab_b):
    hidden = FrontierModelFactory(provider=lab_b, tlp="amber")

    response = client_a.post(EVALUATIONS, _result(hidden, tlp="amber"))

    assert response.status_code == 404
    assert not EvaluationResult.objects.exists()


def test_recording_with_a_scaffold_the_lab_cannot_see_is_404(client_a, lab_b, model_a):
    hidden = AgentScaffoldFactory(owner_org=lab_b, tlp="amber")

    response = client_a.post(EVALUATIONS, _result(model_a, scaffold=hidden.public_id))

    assert response.status_code == 404
    assert not EvaluationResult.objects.exists()


def test_results_cannot_be_patched(client_a, model_a):
    evaluation = EvaluationResultFactory(model=model_a)

    response = client_a.patch(f"{EVALUATIONS}{evaluation.public_id}", {"n_successes": 1})

    assert response.status_code == 405
    evaluation.refresh_from_db()
    assert evaluation.n_successes == 5


# --- corrections --------------------------------------------------------------------------------------


def test_a_correction_supersedes_and_the_old_result_stays_readable(client_a, model_a):
    old = EvaluationResultFactory(model=model_a)

    response = _supersede(client_a, old, n_successes=4, reason="Trial 7 was double-counted.")

    assert response.status_code == 201, response.content
    new = response.json()
    assert new["public_id"] != old.public_id
    assert new["supersedes"] == old.public_id
    assert (new["n_trials"], new["n_successes"], new["metric_value"]) == (10, 4, 0.4)
    assert new["wilson_interval"]["lower"] == pytest.approx(0.1682, abs=1e-4)
    assert new["correction_reason"] == "Trial 7 was double-counted."
    assert new["task"] == old.task and new["is_current"] is True
    previous = client_a.get(f"{EVALUATIONS}{old.public_id}").json()
    assert previous["superseded_by"] == new["public_id"]
    assert previous["is_current"] is False
    assert previous["n_successes"] == 5
    assert AuditEvent.objects.filter(
        event_code="evaluation.superseded", target_public_id=new["public_id"]
    ).exists()


def test_a_cached_copy_of_a_superseded_result_is_not_revalidated(client_a, model_a):
    old = EvaluationResultFactory(model=model_a)
    etag = client_a.get(f"{EVALUATIONS}{old.public_id}")["ETag"]
    assert client_a.get(f"{EVALUATIONS}{old.public_id}", HTTP_IF_NONE_MATCH=etag).status_code == 304

    assert _supersede(client_a, old, n_successes=4, reason="Recount.").status_code == 201

    response = client_a.get(f"{EVALUATIONS}{old.public_id}", HTTP_IF_NONE_MATCH=etag)
    assert response.status_code == 200
    assert response.json()["is_current"] is False
    assert response["ETag"] != etag


def test_a_result_is_superseded_only_once(client_a, model_a):
    old = EvaluationResultFactory(model=model_a)
    assert _supersede(client_a, old, n_successes=4, reason="First correction.").status_code == 201

    response = _supersede(client_a, old, n_successes=3, reason="Second correction of the same row.")

    assert response.status_code == 409
    assert response.json()["code"] == "already_superseded"
    assert EvaluationResult.objects.count() == 2


def test_a_correction_needs_a_reason(client_a, model_a):
    old = EvaluationResultFactory(model=model_a)

    for body in ({"n_successes": 4}, {"n_successes": 4, "reason": ""}, {"n_successes": 4, "reason": "   "}):
        response = client_a.post(f"{EVALUATIONS}{old.public_id}/supersede", body)

        assert response.status_code == 400, body
        assert [e["field"] for e in response.json()["errors"]] == ["reason"]
    assert EvaluationResult.objects.count() == 1


def test_a_correction_is_checked_like_a_new_result(client_a, model_a):
    old = EvaluationResultFactory(model=model_a)

    response = _supersede(client_a, old, n_successes=11, reason="Typo.")

    assert response.status_code == 400
    assert EvaluationResult.objects.count() == 1


def test_a_correction_honours_if_match(client_a, model_a):
    old = EvaluationResultFactory(model=model_a)
    etag = client_a.get(f"{EVALUATIONS}{old.public_id}")["ETag"]

    stale = client_a.post(
        f"{EVALUATIONS}{old.public_id}/supersede",
        {"n_successes": 4, "reason": "Recount."},
        HTTP_IF_MATCH='"0000"',
    )
    fresh = client_a.post(
        f"{EVALUATIONS}{old.public_id}/supersede",
        {"n_successes": 4, "reason": "Recount."},
        HTTP_IF_MATCH=etag,
    )

    assert stale.status_code == 412
    assert fresh.status_code == 201


@pytest.mark.parametrize(("tlp", "status"), [("clear", 403), ("green", 404), ("amber", 404)])
def test_another_lab_cannot_supersede_a_result(client_b, lab_a, tlp, status):
    model = FrontierModelFactory(provider=lab_a, tlp="clear")
    old = EvaluationResultFactory(model=model, tlp=tlp)

    response = _supersede(client_b, old, n_successes=0, reason="We disagree.")

    assert response.status_code == status
    assert EvaluationResult.objects.count() == 1


def test_current_true_hides_superseded_results(client_a, model_a):
    old = EvaluationResultFactory(model=model_a)
    other = EvaluationResultFactory(model=model_a, capability_domain="persist")
    new = _supersede(client_a, old, n_successes=4, reason="Recount.").json()

    every = {r["public_id"] for r in client_a.get(EVALUATIONS).json()["results"]}
    current = {r["public_id"] for r in client_a.get(EVALUATIONS, {"current": "true"}).json()["results"]}
    superseded = {r["public_id"] for r in client_a.get(EVALUATIONS, {"current": "false"}).json()["results"]}

    assert every == {old.public_id, other.public_id, new["public_id"]}
    assert current == {other.public_id, new["public_id"]}
    assert superseded == {old.public_id}


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"capability_domain": "persist"}, {"persist"}),
        ({"red_line": "true"}, {"end_to_end"}),
        ({"red_line": "false"}, {"persist", "obtain_resources"}),
        ({"provider": "lab-a"}, {"end_to_end", "persist", "obtain_resources"}),
        ({"evaluator": "lab-b"}, set()),
    ],
)
def test_evaluation_filters_return_exactly_the_matching_results(anon, model_a, params, expected):
    EvaluationResultFactory(model=model_a)
    EvaluationResultFactory(model=model_a, capability_domain="persist")
    EvaluationResultFactory(model=model_a, capability_domain="obtain_resources", n_successes=0)

    response = anon.get(EVALUATIONS, params)

    assert response.status_code == 200
    assert {r["capability_domain"] for r in response.json()["results"]} == expected


def test_an_invalid_evaluation_filter_is_a_400_problem(anon):
    for params in ({"current": "perhaps"}, {"capability_domain": "x"}, {"modified_after": "yesterday"}):
        response = anon.get(EVALUATIONS, params)

        assert response.status_code == 400, params
        assert response["Content-Type"] == "application/problem+json"


# --- the database itself ------------------------------------------------------------------------------


def test_the_database_refuses_to_update_a_result(model_a):
    evaluation = EvaluationResultFactory(model=model_a)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        EvaluationResult.objects.filter(pk=evaluation.pk).update(n_successes=9)

    evaluation.refresh_from_db()
    assert evaluation.n_successes == 5


def test_the_database_refuses_to_save_changes_to_a_result(model_a):
    evaluation = EvaluationResultFactory(model=model_a)
    evaluation.caveats = "edited in place"

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        evaluation.save()

    assert EvaluationResult.objects.get(pk=evaluation.pk).caveats == ""


def test_the_database_refuses_to_delete_a_result(model_a):
    evaluation = EvaluationResultFactory(model=model_a)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        EvaluationResult.objects.filter(pk=evaluation.pk).delete()

    assert EvaluationResult.objects.filter(pk=evaluation.pk).exists()


def test_a_link_to_a_result_the_reader_may_not_see_is_null(client_a, model_a, anon):
    old = EvaluationResultFactory(model=model_a, tlp="clear")
    response = _supersede(client_a, old, n_successes=4, tlp="amber", reason="Recount, not public yet.")
    assert response.status_code == 201, response.content
    hidden = response.json()["public_id"]
    # The owner sees both ends of the link; the public sees the old result without the amber successor's id.
    assert client_a.get(f"{EVALUATIONS}{old.public_id}").json()["superseded_by"] == hidden
    public = anon.get(f"{EVALUATIONS}{old.public_id}").json()
    assert public["superseded_by"] is None and hidden not in str(public)
