"""Idempotency-Key handling for creating POSTs (DESIGN 6).

- First request: the handler runs inside one transaction; its response is stored in the same transaction,
  so the record exists exactly when the write does.
- Same key, same body: the stored response is replayed with `Idempotent-Replayed: true`.
- Same key, different body: 422 `idempotency_key_reused`.
- Same key while the first request is still running: 409 `idempotency_in_flight` (a transaction-scoped
  advisory lock on the key; released by commit, rollback or a dead connection, so nothing stays stuck).

Keys are scoped per principal (API key or user) and kept for REDLINE_IDEMPOTENCY_TTL_HOURS.

A response may carry a secret that must never be stored (an API key's plaintext): the view names it in
`withhold`, and a replay carries that field as an empty string, never the secret.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from functools import wraps
from typing import Any, TypeVar, overload

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import connection, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from core.actors import principal_of
from core.api.views import etag_for
from core.errors import Conflict, Unprocessable, ValidationFailed
from core.models import IdempotencyRecord

HEADER = "Idempotency-Key"
_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")  # fullmatch: `$` would let a trailing newline in
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
        {"method": request.method, "path": request.path.rstrip("/"), "data": data, "files": files},
        sort_keys=True,
        default=str,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _lock_id(scope: str, key: str) -> int:
    digest = hashlib.sha256(f"{scope}\x1f{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _expiry_cutoff() -> datetime:
    return timezone.now() - timedelta(hours=settings.REDLINE_IDEMPOTENCY_TTL_HOURS)


def idempotency_purge_expired() -> int:
    """Delete the records older than the TTL (a periodic task calls this); returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=_expiry_cutoff()).delete()
    return deleted


def _replay(record: IdempotencyRecord) -> Response:
    response = Response(record.response_body, status=record.response_status)
    for name, value in record.response_headers.items():
        response[name] = value
    response["Idempotent-Replayed"] = "true"
    return response


def _stored_body(data: Any, withhold: Collection[str]) -> Any:
    body = json.loads(JSONRenderer().render(data)) if data is not None else None
    if isinstance(body, dict):
        body.update({name: "" for name in withhold if name in body})
    return body


@overload
def idempotent(handler: Handler) -> Handler: ...


@overload
def idempotent(*, withhold: Collection[str]) -> Callable[[Handler], Handler]: ...


def idempotent(
    handler: Handler | None = None, *, withhold: Collection[str] = ()
) -> Handler | Callable[[Handler], Handler]:
    """Decorate a DRF view handler (`create`, or an action) to honour Idempotency-Key.

    `@idempotent`, or `@idempotent(withhold=("key",))` for responses holding a secret that is shown once.
    """
    if handler is not None:
        return _idempotent(handler, ())

    def decorate(inner: Handler) -> Handler:
        return _idempotent(inner, tuple(withhold))

    return decorate


def _idempotent(handler: Handler, withhold: tuple[str, ...]) -> Handler:
    @wraps(handler)
    def wrapper(self: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        key = request.headers.get(HEADER)
        if key is None:
            with transaction.atomic():
                return handler(self, request, *args, **kwargs)
        if not _KEY_RE.fullmatch(key):
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
            if record is not None and record.created_at < _expiry_cutoff():
                record.delete()  # expired and not yet purged: the key is free again
                record = None
            if record is not None:
                if record.fingerprint != fingerprint:
                    raise Unprocessable(
                        "This Idempotency-Key was used with a different request body.",
                        code="idempotency_key_reused",
                    )
                return _replay(record)
            response = handler(self, request, *args, **kwargs)
            if 200 <= response.status_code < 300:
                headers = {h: response[h] for h in _REPLAYED_HEADERS if h in response}
                # The ETag is added later, by ETagDetailMixin.finalize_response; a replay needs it too.
                instance = getattr(self, "etag_instance", None)
                if "ETag" not in headers and instance is not None:
                    headers["ETag"] = etag_for(instance)
                IdempotencyRecord.objects.create(
                    scope=scope,
                    key=key,
                    method=request.method or "POST",
                    path=request.path[:500],
                    fingerprint=fingerprint,
                    response_status=response.status_code,
                    response_body=_stored_body(response.data, withhold),
                    response_headers=headers,
                )
            return response

    return wrapper  # type: ignore[return-value]
