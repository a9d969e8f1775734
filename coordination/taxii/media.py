"""TAXII 2.1 plumbing: the media type (406 on an Accept that excludes it, 415 on a POST that is not it),
the bounded body parser, the error message shape, timestamps and the opaque paging cursor."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import IO, Any

from django.conf import settings
from django.http import HttpRequest
from rest_framework.exceptions import NotAcceptable, UnsupportedMediaType
from rest_framework.parsers import BaseParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from core.api.errors import problem_exception_handler
from core.api.parsers import refuse_content_coding
from core.errors import PayloadTooLarge, ValidationFailed
from core.jsonsafe import loads_strict

TAXII_MEDIA_TYPE = "application/taxii+json;version=2.1"
TAXII_TYPE = "application/taxii+json"
TAXII_VERSION = "2.1"
DEFAULT_MAX_CONTENT_LENGTH = 1024 * 1024


def max_content_length() -> int:
    """The largest POST body an API root accepts (TAXII `max_content_length`; 413 beyond it)."""
    return int(getattr(settings, "REDLINE_TAXII_MAX_CONTENT_LENGTH", DEFAULT_MAX_CONTENT_LENGTH))


def _parse_media_range(value: str) -> tuple[str, dict[str, str]]:
    kind, *params = value.split(";")
    parsed: dict[str, str] = {}
    for param in params:
        key, _, val = param.strip().partition("=")
        parsed[key.strip().lower()] = val.strip().strip('"')
    return kind.strip().lower(), parsed


def accepts_taxii(header: str) -> bool:
    """Whether an Accept header admits TAXII 2.1: `application/taxii+json` with version 2.1 or no version,
    or a wildcard (`*/*`, `application/*`); no header at all is taken as `*/*`. A range with `q=0` is a
    refusal."""
    if not header.strip():
        return True
    for item in header.split(","):
        kind, params = _parse_media_range(item)
        if params.get("q", "1").strip() in ("0", "0.0", "0.00", "0.000"):
            continue
        if kind in ("*/*", "application/*"):
            return True
        if kind == TAXII_TYPE and params.get("version", TAXII_VERSION) == TAXII_VERSION:
            return True
    return False


def require_acceptable(request: HttpRequest) -> None:
    if not accepts_taxii(request.META.get("HTTP_ACCEPT", "")):
        raise NotAcceptable(f"This TAXII server answers in {TAXII_MEDIA_TYPE} only.")


class TaxiiRenderer(JSONRenderer):
    media_type = TAXII_TYPE
    format = "taxii"


class TaxiiParser(BaseParser):
    """`application/taxii+json;version=2.1` bodies (415 for another version), capped at the API root's
    `max_content_length` before anything is read (413), decoded strictly (core.jsonsafe: depth, duplicate
    keys, NaN, NUL...)."""

    media_type = TAXII_TYPE

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        refuse_content_coding(parser_context)
        _, params = _parse_media_range(media_type or "")
        if params.get("version", TAXII_VERSION) != TAXII_VERSION:
            raise UnsupportedMediaType(media_type or "", detail=f"POST bodies must be {TAXII_MEDIA_TYPE}.")
        limit = max_content_length()
        request = (parser_context or {}).get("request")
        declared = request.META.get("CONTENT_LENGTH") if request is not None else None
        if declared and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"The body is {declared} bytes; this API root takes at most {limit}.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The body exceeds this API root's max_content_length of {limit} bytes.")
        if not raw.strip():
            raise ValidationFailed("The body is empty; send a TAXII envelope.", code="empty_body")
        return loads_strict(raw, max_depth=settings.REDLINE_MAX_JSON_DEPTH)


def taxii_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """The TAXII 2.1 error message (title, description, error_code, http_status) that is also the
    service's RFC 9457 problem (type, status, detail, code, request_id, errors): one body, served as
    application/taxii+json so TAXII clients read it."""
    response = problem_exception_handler(exc, context)
    if response is None or not isinstance(response.data, dict):
        return response
    body = dict(response.data)
    body["description"] = body.get("detail", "")
    body["error_code"] = body.get("code", "")
    body["http_status"] = str(body.get("status", response.status_code))
    response.data = body
    response.content_type = TAXII_MEDIA_TYPE
    return response


def format_timestamp(value: datetime) -> str:
    """A TAXII timestamp, UTC with microseconds (date_added, X-TAXII-Date-Added-*, versions of SCOs)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_timestamp(value: str, *, field: str) -> datetime:
    """An RFC 3339 timestamp from a query parameter (400 if it is not one)."""
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise ValidationFailed(
            f"{field} is not an RFC 3339 timestamp: {value[:60]!r}.", code="bad_timestamp"
        ) from exc
    if parsed.tzinfo is None:
        raise ValidationFailed(f"{field} needs a time zone (e.g. Z).", code="bad_timestamp")
    return parsed


def cursor_encode(date_added: datetime, row_id: int) -> str:
    raw = f"{format_timestamp(date_added)}|{row_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def cursor_decode(value: str) -> tuple[datetime, int]:
    """The position a `next` names (400 if it is not one of ours)."""
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
        stamp, _, row_id = raw.partition("|")
        return parse_timestamp(stamp, field="next"), int(row_id)
    except (binascii.Error, UnicodeDecodeError, ValueError, ValidationFailed) as exc:
        raise ValidationFailed("`next` is not a cursor this server issued.", code="bad_cursor") from exc
