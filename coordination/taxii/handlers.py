"""The outbox handler that keeps the TAXII collection index current (REDLINE_OUTBOX_HANDLERS).

Every event about an incident (submitted, amended, transitioned, TLP changed, deadline notices, and
`record.changed` for assessments, comments and aliases) re-indexes that
incident's STIX objects: unchanged objects stay where they are, new versions move to a new `date_added`.
It runs inside the dispatch transaction next to the notification fan-out, in a savepoint: an index failure
is logged and never blocks notifications (`coordination.services.stix_index_all` repairs the index)."""

from __future__ import annotations

import logging

from django.db import transaction

from coordination import services
from core.models import OutboxEvent

logger = logging.getLogger(__name__)

INCIDENT_SUBJECT = "incidents.incident"


def index_event(event: OutboxEvent) -> None:
    if event.subject_type != INCIDENT_SUBJECT:
        return
    try:
        with transaction.atomic():
            services.stix_index_incident(incident_id=event.subject_id)
    except Exception:  # logged; the notifications of this event must still go out
        logger.exception("TAXII index of incident %s (event %s) failed", event.subject_id, event.pk)
