"""The published contract: the committed OpenAPI file and JSON Schemas, the offline docs pages."""

from __future__ import annotations

import json
import re

import pytest
import yaml
from django.contrib.staticfiles import finders
from django.core.management import call_command
from jsonschema import Draft202012Validator

from api_docs import contract, examples

EXTERNAL_URL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.IGNORECASE)


def test_committed_openapi_and_json_schemas_match_the_code():
    call_command("export_api_contract", "--check")  # raises CommandError on drift


def test_openapi_is_3_1_with_the_api_key_scheme_and_tags():
    document = contract.load_committed_openapi()
    assert document["openapi"] == "3.1.0"
    schemes = document["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {
        "type": "apiKey",
        "in": "header",
        "name": "Authorization",
        "description": "An organisation API key: `Authorization: Api-Key <prefix>.<secret>`.",
    }
    tags = {
        tag
        for item in document["paths"].values()
        for op in item.values()
        if isinstance(op, dict)
        for tag in op.get("tags", [])
    }
    assert {"models", "scaffolds", "evaluations", "api-keys", "organizations"} <= tags


def test_every_write_operation_has_an_example_and_problem_responses():
    document = contract.load_committed_openapi()
    writes = [
        (path, method, op)
        for path, item in document["paths"].items()
        for method, op in item.items()
        if method in ("post", "patch", "put")
    ]
    assert len(writes) >= 8
    for path, method, op in writes:
        content = op["requestBody"]["content"]
        assert any("examples" in media for media in content.values()), f"{method} {path} has no example"
        assert "application/problem+json" in op["responses"]["400"]["content"], f"{method} {path}"
        assert any(k in op["responses"] for k in ("401", "403")), f"{method} {path}"


def test_request_bodies_reject_unknown_fields_in_the_contract():
    schema = contract.load_published_schema("evaluation")
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("name", sorted(contract.PUBLISHED_SCHEMAS))
def test_json_schemas_are_served_at_stable_urls(client, name):
    response = client.get(f"/schemas/{name}/v1.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/schema+json"
    document = json.loads(response.content)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"].endswith(f"/schemas/{name}/v1.json")
    Draft202012Validator.check_schema(document)


def test_unknown_schema_is_a_problem_404(client):
    response = client.get("/schemas/nothing/v1.json")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize(
    ("name", "example"),
    [
        ("model", examples.MODEL_CREATE),
        ("scaffold", examples.SCAFFOLD_CREATE),
        ("evaluation", examples.EVALUATION_CREATE),
    ],
)
def test_documented_examples_validate_against_the_published_schemas(name, example):
    errors = list(Draft202012Validator(contract.load_published_schema(name)).iter_errors(example))
    assert errors == []


def test_the_schema_rejects_what_the_api_rejects():
    validator = Draft202012Validator(contract.load_published_schema("evaluation"))
    bad = {**examples.EVALUATION_CREATE, "status": "accepted"}
    assert any(e.validator == "additionalProperties" for e in validator.iter_errors(bad))
    assert any(
        e.validator == "enum" or e.validator == "$ref" or "not one of" in e.message
        for e in validator.iter_errors({**examples.EVALUATION_CREATE, "tlp": "purple"})
    )


def test_live_schema_endpoint_equals_the_committed_file(client):
    response = client.get("/api/v1/schema/", HTTP_ACCEPT="application/vnd.oai.openapi")
    assert response.status_code == 200
    assert yaml.safe_load(response.content) == contract.load_committed_openapi()


@pytest.mark.parametrize("path", ["/api/v1/docs/", "/api/v1/redoc/"])
def test_docs_pages_load_nothing_from_another_origin(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.content.decode()
    assert not EXTERNAL_URL.search(html), EXTERNAL_URL.search(html)
    assert "fonts.googleapis" not in html
    assert "<script>" not in html  # no inline script: the CSP forbids it
    for asset in re.findall(r"""(?:src|href)="/static/([^"]+)\"""", html):
        assert finders.find(asset), f"missing vendored asset {asset}"
    csp = response["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-eval" not in csp
    assert "default-src 'self'" in csp


def test_swagger_ui_does_not_call_the_external_validator(client):
    script = client.get("/api/v1/docs/?script=").content.decode()
    assert '"validatorUrl": null' in script


@pytest.mark.django_db
def test_submissions_are_held_to_the_published_schema_not_only_the_serializer(client_a):
    # DRF would coerce "10" to 10; the published contract says integer, and the API holds to it.
    body = {
        "name": "Strict-1",
        "weights_availability": "open",
        "market_status": "on_market",
        "context_window": "10",
    }
    response = client_a.post("/api/v1/models/", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "schema_violation"
    assert response.json()["errors"][0]["field"] == "context_window"
    body["context_window"] = 10
    assert client_a.post("/api/v1/models/", body, format="json").status_code == 201
