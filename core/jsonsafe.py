"""Strict JSON decoding for untrusted bodies and files.

Rejects, with a stable code: invalid UTF-8, duplicate keys, NaN/Infinity, integers too long to be a count,
NUL characters and lone surrogates (`"\\ud800"`: valid JSON, but not text that can be stored or echoed back)
in any key or string, and nesting deeper than the configured limit. Python's C decoder
raises RecursionError on absurd nesting (50,000 levels) before anything is built; that becomes a 400 too.
"""

from __future__ import annotations

import json
from typing import Any

from core.errors import ValidationFailed

MAX_INT_DIGITS = 20


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValidationFailed(f"Duplicate key {key[:80]!r} in JSON object.", code="duplicate_key")
        result[key] = value
    return result


def _reject_constant(name: str) -> Any:
    raise ValidationFailed(f"{name} is not valid JSON.", code="invalid_number")


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise ValidationFailed("Integer out of range.", code="number_out_of_range")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > 64:
        raise ValidationFailed("Number too long.", code="number_out_of_range")
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValidationFailed("Number out of range.", code="number_out_of_range")
    return value


def _check_text(text: str, what: str) -> None:
    if "\x00" in text:
        raise ValidationFailed(f"NUL characters are not allowed in {what}.", code="nul_character")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise ValidationFailed(
                f"Unpaired surrogate escapes (\\ud800-\\udfff) are not allowed in {what}.",
                code="invalid_unicode",
            ) from exc


def check_structure(value: Any, *, max_depth: int) -> None:
    """Walk the decoded value iteratively: every string and key is storable text, depth bounded."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item, "strings")
        elif isinstance(item, dict | list):
            if depth > max_depth:
                raise ValidationFailed(
                    f"JSON nesting deeper than {max_depth} levels.", code="nesting_too_deep"
                )
            if isinstance(item, dict):
                for key, child in item.items():
                    _check_text(key, "keys")
                    stack.append((child, depth + 1))
            else:
                stack.extend((child, depth + 1) for child in item)


def loads_strict(raw: bytes, *, max_depth: int) -> Any:
    """Decode untrusted JSON bytes or raise ValidationFailed with a stable code."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationFailed("The body is not valid UTF-8.", code="invalid_encoding") from exc
    if text.startswith("\ufeff"):
        text = text[1:]
    try:
        value = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_reject_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except RecursionError as exc:
        raise ValidationFailed("JSON nesting is too deep.", code="nesting_too_deep") from exc
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"Malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}.", code="malformed_json"
        ) from exc
    check_structure(value, max_depth=max_depth)
    return value
