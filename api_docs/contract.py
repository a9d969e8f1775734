"""The published API contract: the OpenAPI document and the JSON Schemas (draft 2020-12) of the
submissions, both generated from the serializers and committed (api_docs/openapi.yaml, api_docs/schemas/).

The JSON Schemas are cut out of the OpenAPI 3.1 components (OpenAPI 3.1 schemas are JSON Schema 2020-12),
so the two can never disagree; submissions are validated against the committed files at request time.
"""

from __future__ import annotations

import copy
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from jsonschema import Draft202012Validator

from core.errors import FieldError, ValidationFailed

API_DOCS_DIR = Path(__file__).resolve().parent
OPENAPI_FILE = API_DOCS_DIR / "openapi.yaml"
SCHEMAS_DIR = API_DOCS_DIR / "schemas"
SCHEMA_BASE_URL = "https://redline.example/schemas"

# Published name -> OpenAPI request component it is cut from.
PUBLISHED_SCHEMAS: dict[str, tuple[str, str]] = {
    "model": ("FrontierModelWriteRequest", "A frontier model registration."),
    "scaffold": ("AgentScaffoldWriteRequest", "An agent scaffold registration."),
    "evaluation": ("EvaluationCreateRequest", "An evaluation result submission."),
    "incident": ("IncidentWriteRequest", "A self-replication incident report (DESIGN 3.4)."),
}


def generate_openapi() -> dict[str, Any]:
    from drf_spectacular.generators import SchemaGenerator

    generator = SchemaGenerator(patterns=None)
    schema: dict[str, Any] = generator.get_schema(request=None, public=True)
    return schema


def openapi_yaml(schema: dict[str, Any]) -> str:
    from drf_spectacular.renderers import OpenApiYamlRenderer

    return OpenApiYamlRenderer().render(schema, renderer_context={}).decode()


def _collect_refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for value in node.values():
            _collect_refs(value, found)
    elif isinstance(node, list):
        for item in node:
            _collect_refs(item, found)


def _rewrite_refs(node: Any) -> Any:
    if isinstance(node, dict):
        return {
            key: (
                value.replace("#/components/schemas/", "#/$defs/")
                if key == "$ref" and isinstance(value, str)
                else _rewrite_refs(value)
            )
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_rewrite_refs(item) for item in node]
    return node


def json_schema_for(openapi: dict[str, Any], name: str) -> dict[str, Any]:
    """One published JSON Schema (draft 2020-12), self-contained with $defs."""
    component, title = PUBLISHED_SCHEMAS[name]
    components = openapi["components"]["schemas"]
    root = copy.deepcopy(components[component])
    needed: set[str] = set()
    pending = [root]
    while pending:
        found: set[str] = set()
        _collect_refs(pending.pop(), found)
        for ref in sorted(found - needed):
            needed.add(ref)
            pending.append(components[ref])
    document: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"{SCHEMA_BASE_URL}/{name}/v1.json",
        "title": title,
        **_rewrite_refs(root),
    }
    if needed:
        document["$defs"] = {ref: _rewrite_refs(copy.deepcopy(components[ref])) for ref in sorted(needed)}
    Draft202012Validator.check_schema(document)
    return document


def json_schema_text(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=True) + "\n"


def published_schema_path(name: str) -> Path:
    return SCHEMAS_DIR / name / "v1.json"


@cache
def _validator(name: str) -> Draft202012Validator:
    document = json.loads(published_schema_path(name).read_text())
    return Draft202012Validator(document)


def validate_submission(name: str, data: Any) -> None:
    """Validate a submission against its committed JSON Schema; 400 with JSON-pointer field paths."""
    errors = sorted(_validator(name).iter_errors(data), key=lambda e: list(e.absolute_path))
    if not errors:
        return
    field_errors = [
        FieldError(
            field=".".join(str(p) for p in error.absolute_path) or "body",
            code=f"schema_{error.validator}",
            message=error.message[:300],
        )
        for error in errors[:20]
    ]
    raise ValidationFailed(
        f"The submission does not match {SCHEMA_BASE_URL}/{name}/v1.json: "
        + "; ".join(f"{e.field}: {e.message}" for e in field_errors[:5]),
        code="schema_violation",
        errors=field_errors,
    )


def load_published_schema(name: str) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(published_schema_path(name).read_text())
    return result


def load_committed_openapi() -> dict[str, Any]:
    result: dict[str, Any] = yaml.safe_load(OPENAPI_FILE.read_text())
    return result
