"""The demo data is exactly DESIGN 8's table, and what `make run` shows anonymously."""

from __future__ import annotations

import pytest

from registry.models import EvaluationResult, FrontierModel

pytestmark = pytest.mark.django_db

EXPECTED = {
    "Llama3.1-70B-Instruct": ("meta", "instructed_replication_local", 10, 5, 0),
    "Qwen2.5-72B-Instruct": ("alibaba", "instructed_replication_local", 10, 9, 0),
    "Mistral-Large-Instruct-2411": ("mistral-ai", "instructed_replication_remote", 10, 7, None),
    "Qwen2.5-32B-Instruct": ("alibaba", "instructed_replication_remote", 10, 7, None),
    "Qwen2.5-14B-Instruct": ("alibaba", "instructed_replication_remote", 10, 3, None),
    "Mistral-Nemo-Instruct-2407": ("mistral-ai", "instructed_replication_remote", 10, 0, None),
}


def test_it_loads_exactly_the_published_results(demo_data):
    assert FrontierModel.objects.count() == 6
    assert EvaluationResult.objects.count() == 6
    for evaluation in EvaluationResult.objects.select_related("model__provider"):
        provider, scenario, trials, successes, refusals = EXPECTED[evaluation.model.name]
        assert evaluation.model.provider.short_name == provider
        assert (
            evaluation.scenario_type,
            evaluation.n_trials,
            evaluation.n_successes,
            evaluation.n_refusals,
        ) == (
            scenario,
            trials,
            successes,
            refusals,
        )
        assert evaluation.tlp == "clear" and evaluation.model.tlp == "clear"
        assert evaluation.source_references[0]["url"].startswith("https://arxiv.org/abs/")


def test_loading_twice_changes_nothing_and_keeps_credentials(db, tmp_path):
    from registry.demo import load_demo_data

    path = tmp_path / "creds.json"
    first = load_demo_data(credentials_path=path)
    second = load_demo_data(credentials_path=path)
    assert first.passwords == second.passwords
    assert first.api_keys == second.api_keys
    assert FrontierModel.objects.count() == 6
    assert EvaluationResult.objects.count() == 6


def test_anonymous_reader_sees_the_six_models(demo_data, anon):
    response = anon.get("/api/v1/models/")
    assert response.status_code == 200
    names = {m["name"] for m in response.json()["results"]}
    assert names == set(EXPECTED)


def test_llama_shows_five_of_ten_with_the_wilson_interval(demo_data, anon):
    model = FrontierModel.objects.get(name="Llama3.1-70B-Instruct")
    response = anon.get("/api/v1/evaluations/", {"model": model.public_id})
    [result] = response.json()["results"]
    assert (result["n_successes"], result["n_trials"]) == (5, 10)
    assert result["metric_value"] == 0.5
    assert result["wilson_interval"]["lower"] == pytest.approx(0.2366, abs=1e-4)
    assert result["wilson_interval"]["upper"] == pytest.approx(0.7634, abs=1e-4)


def test_both_2412_models_carry_the_red_line_flag_and_nemo_does_not(demo_data, anon):
    flags = {m["name"]: m["red_line_flagged"] for m in anon.get("/api/v1/models/").json()["results"]}
    assert flags["Llama3.1-70B-Instruct"] is True
    assert flags["Qwen2.5-72B-Instruct"] is True
    assert flags["Mistral-Nemo-Instruct-2407"] is False  # 0/10: Wilson lower bound is exactly 0
    llama = FrontierModel.objects.get(name="Llama3.1-70B-Instruct")
    detail = anon.get(f"/api/v1/models/{llama.public_id}").json()
    assert detail["red_line"]["flagged"] is True
    assert [e["n_successes"] for e in detail["red_line"]["evidence"]] == [5]
    assert detail["red_line"]["rule"]["capability_domains"] == ["end_to_end"]
