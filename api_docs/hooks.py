"""Schema post-processing: request bodies close their objects (unknown fields are rejected by the API,
so the contract says so), and response schemas say what responses hold (empty optional URLs, any JSON)."""

from __future__ import annotations

from typing import Any


def _close(schema: dict[str, Any]) -> None:
    if schema.get("type") == "object" and "properties" in schema:
        schema.setdefault("additionalProperties", False)
    for value in schema.get("properties", {}).values():
        if isinstance(value, dict):
            _close(value)
            if isinstance(value.get("items"), dict):
                _close(value["items"])


_ANY_OR_NULL = [{}, {"type": "null"}]


def _loosen_responses(schema: Any) -> None:
    """What the responses really hold: an optional URL field reads as "" (not a URI), and a nullable
    JSON field is any value (drf-spectacular's `oneOf: [{}, null]` is invalid for null, which matches
    both branches)."""
    if isinstance(schema, list):
        for item in schema:
            _loosen_responses(item)
        return
    if not isinstance(schema, dict):
        return
    if schema.get("oneOf") == _ANY_OR_NULL:
        del schema["oneOf"]
    if schema.get("format") == "uri" and schema.get("type") == "string":
        del schema["format"]
        schema["anyOf"] = [{"format": "uri"}, {"const": ""}]
    for value in schema.values():
        _loosen_responses(value)


def postprocess_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request"):
            _close(schema)
        else:
            _loosen_responses(schema)
    # Which reads anonymous callers may make: per operation, in api_docs.schema.RedlineAutoSchema.get_auth.
    return result
