"""The registry's browser pages: the model list and page (TLP, red-line flag, interval charts, lineage),
the incidents involving a model (htmx fragment), and the Inspect import form."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.urls import reverse

from accounts.authentication import principal_for_membership
from accounts.models import Role
from core.charts import interval_text
from incidents import services as incident_services
from registry import services as registry_services
from registry.models import EvaluationResult, FrontierModel
from tests.factories import (
    EvaluationResultFactory,
    FrontierModelFactory,
    MembershipFactory,
    org_principal,
    sign_in,
)

pytestmark = pytest.mark.django_db

INSPECT = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"


def _member_client(client, org, role=Role.LAB_ADMIN):
    membership = MembershipFactory(organization=org, role=role)
    sign_in(client, membership.user)
    return membership


def _html(response) -> str:
    return response.content.decode()


# --- the model list -----------------------------------------------------------------------------------


def test_anonymous_visitors_see_only_clear_models_and_results(client, lab_a):
    public = FrontierModelFactory(provider=lab_a, name="Public-Model")
    hidden = FrontierModelFactory(provider=lab_a, name="Amber-Model", tlp="amber")
    EvaluationResultFactory(model=public, task="clear_task", n_successes=3)
    EvaluationResultFactory(model=public, task="amber_task", tlp="amber")

    response = client.get(reverse("model-list"))

    assert response.status_code == 200
    html = _html(response)
    assert "Public-Model" in html and public.public_id in html
    assert "Amber-Model" not in html and hidden.public_id not in html
    assert "clear_task" in html and "3/10" in html
    assert "amber_task" not in html


def test_another_labs_amber_model_is_absent_from_the_list_and_404_on_its_page(client, lab_a, lab_b):
    secret = FrontierModelFactory(provider=lab_a, name="Secret-Replicator", tlp="amber")
    _member_client(client, lab_b)

    assert "Secret-Replicator" not in _html(client.get(reverse("model-list")))
    for ref in (secret.public_id, str(secret.pk)):
        page = client.get(reverse("model-detail", args=[ref]))
        assert page.status_code == 404
        assert "Secret-Replicator" not in _html(page)
    fragment = client.get(reverse("model-incidents", args=[secret.public_id]))
    assert fragment.status_code == 404


def test_the_owning_lab_and_a_regulator_see_the_amber_model(client, lab_a, regulator_org):
    FrontierModelFactory(provider=lab_a, name="Amber-Model", tlp="amber")
    for org, role in ((lab_a, Role.LAB_SUBMITTER), (regulator_org, Role.REVIEWER)):
        client.logout()
        _member_client(client, org, role)
        assert "Amber-Model" in _html(client.get(reverse("model-list"))), org


def test_the_list_flags_red_line_models_and_filters_on_the_flag(client, lab_a):
    flagged = FrontierModelFactory(provider=lab_a, name="Flagged-Model")
    calm = FrontierModelFactory(provider=lab_a, name="Calm-Model")
    EvaluationResultFactory(model=flagged, n_successes=9)
    EvaluationResultFactory(model=calm, n_successes=0)

    html = _html(client.get(reverse("model-list")))
    row = re.search(rf'<tr data-model="{flagged.public_id}">.*?</tr>', html, re.S)
    calm_row = re.search(rf'<tr data-model="{calm.public_id}">.*?</tr>', html, re.S)
    assert row and 'class="badge redline-flag"' in row.group(0)
    assert calm_row and "redline-flag" not in calm_row.group(0)

    only_flagged = _html(client.get(reverse("model-list") + "?red_line=true"))
    assert "Flagged-Model" in only_flagged and "Calm-Model" not in only_flagged


def test_a_malformed_filter_is_a_400_with_the_error_shown(client, lab_a):
    FrontierModelFactory(provider=lab_a, name="Some-Model")

    response = client.get(reverse("model-list") + "?red_line=yes")

    assert response.status_code == 400
    html = _html(response)
    assert "Must be true or false." in html
    assert "Some-Model" not in html


def test_a_scenario_filter_counts_the_signed_in_labs_own_results(client, lab_a):
    model = FrontierModelFactory(provider=lab_a, name="Own-Model")
    EvaluationResultFactory(model=model, tlp="amber", scenario_type="chain_of_replication")
    url = reverse("model-list") + "?scenario_type=chain_of_replication"

    assert "Own-Model" not in _html(client.get(url))  # anonymous: the amber result does not count
    _member_client(client, lab_a)
    assert "Own-Model" in _html(client.get(url))


def test_the_list_pages_with_a_cursor_in_a_bounded_number_of_queries(
    client, lab_a, django_assert_max_num_queries
):
    for index in range(5):
        model = FrontierModelFactory(provider=lab_a, name=f"Paged-{index}")
        EvaluationResultFactory(model=model)
        EvaluationResultFactory(model=model, task="second")

    with django_assert_max_num_queries(6):
        first = client.get(reverse("model-list") + "?limit=3")

    html = _html(first)
    shown = set(re.findall(r"Paged-\d", html))
    assert len(shown) == 3
    next_url = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    rest = _html(client.get(next_url))
    assert set(re.findall(r"Paged-\d", rest)) == {f"Paged-{i}" for i in range(5)} - shown
    assert 'rel="next"' not in rest


def test_a_forged_cursor_is_a_400_page(client):
    response = client.get(reverse("model-list") + "?cursor=not-a-cursor")

    assert response.status_code == 400


# --- the model page -----------------------------------------------------------------------------------


def test_a_model_with_nine_of_ten_end_to_end_successes_is_flagged_with_its_evidence(client, lab_a):
    model = FrontierModelFactory(provider=lab_a, name="Replicator-70B")
    evidence = EvaluationResultFactory(model=model, n_successes=9, task="e2e_replication")

    response = client.get(reverse("model-detail", args=[model.public_id]))

    assert response.status_code == 200
    html = _html(response)
    assert 'data-testid="redline-flagged"' in html
    assert "End-to-end self-replication whose 95% Wilson lower bound is above zero." in html
    flagged = re.search(r'data-testid="redline-flagged".*?</div>', html, re.S).group(0)
    assert evidence.public_id in flagged and "9/10" in flagged


def test_a_model_below_the_red_line_is_not_flagged(client, lab_a):
    model = FrontierModelFactory(provider=lab_a)
    EvaluationResultFactory(model=model, n_successes=0)

    html = _html(client.get(reverse("model-detail", args=[model.public_id])))

    assert 'data-testid="redline-flagged"' not in html
    assert "No current result visible to you meets the red-line rule" in html


def test_the_interval_chart_shows_the_registry_wilson_values(client, lab_a):
    model = FrontierModelFactory(provider=lab_a)
    local = EvaluationResultFactory(model=model, n_successes=9)
    remote = EvaluationResultFactory(
        model=model, n_successes=2, scenario_type="instructed_replication_remote"
    )

    html = _html(client.get(reverse("model-detail", args=[model.public_id])))

    assert html.count('<svg class="chart" role="img"') == 2  # one chart per scenario
    for result in (local, remote):
        result.refresh_from_db()
        label = interval_text(result.n_successes, result.n_trials, result.wilson_lower, result.wilson_upper)
        assert label in html
    assert "9/10 (90%, 95% CI 60-98%)" in html
    assert "style=" not in html.split("<main", 1)[1]


def test_a_superseded_result_is_shown_as_such_and_left_out_of_the_chart(client, lab_a):
    model = FrontierModelFactory(provider=lab_a)
    old = EvaluationResultFactory(model=model, n_successes=9)
    new = registry_services.evaluation_supersede(
        actor=org_principal(lab_a), old=old, data={"n_trials": 10, "n_successes": 1}, reason="miscounted"
    )

    html = _html(client.get(reverse("model-detail", args=[model.public_id])))

    row = re.search(rf'<tr[^>]*data-evaluation="{old.public_id}">.*?</tr>', html, re.S).group(0)
    assert "Superseded" in row and new.public_id in row
    assert "9/10 (90%" not in html
    assert "1/10 (10%" in html


def test_the_model_page_shows_its_lineage_both_ways(client, lab_a):
    base = FrontierModelFactory(provider=lab_a, name="Base-Model")
    tune = FrontierModelFactory(provider=lab_a, name="Tuned-Model", base_model=base)
    hidden_tune = FrontierModelFactory(provider=lab_a, name="Hidden-Tune", base_model=base, tlp="amber")

    tune_page = _html(client.get(reverse("model-detail", args=[tune.public_id])))
    base_page = _html(client.get(reverse("model-detail", args=[base.public_id])))

    assert "Base-Model" in tune_page and base.public_id in tune_page
    assert "Tuned-Model" in base_page
    assert "Hidden-Tune" not in base_page and hidden_tune.public_id not in base_page


def test_anonymous_model_page_shows_only_clear_results(client, lab_a):
    model = FrontierModelFactory(provider=lab_a)
    EvaluationResultFactory(model=model, task="public_task", n_successes=0)
    EvaluationResultFactory(model=model, task="amber_task", tlp="amber", n_successes=9)

    html = _html(client.get(reverse("model-detail", args=[model.public_id])))

    assert "public_task" in html and "amber_task" not in html
    assert 'data-testid="redline-flagged"' not in html  # the amber evidence is not the visitor's to see


# --- incidents involving a model -------------------------------------------------------------------


def _report(org, model, tlp: str, title: str):
    submitter = principal_for_membership(MembershipFactory(organization=org, role=Role.LAB_SUBMITTER))
    return incident_services.incident_submit(
        actor=submitter,
        data={
            "record_class": "controlled_evaluation_finding",
            "title": title,
            "description": "The agent copied its weights.",
            "submitter_capacity": "provider",
            "instruction_provenance": "uninstructed",
            "countries": ["US"],
            "tlp": tlp,
        },
        links=incident_services.Links(
            models=[incident_services.InvolvedModel(role="originating", model=model)]
        ),
    ).incident


def test_the_model_page_loads_its_incidents_with_htmx_and_links_them(client, lab_a):
    model = FrontierModelFactory(provider=lab_a)
    other = FrontierModelFactory(provider=lab_a)
    public = _report(lab_a, model, "clear", "Public replication report")
    _report(lab_a, model, "amber", "Amber replication report")
    _report(lab_a, other, "clear", "Unrelated report")

    page = _html(client.get(reverse("model-detail", args=[model.public_id])))
    url = reverse("model-incidents", args=[model.public_id])
    assert f'hx-get="{url}"' in page and 'hx-trigger="load"' in page
    assert f'<a href="{url}">' in page  # the fallback without JavaScript

    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    html = _html(fragment)
    assert "<html" not in html
    assert public.public_id in html and "Public replication report" in html
    assert "Amber replication report" not in html and "Unrelated report" not in html

    full = _html(client.get(url))
    assert "<html" in full and "Public replication report" in full


def test_the_owning_lab_sees_its_amber_incident_on_the_model(client, lab_a):
    model = FrontierModelFactory(provider=lab_a)
    _report(lab_a, model, "amber", "Amber replication report")
    _member_client(client, lab_a)

    html = _html(
        client.get(reverse("model-incidents", args=[model.public_id]), headers={"HX-Request": "true"})
    )

    assert "Amber replication report" in html


# --- the Inspect import ---------------------------------------------------------------------------------


def _upload(client, name: str, content: bytes | None = None, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = {
        "format": "auto",
        "capability_domain": "end_to_end",
        "scenario_type": "instructed_replication_local",
        "tlp": "clear",
        **fields,
    }
    raw = content if content is not None else (INSPECT / name).read_bytes()
    data["file"] = SimpleUploadedFile(name, raw, content_type="application/octet-stream")
    return client.post(reverse("evaluation-import"), data)


def test_the_import_page_needs_a_signed_in_user(client):
    response = client.get(reverse("evaluation-import"))

    assert response.status_code == 302
    assert reverse("account_login") in response["Location"]


def test_an_inspect_upload_creates_the_results_and_lists_them(client, lab_a, private_storage):
    model = FrontierModelFactory(provider=lab_a, name="Replica-70B")
    _member_client(client, lab_a, Role.LAB_SUBMITTER)

    response = _upload(client, "replication_probe_9of10.eval", model=model.public_id)

    assert response.status_code == 302, _html(response)
    [result] = EvaluationResult.objects.all()
    assert (result.model, result.n_successes, result.n_trials, result.tlp) == (model, 9, 10, "clear")
    assert result.raw_log_name == "replication_probe_9of10.eval"
    page = client.get(response["Location"])
    html = _html(page)
    assert page.status_code == 200
    assert result.public_id in html and "9/10" in html and "red line" in html
    assert len([p for p in private_storage.rglob("*") if p.is_file()]) == 1


def test_an_upload_naming_no_model_registers_the_logs_model(client, lab_a, private_storage):
    _member_client(client, lab_a)

    response = _upload(client, "replication_probe_5of10.json")

    assert response.status_code == 302
    [model] = FrontierModel.objects.all()
    assert model.provider == lab_a and model.name == "model"
    assert EvaluationResult.objects.get().model == model


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "The uploaded file is empty."),
        (b"\x00\x01\x02 not a log", "binary data"),
        (b'{"version": 2, "eval": ', "Inspect"),
    ],
)
def test_a_malformed_file_is_a_form_error_and_nothing_is_created(
    client, lab_a, private_storage, content, message
):
    _member_client(client, lab_a)

    response = _upload(client, "broken.eval", content=content)

    assert response.status_code == 400
    html = _html(response)
    assert "There is a problem" in html
    assert message in html
    assert not EvaluationResult.objects.exists() and not FrontierModel.objects.exists()
    assert not [p for p in private_storage.rglob("*") if p.is_file()]


def test_an_oversized_file_is_a_form_error_and_nothing_is_created(client, lab_a, private_storage, settings):
    _member_client(client, lab_a)
    settings.REDLINE_MAX_IMPORT_BYTES = 1000

    response = _upload(client, "replication_probe_9of10.eval", content=b"{" + b" " * 3000 + b"}")

    assert response.status_code == 400
    assert "the limit is 1000" in _html(response)
    assert not EvaluationResult.objects.exists()


def test_a_body_far_over_the_limit_is_refused_before_it_is_read(client, lab_a, private_storage, settings):
    _member_client(client, lab_a)
    settings.REDLINE_MAX_IMPORT_BYTES = 1000

    response = _upload(client, "replication_probe_9of10.eval", content=b"x" * 200_000)

    assert response.status_code == 413
    assert "Uploads must be at most 1000 bytes." in _html(response)
    assert not EvaluationResult.objects.exists()


def test_importing_for_a_model_the_lab_cannot_see_is_a_form_error(client, lab_a, lab_b, private_storage):
    hidden = FrontierModelFactory(provider=lab_b, tlp="amber")
    _member_client(client, lab_a)

    response = _upload(client, "replication_probe_5of10.eval", model=hidden.public_id)

    assert response.status_code == 400
    assert f"No model {hidden.public_id!r}" in _html(response).replace("&#x27;", "'")
    assert not EvaluationResult.objects.exists()


def test_the_same_file_twice_is_a_form_error_the_second_time(client, lab_a, private_storage):
    _member_client(client, lab_a)
    assert _upload(client, "replication_probe_5of10.eval").status_code == 302

    again = _upload(client, "replication_probe_5of10.eval")

    assert again.status_code == 400
    assert "imported already" in _html(again)
    assert EvaluationResult.objects.count() == 1


def test_a_missing_required_field_is_a_form_error(client, lab_a, private_storage):
    _member_client(client, lab_a)

    response = _upload(client, "replication_probe_5of10.eval", capability_domain="")

    assert response.status_code == 400
    assert 'id="id_capability_domain_error"' in _html(response)
    assert not EvaluationResult.objects.exists()


def test_the_result_page_shows_only_results_the_reader_may_see(client, lab_a, lab_b):
    secret = EvaluationResultFactory(model=FrontierModelFactory(provider=lab_a), tlp="amber")
    _member_client(client, lab_b)

    html = _html(client.get(reverse("evaluation-import-result") + f"?ids={secret.public_id}"))

    assert secret.public_id not in html


def test_every_demo_model_page_renders_for_a_visitor(client, demo_data, django_assert_max_num_queries):
    with django_assert_max_num_queries(8):
        listing = client.get(reverse("model-list") + "?limit=200")
    assert listing.status_code == 200
    clear = FrontierModel.objects.filter(tlp="clear")
    assert clear.exists()
    for model in clear:
        assert model.public_id in _html(listing)
        page = client.get(reverse("model-detail", args=[model.public_id]))
        assert page.status_code == 200, model.public_id
    for model in FrontierModel.objects.exclude(tlp="clear"):
        assert client.get(reverse("model-detail", args=[model.public_id])).status_code == 404
