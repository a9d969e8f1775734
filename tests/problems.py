"""Assertions on the one error shape of the API (RFC 9457 problem+json, DESIGN 6)."""

from __future__ import annotations

import json
from typing import Any

PROBLEM_KEYS = {"type", "title", "status", "detail", "code"}


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    """The response is problem+json with `status` (and `code`, when given); returns the body."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"] == "application/problem+json", response["Content-Type"]
    body: dict[str, Any] = json.loads(response.content)
    assert set(body) >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["type"] == f"/problems/{body['code']}"
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body


def field_error_codes(body: dict[str, Any]) -> dict[str, str]:
    """{field path: error code} of a validation problem."""
    return {error["field"]: error["code"] for error in body["errors"]}
