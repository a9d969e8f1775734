"""The audit writer: services call `audit_record` inside their transaction."""

from __future__ import annotations

from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection, models

from core.actors import Principal
from core.bulk import copy_insert
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
    event = audit_event(actor=actor, event_code=event_code, target=target, before=before, after=after)
    event.save(force_insert=True)
    return event


def audit_record_many(events: list[AuditEvent]) -> list[AuditEvent]:
    """Append many events built by `audit_event` with one COPY (a bulk write), in their order; their ids
    (a bigint sequence) are drawn first, in one query, so the order of ids is the order given."""
    if not events:
        return events
    table = AuditEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, 'id')) FROM generate_series(1, %s)",
            [table, len(events)],
        )
        ids = sorted(row[0] for row in cursor.fetchall())
    for event, pk in zip(events, ids, strict=True):
        event.pk = pk
    copy_insert(events)
    return events


def audit_event(
    *,
    actor: Principal,
    event_code: str,
    target: models.Model,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> AuditEvent:
    """The event `audit_record` appends, unsaved."""
    return AuditEvent(
        event_code=event_code,
        target_type=target._meta.label_lower,
        target_id=str(target.pk),
        target_public_id=str(getattr(target, "public_id", "") or ""),
        before=_jsonable(before),
        after=_jsonable(after),
        request_id=current_request_id(),
        **actor.audit_fields(),
    )
