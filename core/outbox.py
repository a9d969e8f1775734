"""The transactional outbox (DESIGN 2): the source of truth for anything that must be told.

A service calls `outbox_emit` inside its transaction. On commit the event is handed to the Celery task
`core.tasks.dispatch_outbox_event`; if the broker is down, the worker dies or the task fails, the beat
sweeper (`outbox_sweep`) hands it over again. Dispatch runs the handlers named in REDLINE_OUTBOX_HANDLERS
(dotted paths of `handler(event) -> None`, e.g. the webhook and email fan-out of coordination/) inside
one transaction with the event row locked, then marks the event dispatched: a handler therefore sees each
event once per successful dispatch, and must itself be idempotent (unique delivery rows per event and
recipient), because a crash after a handler's work but before commit rolls both back and runs it again.

core imports nothing of ours: the handlers are plain settings, resolved at dispatch time.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from core.models import OutboxEvent

logger = logging.getLogger(__name__)

Handler = Callable[[OutboxEvent], None]


def _jsonable(value: dict[str, Any]) -> dict[str, Any]:
    import json

    result: dict[str, Any] = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    return result


def outbox_emit(*, topic: str, subject: models.Model, data: dict[str, Any] | None = None) -> OutboxEvent:
    """Record that `topic` happened to `subject`. Call inside the service's transaction; the event is
    dispatched after commit (and by the sweeper if that hand-over is lost)."""
    event = OutboxEvent.objects.create(
        topic=topic,
        subject_type=subject._meta.label_lower,
        subject_id=str(subject.pk),
        subject_public_id=str(getattr(subject, "public_id", "") or ""),
        data=_jsonable(data or {}),
    )
    transaction.on_commit(lambda: _hand_over(event.id))
    return event


def _hand_over(event_id: UUID) -> None:
    """After commit: queue the dispatch. Never raises: the change is committed and the sweeper will
    retry, so a broker outage must not turn a successful request into an error."""
    from core.tasks import dispatch_outbox_event

    try:
        dispatch_outbox_event.delay(str(event_id))
    except Exception:  # the sweeper re-delivers; the request already succeeded
        logger.warning("outbox hand-over of %s failed; the sweeper will retry", event_id, exc_info=True)


def _handlers() -> list[Handler]:
    return [import_string(path) for path in getattr(settings, "REDLINE_OUTBOX_HANDLERS", [])]


def outbox_dispatch(event_id: UUID | str) -> bool:
    """Run the handlers for one event, once. Returns False if the event is already dispatched or is
    being dispatched by another worker right now (its row is locked)."""
    with transaction.atomic():
        event = (
            OutboxEvent.objects.select_for_update(skip_locked=True)
            .filter(pk=event_id, dispatched_at__isnull=True)
            .first()
        )
        if event is None:
            return False
        for handler in _handlers():
            handler(event)
        event.dispatched_at = timezone.now()
        event.dispatch_attempts += 1
        event.last_error = ""
        event.save(update_fields=["dispatched_at", "dispatch_attempts", "last_error"])
    return True


def _record_failure(event_id: UUID, error: BaseException) -> None:
    OutboxEvent.objects.filter(pk=event_id, dispatched_at__isnull=True).update(
        dispatch_attempts=models.F("dispatch_attempts") + 1, last_error=repr(error)[:2000]
    )


def outbox_sweep(*, older_than: timedelta | None = None, limit: int = 500) -> int:
    """Dispatch events whose hand-over was lost (broker down, worker killed, handler failed). Events
    younger than `older_than` are left to their on-commit task. Returns how many were dispatched."""
    if older_than is None:
        older_than = timedelta(seconds=getattr(settings, "REDLINE_OUTBOX_SWEEP_AFTER_SECONDS", 30))
    cutoff = timezone.now() - older_than
    pending = list(
        OutboxEvent.objects.filter(dispatched_at__isnull=True, created_at__lte=cutoff)
        .order_by("created_at")
        .values_list("pk", flat=True)[:limit]
    )
    dispatched = 0
    for event_id in pending:
        try:
            dispatched += outbox_dispatch(event_id)
        except Exception as error:  # one bad event must not stop the sweep
            logger.exception("outbox dispatch of %s failed", event_id)
            _record_failure(event_id, error)
    return dispatched


def outbox_dispatch_or_record(event_id: UUID | str) -> bool:
    """`outbox_dispatch`, with a failure recorded on the event (the sweeper retries it) instead of raised."""
    try:
        return outbox_dispatch(event_id)
    except Exception as error:  # recorded; the sweeper retries
        logger.exception("outbox dispatch of %s failed", event_id)
        _record_failure(UUID(str(event_id)), error)
        return False
