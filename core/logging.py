"""Structured logs: every record carries the request id and the acting organisation's id, and gunicorn's
access log is written as JSON too (deploy/gunicorn.conf.py)."""

from __future__ import annotations

import logging
from typing import Any

from django.http import HttpRequest
from pythonjsonlogger.json import JsonFormatter

from core.middleware import current_org_id, current_request_id, org_id_of


class RequestContextFilter(logging.Filter):
    """Adds `request_id` and `org_id` to every record (empty outside a request, e.g. in a Celery task).
    Django's own `django.request` line for an error response is written after the middleware has returned:
    it carries the request, which carries both."""

    def filter(self, record: logging.LogRecord) -> bool:
        request = getattr(record, "request", None)
        if not getattr(record, "request_id", ""):
            record.request_id = current_request_id() or str(getattr(request, "request_id", ""))
        if not getattr(record, "org_id", ""):
            record.org_id = current_org_id() or (
                org_id_of(request) if isinstance(request, HttpRequest) else ""
            )
        return True


# gunicorn's access-log atoms (gunicorn.glogging.Logger.atoms) and the field each becomes.
_ACCESS_FIELDS = {
    "h": "remote_addr",
    "m": "method",
    "U": "path",
    "s": "status",
    "B": "response_bytes",
    "M": "duration_ms",
    "a": "user_agent",
    "{x-request-id}o": "request_id",
}


class GunicornAccessJsonFormatter(JsonFormatter):
    """gunicorn logs an access line with its atoms as the record's args: lift the ones worth keeping into
    fields of the JSON object (the response's X-Request-ID joins it to the application's lines)."""

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        atoms = record.args if isinstance(record.args, dict) else {}
        for atom, field in _ACCESS_FIELDS.items():
            value = atoms.get(atom)
            if value not in (None, "-", ""):
                log_data[field] = value
