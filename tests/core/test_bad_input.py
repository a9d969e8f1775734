"""Hostile input never gives a 500 and never writes anything (DESIGN 6 and 9): every malformed, oversized or
mistyped request is a 4xx problem+json with a stable code."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import Organization, Role
from core.models import AuditEvent, IdempotencyRecord
from incidents.models import Incident, IncidentRevision
from registry.models import EvaluationResult, FrontierModel
from tests.conftest import client_for_key
from tests.factories import issue_key
from tests.problems import assert_problem, field_error_codes

MODELS = "/api/v1/models/"
EVALUATIONS = "/api/v1/evaluations/"
INCIDENTS = "/api/v1/incidents/"
VALID_INCIDENT = {
    "record_class": "real_world_incident",
    "title": "Agent copied itself to a second host",
    "description": "A live replica answered on the second host.",
    "submitter_capacity": "provider",
    "instruction_provenance": "uninstructed",
}
VALID_MODEL = {
    "name": "Probe-8B",
    "version": "1",
    "weights_availability": "open",
    "market_status": "on_market",
}


def _valid_evaluation(model_public_id: str) -> dict[str, Any]:
    return {
        "model": model_public_id,
        "task": "self_replication_end_to_end",
        "capability_domain": "end_to_end",
        "scenario_type": "instructed_replication_local",
        "n_trials": 10,
        "n_successes": 5,
    }


@pytest.fixture
def lab_client(lab_a: Organization) -> APIClient:
    _, plaintext = issue_key(lab_a, Role.LAB_SUBMITTER)
    return client_for_key(plaintext)


@pytest.fixture
def registered_model(lab_client: APIClient) -> str:
    response = lab_client.post(MODELS, {**VALID_MODEL, "name": "Existing-70B"}, format="json")
    assert response.status_code == 201, response.content
    public_id: str = response.json()["public_id"]
    return public_id


@pytest.fixture
def valid_bodies(registered_model: str) -> dict[str, dict[str, Any]]:
    return {
        MODELS: dict(VALID_MODEL),
        EVALUATIONS: _valid_evaluation(registered_model),
        INCIDENTS: {**VALID_INCIDENT, "models": [{"model": registered_model, "role": "originating"}]},
    }


def _counts() -> tuple[int, ...]:
    return (
        FrontierModel.objects.count(),
        EvaluationResult.objects.count(),
        Incident.objects.count(),
        IncidentRevision.objects.count(),
        AuditEvent.objects.count(),
        IdempotencyRecord.objects.count(),
    )


def _send(
    client: APIClient,
    path: str,
    raw: bytes,
    content_type: str = "application/json",
    idempotency: bool = False,
) -> Any:
    headers = {"HTTP_IDEMPOTENCY_KEY": f"hostile-{uuid.uuid4().hex}"} if idempotency else {}
    return client.generic("POST", path, raw, content_type=content_type, **headers)


ENDPOINTS = pytest.mark.parametrize(
    "path", [MODELS, EVALUATIONS, INCIDENTS], ids=["models", "evaluations", "incidents"]
)
WITH_AND_WITHOUT_KEY = pytest.mark.parametrize("idempotency", [False, True], ids=["plain", "idempotent"])


def test_the_valid_bodies_are_accepted(lab_client, valid_bodies):
    # The control for every case below: the same bodies, undamaged, are created.
    for path, body in valid_bodies.items():
        assert lab_client.post(path, body, format="json").status_code == 201, path


# --- malformed JSON -----------------------------------------------------------------------------------

MALFORMED: list[tuple[str, bytes, int, str]] = [
    ("deep-arrays", b"[" * 50_000 + b"]" * 50_000, 400, "nesting_too_deep"),
    ("deep-objects", b'{"a":' * 50_000 + b"1" + b"}" * 50_000, 400, "nesting_too_deep"),
    ("deep-mixed", b'[{"a":' * 25_000 + b"1" + b"}]" * 25_000, 400, "nesting_too_deep"),
    ("33-levels", b'{"name":' + b"[" * 33 + b"]" * 33 + b"}", 400, "nesting_too_deep"),
    ("nul-in-value", b'{"name": "a\\u0000b"}', 400, "nul_character"),
    ("nul-in-key", b'{"na\\u0000me": "x"}', 400, "nul_character"),
    ("nul-in-nested-value", b'{"aliases": [{"database": "aiid", "id": "\\u0000"}]}', 400, "nul_character"),
    ("invalid-utf8", b'{"name": "\xff\xfe"}', 400, "invalid_encoding"),
    ("overlong-utf8", b'{"name": "\xc0\xaf"}', 400, "invalid_encoding"),
    ("lone-surrogate", b'{"name": "\\ud800"}', 400, "invalid_unicode"),
    ("lone-surrogate-key", b'{"\\udfff": "x"}', 400, "invalid_unicode"),
    ("duplicate-keys", b'{"name": "a", "name": "b"}', 400, "duplicate_key"),
    ("nan", b'{"name": "x", "parameter_count": NaN}', 400, "invalid_number"),
    ("infinity", b'{"name": "x", "parameter_count": Infinity}', 400, "invalid_number"),
    ("minus-infinity", b'{"name": "x", "parameter_count": -Infinity}', 400, "invalid_number"),
    ("huge-float", b'{"name": "x", "training_compute_flop": 1e400}', 400, "number_out_of_range"),
    ("5000-digit-int", b'{"name": "x", "parameter_count": ' + b"9" * 5000 + b"}", 400, "number_out_of_range"),
    ("5000-digit-float", b'{"n": 0.' + b"1" * 5000 + b"}", 400, "number_out_of_range"),
    ("truncated", b'{"name": ', 400, "malformed_json"),
    ("trailing-garbage", b'{"name": "x"} {}', 400, "malformed_json"),
    ("single-quotes", b"{'name': 'x'}", 400, "malformed_json"),
    ("comment", b'{"name": "x" /* hi */}', 400, "malformed_json"),
    ("not-json", b"name=x", 400, "malformed_json"),
]


@ENDPOINTS
@WITH_AND_WITHOUT_KEY
@pytest.mark.parametrize(
    ("raw", "status", "code"), [case[1:] for case in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_json_is_a_4xx_problem_and_writes_nothing(
    lab_client, registered_model, path, idempotency, raw, status, code
):
    before = _counts()

    response = _send(lab_client, path, raw, idempotency=idempotency)

    assert_problem(response, status, code)
    assert _counts() == before


# --- well-formed JSON of the wrong shape ---------------------------------------------------------------

WRONG_SHAPES: list[tuple[str, Any]] = [
    ("list-at-top-level", []),
    ("list-of-objects-at-top-level", [{"name": "x"}]),
    ("string-at-top-level", "x"),
    ("number-at-top-level", 1),
    ("null-at-top-level", None),
    ("empty-object", {}),
]


@ENDPOINTS
@WITH_AND_WITHOUT_KEY
@pytest.mark.parametrize("body", [case[1] for case in WRONG_SHAPES], ids=[c[0] for c in WRONG_SHAPES])
def test_a_body_that_is_not_the_expected_object_is_a_400(
    lab_client, registered_model, path, idempotency, body
):
    before = _counts()

    response = _send(lab_client, path, json.dumps(body).encode(), idempotency=idempotency)

    assert_problem(response, 400, "validation_error")
    assert _counts() == before


MODEL_WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("string-for-int", {"parameter_count": "seventy billion"}, "parameter_count"),
    ("float-for-int", {"parameter_count": 1.5}, "parameter_count"),
    ("huge-int", {"parameter_count": 10**19}, "parameter_count"),
    ("object-for-string", {"name": {"first": "x"}}, "name"),
    ("list-for-string", {"name": ["x"]}, "name"),
    ("bool-for-string", {"name": True}, "name"),
    ("object-for-list", {"distribution_methods": {"a": 1}}, "distribution_methods"),
    ("list-for-object", {"external_references": [["paper"]]}, "external_references[0]"),
    ("object-for-list-of-objects", {"aliases": {"database": "aiid"}}, "aliases"),
    ("bad-choice", {"weights_availability": "leaked"}, "weights_availability"),
    ("bad-date", {"release_date": "yesterday"}, "release_date"),
    ("bad-tlp", {"tlp": "purple"}, "tlp"),
    ("too-long", {"name": "x" * 201}, "name"),
]

EVALUATION_WRONG_TYPES: list[tuple[str, dict[str, Any], str]] = [
    ("string-for-int", {"n_trials": "ten"}, "n_trials"),
    ("negative-int", {"n_successes": -1}, "n_successes"),
    ("list-for-object", {"environment": ["isolated VM"]}, "environment"),
    ("string-for-object", {"config": "fast"}, "config"),
    ("nested-string-for-int", {"config": {"epochs": "many"}}, "config.epochs"),
    ("list-item-wrong-type", {"observed_behaviours": ["self_location"]}, "observed_behaviours[0]"),
    ("bad-datetime", {"run_started_at": "2025-13-45T99:99:99Z"}, "run_started_at"),
    ("overflowing-datetime", {"run_started_at": "9999-12-31T23:59:59-14:00"}, "run_started_at"),
    ("object-for-model-ref", {"model": {"id": 1}}, "model"),
]


@WITH_AND_WITHOUT_KEY
@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in MODEL_WRONG_TYPES], ids=[c[0] for c in MODEL_WRONG_TYPES]
)
def test_a_model_field_of_the_wrong_type_is_a_400_field_error(
    lab_client, valid_bodies, idempotency, change, field
):
    before = _counts()
    raw = json.dumps({**valid_bodies[MODELS], **change}).encode()

    body = assert_problem(_send(lab_client, MODELS, raw, idempotency=idempotency), 400, "validation_error")

    assert field in field_error_codes(body), body["errors"]
    assert _counts() == before


@WITH_AND_WITHOUT_KEY
@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in EVALUATION_WRONG_TYPES], ids=[c[0] for c in EVALUATION_WRONG_TYPES]
)
def test_an_evaluation_field_of_the_wrong_type_is_a_400_field_error(
    lab_client, valid_bodies, idempotency, change, field
):
    before = _counts()
    raw = json.dumps({**valid_bodies[EVALUATIONS], **change}).encode()

    body = assert_problem(
        _send(lab_client, EVALUATIONS, raw, idempotency=idempotency), 400, "validation_error"
    )

    assert field in field_error_codes(body), body["errors"]
    assert _counts() == before


UNKNOWN_FIELDS = [
    "status",
    "owner_org",
    "created_at",
    "modified_at",
    "public_id",
    "id",
    "TLP",
    "tlp_level",
    "tlp ",
]


@ENDPOINTS
@pytest.mark.parametrize("field", UNKNOWN_FIELDS)
def test_an_unknown_or_read_only_field_is_a_400_unknown_field(lab_client, valid_bodies, path, field):
    before = _counts()
    raw = json.dumps({**valid_bodies[path], field: "clear"}).encode()

    body = assert_problem(_send(lab_client, path, raw), 400, "validation_error")

    assert field_error_codes(body) == {field: "unknown_field"}
    assert _counts() == before


@ENDPOINTS
def test_an_unknown_field_in_a_nested_object_is_a_400_unknown_field(lab_client, valid_bodies, path):
    before = _counts()
    body = {**valid_bodies[path], "external_references": [{"source_name": "paper", "sneaky": 1}]}

    problem = assert_problem(_send(lab_client, path, json.dumps(body).encode()), 400, "validation_error")

    assert field_error_codes(problem) == {"external_references[0].sneaky": "unknown_field"}
    assert _counts() == before


# --- size, media type, emptiness -------------------------------------------------------------------------


@ENDPOINTS
@WITH_AND_WITHOUT_KEY
def test_a_10_mb_body_is_a_413(lab_client, valid_bodies, path, idempotency):
    before = _counts()
    raw = json.dumps({**valid_bodies[path], "description": "x" * (10 * 1024 * 1024)}).encode()

    assert_problem(_send(lab_client, path, raw, idempotency=idempotency), 413, "payload_too_large")
    assert _counts() == before


@ENDPOINTS
@pytest.mark.parametrize(
    "content_type",
    [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/jsonx",
        "",
    ],
)
def test_a_body_that_is_not_json_is_a_415(lab_client, valid_bodies, path, content_type):
    before = _counts()

    response = _send(lab_client, path, json.dumps(valid_bodies[path]).encode(), content_type=content_type)

    assert_problem(response, 415, "unsupported_media_type")
    assert _counts() == before


@ENDPOINTS
@WITH_AND_WITHOUT_KEY
@pytest.mark.parametrize("raw", [b"", b"   \n\t "], ids=["empty", "whitespace"])
def test_an_empty_body_is_a_400(lab_client, registered_model, path, idempotency, raw):
    before = _counts()

    body = assert_problem(_send(lab_client, path, raw, idempotency=idempotency), 400, "validation_error")

    assert "required" in field_error_codes(body).values()
    assert _counts() == before


# --- query strings -------------------------------------------------------------------------------------


def _b64(value: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


QUERY_ABUSE: list[tuple[str, dict[str, str], str]] = [
    ("limit-0", {"limit": "0"}, "invalid_limit"),
    ("limit-huge", {"limit": "100000"}, "invalid_limit"),
    ("limit-abc", {"limit": "abc"}, "invalid_limit"),
    ("limit-negative", {"limit": "-1"}, "invalid_limit"),
    ("limit-float", {"limit": "1.5"}, "invalid_limit"),
    ("limit-empty", {"limit": ""}, "invalid_limit"),
    ("limit-superscript", {"limit": "²"}, "invalid_limit"),
    ("limit-arabic-digits", {"limit": "١٠"}, "invalid_limit"),
    ("limit-5000-digits", {"limit": "9" * 5000}, "invalid_limit"),
    ("limit-trailing-newline", {"limit": "5\n"}, "invalid_limit"),
    ("cursor-garbage", {"cursor": "garbage"}, "invalid_cursor"),
    ("cursor-not-base64", {"cursor": "!!!***"}, "invalid_cursor"),
    ("cursor-non-uuid", {"cursor": _b64(["2025-01-01T00:00:00+00:00", "not-a-uuid"])}, "invalid_cursor"),
    ("cursor-non-date", {"cursor": _b64(["yesterday", str(uuid.uuid4())])}, "invalid_cursor"),
    ("cursor-bad-date", {"cursor": _b64(["2025-02-30T00:00:00+00:00", str(uuid.uuid4())])}, "invalid_cursor"),
    ("cursor-naive-date", {"cursor": _b64(["2025-01-01T00:00:00", str(uuid.uuid4())])}, "invalid_cursor"),
    ("cursor-number", {"cursor": _b64(12)}, "invalid_cursor"),
    ("cursor-object", {"cursor": _b64({"a": 1, "b": 2})}, "invalid_cursor"),
    (
        "cursor-three-items",
        {"cursor": _b64(["2025-01-01T00:00:00+00:00", str(uuid.uuid4()), 1])},
        "invalid_cursor",
    ),
    ("cursor-nul", {"cursor": "\x00"}, "invalid_cursor"),
    ("cursor-huge", {"cursor": "A" * 5000}, "invalid_cursor"),
    ("modified-after-notadate", {"modified_after": "notadate"}, "validation_error"),
    ("modified-after-nul", {"modified_after": "2025-01-01\x00"}, "validation_error"),
    ("ordering-evil", {"ordering": "evil"}, "invalid_ordering"),
    ("ordering-sql", {"ordering": "name; DROP TABLE registry_frontiermodel"}, "invalid_ordering"),
    ("ordering-other-field", {"ordering": "-created_at"}, "invalid_ordering"),
    ("search-5000-chars", {"search": "x" * 5000}, "validation_error"),
    ("search-nul", {"search": "a\x00b"}, "validation_error"),
    ("provider-nul", {"provider": "\x00"}, "validation_error"),
    ("bad-choice-filter", {"weights_availability": "leaked"}, "validation_error"),
    ("bad-boolean-filter", {"red_line": "maybe"}, "validation_error"),
]


@pytest.mark.parametrize(("params", "code"), [c[1:] for c in QUERY_ABUSE], ids=[c[0] for c in QUERY_ABUSE])
@pytest.mark.parametrize("who", ["anonymous", "lab"])
def test_query_string_abuse_on_the_model_list_is_a_400(lab_client, registered_model, params, code, who):
    client = lab_client if who == "lab" else APIClient()

    assert_problem(client.get(MODELS, params), 400, code)


@pytest.mark.parametrize(
    ("params", "found"),
    [
        ({"modified_after": "9999-12-31T23:59:59-14:00"}, 0),
        ({"modified_after": "0001-01-01T00:00:00+14:00"}, 1),
        ({"cursor": _b64(["0001-01-01T00:00:00+00:00", str(uuid.uuid4())])}, 0),
        (
            {
                "cursor": _b64(["9999-12-31T23:59:59.999999+00:00", str(uuid.uuid4())]),
                "ordering": "modified_at",
            },
            0,
        ),
        ({"search": "%_\\'\""}, 0),
        ({"search": "Existing-70B"}, 1),
    ],
    ids=["far-future", "far-past", "cursor-year-1", "cursor-year-9999", "like-wildcards", "control"],
)
def test_extreme_but_valid_query_values_are_answered_not_crashed(lab_client, registered_model, params, found):
    response = lab_client.get(MODELS, params)

    assert response.status_code == 200, response.content
    assert len(response.json()["results"]) == found


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"record_class": "alien_contact"}, "record_class"),
        ({"instruction_provenance": "telepathy"}, "instruction_provenance"),
        ({"tlp": "purple"}, "tlp"),
        ({"severity": "apocalyptic"}, "severity"),
        ({"provider_aware_at": "2999-01-01T00:00:00Z"}, "provider_aware_at"),
        ({"occurred_start": "2026-01-02T00:00:00Z", "occurred_end": "2026-01-01T00:00:00Z"}, "occurred_end"),
        ({"countries": ["France"]}, "countries"),
        ({"replica_count": -1}, "replica_count"),
        ({"models": [{"role": "originating"}]}, "models"),
    ],
)
def test_an_incident_with_a_bad_value_is_a_400_and_files_nothing(lab_client, valid_bodies, change, field):
    before = _counts()
    raw = json.dumps({**valid_bodies[INCIDENTS], **change}).encode()
    response = _send(lab_client, INCIDENTS, raw)
    body = assert_problem(response, 400)
    assert any(error["field"].startswith(field) for error in body["errors"]), body
    assert _counts() == before
