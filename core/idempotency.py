"""Idempotency-Key handling for creating POSTs (DESIGN 6).

- First request: the handler runs inside one transaction; its response is stored in the same transaction,
  so the record exists exactly when the write does.
- Same key, same body: the stored response is replayed with `Idempotent-Replayed: true`.
- Same key, different body: 422 `idempotency_key_reused`.
- Same key while the first request is still running: 409 `idempotency_in_flight` (a transaction-scoped
  advisory lock on the key; released by commit, rollback or a dead connection, so nothing stays stuck).

Keys are scoped per principal (API key or user) and kept for REDLINE_IDEMPOTENCY_TTL_HOURS.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.actors import principal_of
from core.errors import Conflict, Unprocessable, ValidationFailed
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
_KEY_RE = re.compile(r"^[\x21-\x7e]{1,255}$")
_REPLAYED_HEADERS = ("Location", "ETag")

Handler = TypeVar("Handler", bound=Callable[..., Response])


def _file_digest(upload: UploadedFile) -> str:
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    return digest.hexdigest()


def request_fingerprint(request: Request) -> str:
    """A digest of what the request asks for, independent of multipart boundaries and key order."""
    files = {name: [f.name, f.size, _file_digest(f)] for name, f in request.FILES.items()}
    data: Any = request.data
    if hasattr(data, "getlist"):  # multipart QueryDict: data and files merged by DRF
        data = {key: data.getlist(key) for key in data if key not in files}
    canonical = json.dumps(
        {"method": request.method, "path": request.path, "data": data, "files": files},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_id(scope: str, key: str) -> int:
    digest = hashlib.sha256(f"{scope}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.response_status)
    for name, value in record.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def idempotent(handler: Handler) -> Handler:
    """Decorate a DRF view handler (`create`, or an action) to honour Idempotency-Key."""

    @wraps(handler)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            with transaction.atomic():
                return handler(self, request, *args, **kwargs)
        if not _KEY_RE.match(key):
            raise ValidationFailed(
                "Idempotency-Key must be 1-255 printable ASCII characters.", code="invalid_idempotency_key"
            )
        scope = principal_of(request).idempotency_scope
        fingerprint = request_fingerprint(request)
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s)", [_lock_id(scope, key)])
                (locked,) = cursor.fetchone()
            if not locked:
                raise Conflict(
                    "A request with this Idempotency-Key is still in progress; retry shortly.",
                    code="idempotency_in_flight",
                    headers={"Retry-After": "1"},
                )
            record = IdempotencyRecord.objects.filter(scope=scope, key=key).first()
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise Unprocessable(
                        "This Idempotency-Key was used with a different request body.",
                        code="idempotency_key_reused",
                    )
                return _replay(record)
            response = handler(self, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
                IdempotencyRecord.objects.create(
                    scope=scope,
                    key=key,
                    method=request.method or "POST",
                    path=request.path[:500],
                    fingerprint=fingerprint,
                    response_status=response.status_code,
                    response_body=body,
                    response_headers={h: response[h] for h in _REPLAYED_HEADERS if h in response},
                )
            return response

    return wrapper  # type: ignore[return-value]
