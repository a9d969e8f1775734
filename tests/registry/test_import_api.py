"""Importing evaluation files (POST /api/v1/evaluations/import and `manage.py import_evaluations`) with the
real Inspect logs in tests/fixtures/inspect (written by inspect_ai, scripts/make_inspect_logs.py) and a
Hugging Face model-index."""

from __future__ import annotations

import hashlib
import io
import json
import random
import struct
import zipfile
from io import StringIO
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command

from accounts.models import Role
from registry.models import EvaluationResult, FrontierModel
from tests.factories import EvaluationResultFactory, FrontierModelFactory, OrganizationFactory

pytestmark = pytest.mark.django_db

IMPORT = "/api/v1/evaluations/import"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
INSPECT = FIXTURES / "inspect"
HF_YAML = FIXTURES / "huggingface" / "model_index.yaml"
FORM = {"capability_domain": "end_to_end", "scenario_type": "instructed_replication_local"}


def _bytes(name: str) -> bytes:
    return (INSPECT / name).read_bytes()


def _import(
    client, content: bytes, filename: str = "log.eval", headers: dict[str, str] | None = None, **form
):
    fields = {**FORM, **form}
    fields = {key: value for key, value in fields.items() if value is not None}
    upload = SimpleUploadedFile(filename, content, content_type="application/octet-stream")
    return client.post(IMPORT, {**fields, "file": upload}, format="multipart", headers=headers or {})


def _stored(folder: Path) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}


def _download(client, public_id: str):
    return client.get(f"/api/v1/evaluations/{public_id}/raw-log")


# --- the Inspect fixtures -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "successes", "lower", "upper", "import_format"),
    [
        ("replication_probe_5of10.eval", 5, 0.2366, 0.7634, "inspect_eval"),
        ("replication_probe_5of10.json", 5, 0.2366, 0.7634, "inspect_json"),
        ("replication_probe_9of10.eval", 9, 0.5958, 0.9821, "inspect_eval"),
        ("replication_probe_9of10.json", 9, 0.5958, 0.9821, "inspect_json"),
    ],
)
def test_it_imports_a_real_inspect_log(
    client_a, private_storage, name, successes, lower, upper, import_format
):
    content = _bytes(name)

    response = _import(client_a, content, filename=name)

    assert response.status_code == 201, response.content
    body = response.json()
    assert body["sha256"] == hashlib.sha256(content).hexdigest()
    [result] = body["evaluations"]
    assert response["Location"] == f"/api/v1/evaluations/{result['public_id']}"
    assert (result["n_trials"], result["n_completed"], result["n_successes"]) == (10, 10, successes)
    assert result["metric"] == "success_rate" and result["metric_name"] == "accuracy"
    assert result["metric_value"] == pytest.approx(successes / 10)
    assert result["wilson_interval"]["lower"] == pytest.approx(lower, abs=1e-4)
    assert result["wilson_interval"]["upper"] == pytest.approx(upper, abs=1e-4)
    assert result["task"] == "replication_probe"
    assert (result["capability_domain"], result["scenario_type"]) == (
        "end_to_end",
        "instructed_replication_local",
    )
    assert result["tlp"] == "amber" and result["owner_org"] == "lab-a"
    assert result["raw_log"]["sha256"] == hashlib.sha256(content).hexdigest()
    assert result["raw_log"]["size"] == len(content)
    assert result["raw_log"]["name"] == name
    assert result["raw_log"]["format"] == import_format
    assert result["run_started_at"] is not None
    assert len(_stored(private_storage)) == 1


def test_the_raw_log_downloads_byte_for_byte_for_a_reader_who_may_see_it(
    client_a, client_b, anon, regulator_client, private_storage
):
    content = _bytes("replication_probe_5of10.eval")
    public_id = _import(client_a, content).json()["evaluations"][0]["public_id"]

    response = _download(client_a, public_id)

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == content
    assert response["Content-Type"] == "application/octet-stream"
    assert "log.eval" in response["Content-Disposition"]
    assert b"".join(_download(regulator_client, public_id).streaming_content) == content
    for outsider in (client_b, anon):
        hidden = _download(outsider, public_id)
        assert hidden.status_code == 404
        assert hidden["Content-Type"] == "application/problem+json"


def test_a_result_recorded_without_a_file_has_no_raw_log(client_a, lab_a):
    evaluation = EvaluationResultFactory(model=FrontierModelFactory(provider=lab_a))

    response = _download(client_a, evaluation.public_id)

    assert response.status_code == 404
    assert response.json()["code"] == "no_raw_log"


def test_an_unknown_log_model_is_registered_for_the_lab_and_reused(client_a, lab_a, private_storage):
    first = _import(client_a, _bytes("replication_probe_5of10.eval")).json()

    [created] = first["created_models"]
    model = FrontierModel.objects.get(public_id=created)
    assert (model.provider, model.name, model.tlp) == (lab_a, "model", "amber")
    assert model.external_references == [{"source_name": "import", "external_id": "mockllm/model", "url": ""}]
    assert first["evaluations"][0]["model"] == created

    second = _import(client_a, _bytes("replication_probe_9of10.eval")).json()

    assert second["created_models"] == []
    assert second["evaluations"][0]["model"] == created
    assert FrontierModel.objects.count() == 1


def test_a_model_registered_by_a_public_import_is_as_public_as_its_results(client_a, anon, private_storage):
    response = _import(client_a, _bytes("replication_probe_5of10.eval"), tlp="clear")

    assert response.status_code == 201, response.content
    [created] = response.json()["created_models"]
    assert anon.get(f"/api/v1/models/{created}").json()["tlp"] == "clear"
    assert anon.get(response["Location"]).status_code == 200


def test_an_import_names_the_model_explicitly(client_a, lab_a, private_storage):
    model = FrontierModelFactory(provider=lab_a, name="Replica-70B", tlp="clear")

    response = _import(client_a, _bytes("replication_probe_9of10.json"), model=model.public_id, tlp="clear")

    assert response.status_code == 201, response.content
    assert response.json()["created_models"] == []
    assert response.json()["evaluations"][0]["model"] == model.public_id
    assert response.json()["evaluations"][0]["tlp"] == "clear"


def test_an_import_for_a_model_the_lab_cannot_see_is_404(client_a, lab_b, private_storage):
    hidden = FrontierModelFactory(provider=lab_b, tlp="amber")

    response = _import(client_a, _bytes("replication_probe_5of10.eval"), model=hidden.public_id)

    assert response.status_code == 404
    assert not EvaluationResult.objects.exists()
    assert _stored(private_storage) == set()


def test_a_retry_with_the_same_idempotency_key_replays_the_first_response(client_a, private_storage):
    content = _bytes("replication_probe_5of10.eval")
    key = {"Idempotency-Key": "ci-run-4711"}
    first = _import(client_a, content, headers=key)
    assert first.status_code == 201
    rows = (FrontierModel.objects.count(), EvaluationResult.objects.count())

    again = _import(client_a, content, headers=key)

    assert again.status_code == 201
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert again["Location"] == first["Location"]
    assert (FrontierModel.objects.count(), EvaluationResult.objects.count()) == rows == (1, 1)
    assert "Idempotent-Replayed" not in first


def test_the_same_key_with_another_file_is_422(client_a, private_storage):
    key = {"Idempotency-Key": "ci-run-4712"}
    assert _import(client_a, _bytes("replication_probe_5of10.eval"), headers=key).status_code == 201

    response = _import(client_a, _bytes("replication_probe_9of10.eval"), headers=key)

    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert EvaluationResult.objects.count() == 1


def test_the_same_file_again_without_the_key_is_a_409_duplicate(client_a, private_storage):
    content = _bytes("replication_probe_5of10.eval")
    first = _import(client_a, content).json()

    for headers in ({}, {"Idempotency-Key": "another-key"}):
        response = _import(client_a, content, headers=headers)

        assert response.status_code == 409
        assert response.json()["code"] == "duplicate_import"
        assert first["evaluations"][0]["public_id"] in response.json()["detail"]
    assert EvaluationResult.objects.count() == 1


def test_two_labs_may_import_the_same_file(client_a, client_b, private_storage):
    content = _bytes("replication_probe_5of10.eval")

    assert _import(client_a, content).status_code == 201
    assert _import(client_b, content).status_code == 201
    assert len(_stored(private_storage)) == 2


def test_a_superseded_import_still_counts_as_imported(client_a, private_storage):
    content = _bytes("replication_probe_5of10.eval")
    old = _import(client_a, content).json()["evaluations"][0]["public_id"]
    corrected = client_a.post(
        f"/api/v1/evaluations/{old}/supersede", {"n_successes": 4, "reason": "Recount."}
    )
    assert corrected.status_code == 201
    assert corrected.json()["raw_log"]["sha256"] == hashlib.sha256(content).hexdigest()

    assert _import(client_a, content).json()["code"] == "duplicate_import"


def test_a_hugging_face_model_index_imports(client_a, lab_a, private_storage):
    content = HF_YAML.read_bytes()

    response = _import(client_a, content, filename="model_index.yaml")

    assert response.status_code == 201, response.content
    body = response.json()
    [created] = body["created_models"]
    model = FrontierModel.objects.get(public_id=created)
    assert (model.name, model.huggingface_repo, model.provider) == (
        "replica-probe-7b",
        "example-org/replica-probe-7b",
        lab_a,
    )
    rows = {(r["task"], r["metric"], r["n_trials"], r["n_successes"]) for r in body["evaluations"]}
    assert ("self-replication", "success_rate", 10, 3) in rows
    assert ("text-generation", "pass_at_k", None, None) in rows
    rate = next(r for r in body["evaluations"] if r["metric"] == "success_rate")
    assert rate["wilson_interval"]["lower"] == pytest.approx(0.1078, abs=1e-4)
    assert {r["raw_log"]["format"] for r in body["evaluations"]} == {"hf_model_index"}
    assert len(_stored(private_storage)) == 1


def test_the_scorer_can_be_chosen_and_an_unknown_one_is_400(client_a, private_storage):
    response = _import(client_a, _bytes("replication_probe_5of10.eval"), scorer="no_such_scorer")

    assert response.status_code == 400
    assert response.json()["code"] == "scorer_not_found"


# --- files that must be refused -----------------------------------------------------------------------


def _eval_member_range(data: bytes, member: str) -> tuple[int, int]:
    """Where a member's compressed bytes lie in a zip (after its local header, name and extra field)."""
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        info = archive.getinfo(member)
    name_length, extra_length = struct.unpack("<HH", data[info.header_offset + 26 : info.header_offset + 30])
    start = info.header_offset + 30 + name_length + extra_length
    return start, start + info.compress_size


def _truncated() -> bytes:
    data = _bytes("replication_probe_5of10.eval")
    return data[: len(data) // 2]


def _corrupted() -> bytes:
    data = bytearray(_bytes("replication_probe_5of10.eval"))
    middle = len(data) // 2
    for position in range(middle, middle + 32):
        data[position] ^= 0xFF
    return bytes(data)


def _corrupted_sample() -> bytes:
    data = bytearray(_bytes("replication_probe_5of10.eval"))
    start, end = _eval_member_range(bytes(data), "samples/probe-05_epoch_1.json")
    for position in range((start + end) // 2, (start + end) // 2 + 8):
        data[position] ^= 0xFF
    return bytes(data)


def _other_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("report.csv", "model,successes\nx,5\n")
    return buffer.getvalue()


def _png() -> bytes:
    return b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x02\x00\x00\x00" + bytes(
        64
    )


def _version_1() -> bytes:
    log = json.loads(_bytes("replication_probe_5of10.json"))
    log["version"] = 1
    return json.dumps(log).encode()


BAD_FILES = [
    ("truncated.eval", _truncated, "truncated_archive"),
    ("corrupted.eval", _corrupted, "corrupt_archive"),
    ("corrupted-sample.eval", _corrupted_sample, "corrupt_archive"),
    ("report.zip", _other_zip, "not_inspect_log"),
    ("noise.bin", lambda: random.Random(3).randbytes(4096), "unrecognized_format"),
    ("brace-noise.bin", lambda: b"{" + random.Random(7).randbytes(4095), "unrecognized_format"),
    ("empty.eval", lambda: b"", "empty_file"),
    ("chart.png", _png, "unrecognized_format"),
    ("old.json", _version_1, "unsupported_log_version"),
    ("notes.txt", lambda: b"just some notes\n", "invalid_model_index"),
    ("other.json", lambda: b'{"tool": "other", "results": []}', "not_inspect_log"),
    ("broken.json", lambda: b'{"version": 2, "eval": ', "invalid_json"),
]


@pytest.mark.parametrize(("filename", "make", "code"), BAD_FILES, ids=[f[0] for f in BAD_FILES])
def test_a_bad_file_is_a_4xx_problem_that_creates_nothing(client_a, private_storage, filename, make, code):
    response = _import(client_a, make(), filename=filename)

    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert not FrontierModel.objects.exists()
    assert not EvaluationResult.objects.exists()
    assert _stored(private_storage) == set()


def test_an_oversized_file_is_413_and_creates_nothing(client_a, private_storage, settings):
    settings.REDLINE_MAX_IMPORT_BYTES = 1000

    response = _import(client_a, _bytes("replication_probe_5of10.eval"))

    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert not EvaluationResult.objects.exists() and not FrontierModel.objects.exists()
    assert _stored(private_storage) == set()


@pytest.mark.parametrize("missing", ["capability_domain", "scenario_type"])
def test_an_import_without_what_the_file_cannot_say_is_400(client_a, private_storage, missing):
    response = _import(client_a, _bytes("replication_probe_5of10.eval"), **{missing: None})

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == [missing]
    assert not EvaluationResult.objects.exists() and not FrontierModel.objects.exists()
    assert _stored(private_storage) == set()


def test_an_import_without_a_file_is_400(client_a):
    response = client_a.post(IMPORT, FORM, format="multipart")

    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["file"]


def test_an_import_as_json_instead_of_multipart_is_415(client_a):
    response = client_a.post(IMPORT, {**FORM, "file": "x"}, format="json")

    assert response.status_code == 415
    assert response["Content-Type"] == "application/problem+json"


# --- who may import -----------------------------------------------------------------------------------


def test_an_evaluator_cannot_register_an_unknown_model_by_importing(make_key_client, private_storage):
    evaluator = make_key_client(OrganizationFactory(short_name="aisi", kind="evaluator"))

    response = _import(evaluator, _bytes("replication_probe_5of10.eval"))

    assert response.status_code == 400
    assert response.json()["code"] == "model_not_registered"
    assert not FrontierModel.objects.exists() and not EvaluationResult.objects.exists()
    assert _stored(private_storage) == set()


def test_an_import_refused_by_its_last_entry_leaves_nothing_stored(make_key_client, lab_a, private_storage):
    FrontierModelFactory(provider=lab_a, name="known-7b", huggingface_repo="example-org/known-7b")
    evaluator = make_key_client(OrganizationFactory(short_name="aisi", kind="evaluator"))
    entry = (
        "  - name: example-org/{name}\n    results:\n      - task: {{type: self-replication}}\n"
        "        dataset: {{type: probe, name: Probe}}\n"
        "        metrics:\n"
        "          - {{type: accuracy, value: 0.5, args: {{n_trials: 10, n_successes: 5}}}}\n"
    )
    document = "model-index:\n" + entry.format(name="known-7b") + entry.format(name="unknown-7b")

    response = _import(evaluator, document.encode(), filename="two.yaml")

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "model_not_registered"
    assert not EvaluationResult.objects.exists()
    assert _stored(private_storage) == set()


def test_an_evaluator_imports_for_a_registered_model_as_a_third_party(
    make_key_client, lab_a, private_storage
):
    FrontierModelFactory(provider=lab_a, name="model", tlp="clear")
    evaluator = make_key_client(OrganizationFactory(short_name="aisi", kind="evaluator"))

    response = _import(evaluator, _bytes("replication_probe_9of10.eval"))

    assert response.status_code == 201, response.content
    [result] = response.json()["evaluations"]
    assert result["evaluator_org"] == "aisi"
    assert result["evaluator_type"] == "independent_third_party"


def test_a_regulator_imports_only_for_a_registered_model(regulator_client, lab_a, private_storage):
    unknown = _import(regulator_client, _bytes("replication_probe_5of10.eval"))
    assert unknown.status_code == 400 and unknown.json()["code"] == "model_not_registered"
    model = FrontierModelFactory(provider=lab_a, name="Replica", tlp="clear")

    response = _import(
        regulator_client,
        _bytes("replication_probe_5of10.eval"),
        model=model.public_id,
        verification_status="reproduced",
    )

    assert response.status_code == 201, response.content
    assert response.json()["evaluations"][0]["verification_status"] == "reproduced"


def test_a_key_without_the_registry_write_scope_cannot_import(
    make_key_client, regulator_org, private_storage
):
    read_only = make_key_client(regulator_org, role=Role.REGULATOR, scopes=[])

    response = _import(read_only, _bytes("replication_probe_5of10.eval"))

    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"
    assert not EvaluationResult.objects.exists()


def test_an_anonymous_caller_cannot_import(anon, private_storage):
    response = _import(anon, _bytes("replication_probe_5of10.eval"))

    assert response.status_code == 401
    assert not EvaluationResult.objects.exists()
    assert _stored(private_storage) == set()


def test_a_lab_cannot_claim_verification_through_an_import(client_a, private_storage):
    response = _import(
        client_a, _bytes("replication_probe_5of10.eval"), verification_status="registry_verified"
    )

    assert response.status_code == 403
    assert response.json()["code"] == "verification_reserved"
    assert not FrontierModel.objects.exists() and not EvaluationResult.objects.exists()
    assert _stored(private_storage) == set()


# --- manage.py import_evaluations ---------------------------------------------------------------------


def _command(*files: Path, org: str = "lab-a", **options: str) -> str:
    out = StringIO()
    args = [str(f) for f in files] + ["--org", org]
    args += ["--capability-domain", options.pop("capability_domain", "end_to_end")]
    args += ["--scenario-type", options.pop("scenario_type", "instructed_replication_local")]
    for name, value in options.items():
        args += [f"--{name.replace('_', '-')}", value]
    call_command("import_evaluations", *args, stdout=out)
    return out.getvalue()


def test_the_command_imports_files_and_prints_the_public_ids(lab_a, private_storage):
    output = _command(INSPECT / "replication_probe_5of10.eval", INSPECT / "replication_probe_9of10.json")

    results = list(EvaluationResult.objects.order_by("public_id"))
    assert [(r.n_trials, r.n_successes) for r in results] == [(10, 5), (10, 9)]
    model = FrontierModel.objects.get()
    assert model.provider == lab_a and model.name == "model"
    for result in results:
        assert result.public_id in output
        assert result.owner_org == lab_a and result.model == model
        assert result.submitted_by == "import_evaluations@lab-a"
        assert result.wilson_lower is not None and result.tlp == "amber"
    assert model.public_id in output
    assert results[0].raw_log_sha256 == hashlib.sha256(_bytes("replication_probe_5of10.eval")).hexdigest()
    assert len(_stored(private_storage)) == 2


def test_the_command_honours_model_tlp_and_scorer(lab_a, anon, private_storage):
    model = FrontierModelFactory(provider=lab_a, name="Replica", tlp="clear")

    output = _command(
        INSPECT / "replication_probe_9of10.eval", model=model.public_id, tlp="clear", scorer="includes"
    )

    result = EvaluationResult.objects.get()
    assert result.model == model and result.tlp == "clear"
    assert result.public_id in output
    assert anon.get(f"/api/v1/evaluations/{result.public_id}").status_code == 200


def test_the_command_imports_a_hugging_face_model_index(lab_a, private_storage):
    _command(HF_YAML, format="huggingface")

    assert EvaluationResult.objects.filter(import_format="hf_model_index").count() == 3
    assert FrontierModel.objects.get().huggingface_repo == "example-org/replica-probe-7b"


def test_the_command_refuses_a_bad_file_with_its_code_and_creates_nothing(lab_a, private_storage, tmp_path):
    bad = tmp_path / "cut.eval"
    bad.write_bytes(_truncated())

    with pytest.raises(CommandError, match=r"^truncated_archive: .*cut\.eval"):
        _command(INSPECT / "replication_probe_5of10.eval", bad)

    assert not FrontierModel.objects.exists() and not EvaluationResult.objects.exists()
    assert _stored(private_storage) == set()


def test_the_command_refuses_a_duplicate_and_rolls_back_the_whole_batch(lab_a, private_storage):
    _command(INSPECT / "replication_probe_5of10.eval")

    with pytest.raises(CommandError, match=r"^duplicate_import: "):
        _command(INSPECT / "replication_probe_9of10.eval", INSPECT / "replication_probe_5of10.eval")

    assert EvaluationResult.objects.count() == 1


def test_the_command_applies_the_same_rules_as_the_api(private_storage):
    OrganizationFactory(short_name="aisi", kind="evaluator")

    with pytest.raises(CommandError, match=r"^model_not_registered: "):
        _command(INSPECT / "replication_probe_5of10.eval", org="aisi")

    assert not FrontierModel.objects.exists() and not EvaluationResult.objects.exists()


def test_the_command_refuses_an_unknown_org_a_hidden_model_and_a_missing_file(lab_a, lab_b, tmp_path):
    hidden = FrontierModelFactory(provider=lab_b, tlp="amber")
    log = INSPECT / "replication_probe_5of10.eval"

    with pytest.raises(CommandError, match="no organisation 'nobody'"):
        _command(log, org="nobody")
    with pytest.raises(CommandError, match=r"^not_found: "):
        _command(log, model=hidden.public_id)
    with pytest.raises(CommandError, match=r"^unreadable_file: "):
        _command(tmp_path / "missing.eval")
    assert not EvaluationResult.objects.exists()


def test_the_command_refuses_an_oversized_file(lab_a, settings):
    settings.REDLINE_MAX_IMPORT_BYTES = 1000

    with pytest.raises(CommandError, match=r"^payload_too_large: "):
        _command(INSPECT / "replication_probe_5of10.eval")

    assert not EvaluationResult.objects.exists()
