"""Request parsers that turn every malformed or oversized body into a 4xx problem, never a 500."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from django.conf import settings
from rest_framework.parsers import BaseParser, MultiPartParser

from core.errors import PayloadTooLarge, UnsupportedMediaType
from core.jsonsafe import loads_strict


def _declared_length(parser_context: Mapping[str, Any] | None) -> int | None:
    request = (parser_context or {}).get("request")
    if request is None:
        return None
    raw = request.META.get("CONTENT_LENGTH") or ""
    try:
        return int(raw)
    except ValueError:
        return None


def refuse_content_coding(parser_context: Mapping[str, Any] | None) -> None:
    """415 for a body sent with a content coding (gzip, deflate, br...): none is decoded here, so reading
    such a body as if it were plain would misread it (RFC 9110 15.5.16)."""
    request = (parser_context or {}).get("request")
    coding = request.META.get("HTTP_CONTENT_ENCODING", "") if request is not None else ""
    if coding.strip().lower() not in ("", "identity"):
        raise UnsupportedMediaType(
            f"Content-Encoding {coding[:40]!r} is not supported: send the body uncompressed.",
            code="unsupported_content_encoding",
        )


class StrictJSONParser(BaseParser):
    """JSON with a size cap enforced before reading, then core.jsonsafe's strict decoding."""

    media_type = "application/json"

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        refuse_content_coding(parser_context)
        limit: int = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        declared = _declared_length(parser_context)
        if declared is not None and declared > limit:
            raise PayloadTooLarge(f"The JSON body is {declared} bytes; the limit is {limit} bytes.")
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise PayloadTooLarge(f"The JSON body exceeds the limit of {limit} bytes.")
        if not raw.strip():
            return {}
        return loads_strict(raw, max_depth=settings.REDLINE_MAX_JSON_DEPTH)


class BoundedMultiPartParser(MultiPartParser):
    """Multipart uploads (evaluation logs) capped by REDLINE_MAX_IMPORT_BYTES before anything is read."""

    limit_setting = "REDLINE_MAX_IMPORT_BYTES"
    # Room for the multipart framing and the small form fields around the file.
    framing_allowance = 64 * 1024

    def parse(
        self, stream: IO[Any], media_type: str | None = None, parser_context: Mapping[str, Any] | None = None
    ) -> Any:
        refuse_content_coding(parser_context)
        file_limit: int = getattr(settings, self.limit_setting)
        declared = _declared_length(parser_context)
        if declared is None or declared > file_limit + self.framing_allowance:
            raise PayloadTooLarge(f"Uploads must declare a Content-Length of at most {file_limit} bytes.")
        return super().parse(stream, media_type, parser_context)


class EvidenceMultiPartParser(BoundedMultiPartParser):
    """Evidence files of incident reports, capped by REDLINE_MAX_EVIDENCE_BYTES before anything is read."""

    limit_setting = "REDLINE_MAX_EVIDENCE_BYTES"
