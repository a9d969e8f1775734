"""The audit writer: services call `audit_record` inside their transaction."""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from core.actors import Principal
from core.middleware import current_request_id
from core.models import AuditEvent


def _jsonable(value: dict[str, Any] | None) -> dict[str, Any] | None:
    if value is None:
        return None
    import json

    result: dict[str, Any] = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return result


def audit_record(
    *,
    actor: Principal,
    event_code: str,
    target: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one audit event for `target`. Call inside the service's transaction."""
    return AuditEvent.objects.create(
        event_code=event_code,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_public_id=str(getattr(target, "public_id", "") or ""),
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=current_request_id(),
        **actor.audit_fields(),
    )
