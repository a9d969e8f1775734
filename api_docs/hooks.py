"""Schema post-processing: request bodies close their objects (unknown fields are rejected by the API,
so the contract says so), and anonymous reads are documented as allowed."""

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


def postprocess_schema(result: dict[str, Any], generator: Any, request: Any, public: bool) -> dict[str, Any]:
    schemas = result.get("components", {}).get("schemas", {})
    for name, schema in schemas.items():
        if name.endswith("Request"):
            _close(schema)
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if (
                method == "get"
                and isinstance(operation, dict)
                and "security" in operation
                and {} not in operation["security"]
                and not path_is_private(operation)
            ):
                operation["security"].append({})
    return result


def path_is_private(operation: dict[str, Any]) -> bool:
    return "api-keys" in operation.get("tags", [])
