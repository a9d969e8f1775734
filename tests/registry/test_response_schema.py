"""Registry responses match the OpenAPI document generated from the code (what partners build against):
nullable fields are declared nullable, every field has the declared type."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from jsonschema import Draft202012Validator

from api_docs.contract import generate_openapi
from tests.factories import AgentScaffoldFactory, EvaluationResultFactory, FrontierModelFactory

pytestmark = pytest.mark.django_db

INSPECT = Path(__file__).resolve().parents[1] / "fixtures" / "inspect"


@cache
def _document() -> dict[str, Any]:
    return json.loads(json.dumps(generate_openapi()).replace("#/components/schemas/", "#/$defs/"))


def _errors(template: str, method: str, status: int, body: Any) -> list[str]:
    document = _document()
    content = document["paths"][template][method]["responses"][str(status)]["content"]
    schema = {**content["application/json"]["schema"], "$defs": document["components"]["schemas"]}
    return [
        f"{'/'.join(map(str, error.path))}: {error.message}"
        for error in Draft202012Validator(schema).iter_errors(body)
    ]


@pytest.fixture
def registry(lab_a):
    scaffold = AgentScaffoldFactory(owner_org=lab_a)
    base = FrontierModelFactory(provider=lab_a)
    tuned = FrontierModelFactory(provider=lab_a, base_model=base)
    with_scaffold = EvaluationResultFactory(model=tuned, scaffold=scaffold)
    bare = EvaluationResultFactory(
        model=base, n_trials=None, n_successes=None, metric="pass_at_k", metric_k=10, metric_value=0.4
    )
    return {"base": base, "tuned": tuned, "scaffold": scaffold, "evaluations": [with_scaffold, bare]}


def test_lists_and_details_match_the_schema(anon, client_a, registry):
    for client in (anon, client_a):
        checks = [
            ("/api/v1/models/", "/api/v1/models/"),
            ("/api/v1/scaffolds/", "/api/v1/scaffolds/"),
            ("/api/v1/evaluations/", "/api/v1/evaluations/"),
            ("/api/v1/models/{ref}/", f"/api/v1/models/{registry['base'].public_id}"),
            ("/api/v1/models/{ref}/", f"/api/v1/models/{registry['tuned'].public_id}"),
            ("/api/v1/scaffolds/{ref}/", f"/api/v1/scaffolds/{registry['scaffold'].public_id}"),
            *[
                ("/api/v1/evaluations/{ref}/", f"/api/v1/evaluations/{e.public_id}")
                for e in registry["evaluations"]
            ],
        ]
        for template, url in checks:
            response = client.get(url)
            assert response.status_code == 200, url
            assert _errors(template, "get", 200, response.json()) == [], url


def test_writes_answer_with_the_declared_shapes(client_a, lab_a, private_storage):
    created = client_a.post(
        "/api/v1/models/", {"name": "Shape", "weights_availability": "open", "market_status": "on_market"}
    )
    assert _errors("/api/v1/models/", "post", 201, created.json()) == []
    result = client_a.post(
        "/api/v1/evaluations/",
        {
            "model": created.json()["public_id"],
            "task": "t",
            "capability_domain": "end_to_end",
            "scenario_type": "instructed_replication_local",
            "n_trials": 10,
            "n_successes": 1,
        },
    )
    assert _errors("/api/v1/evaluations/", "post", 201, result.json()) == []
    correction = client_a.post(
        f"/api/v1/evaluations/{result.json()['public_id']}/supersede",
        {"n_successes": 2, "reason": "Recount."},
    )
    assert _errors("/api/v1/evaluations/{ref}/supersede/", "post", 201, correction.json()) == []
    upload = SimpleUploadedFile("log.eval", (INSPECT / "replication_probe_5of10.eval").read_bytes())
    imported = client_a.post(
        "/api/v1/evaluations/import",
        {"file": upload, "capability_domain": "end_to_end", "scenario_type": "instructed_replication_local"},
        format="multipart",
    )
    assert imported.status_code == 201
    assert _errors("/api/v1/evaluations/import/", "post", 201, imported.json()) == []
