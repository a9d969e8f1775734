"""Base API classes: ETag on reads, If-Match on updates, a principal-typed request."""

from __future__ import annotations

import hashlib
from typing import Any

from django.db import models
from django.db.models import QuerySet
from rest_framework import serializers, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from core.actors import Principal, principal_of
from core.errors import PreconditionFailed


def etag_for(instance: models.Model) -> str:
    """A strong validator for one record: it changes whenever the record's `modified_at` does."""
    stamp = getattr(instance, "modified_at", None)
    raw = f"{instance._meta.label_lower}:{instance.pk}:{stamp.isoformat() if stamp else ''}"
    return '"' + hashlib.sha256(raw.encode()).hexdigest()[:32] + '"'


def _version_of(tag: str) -> str:
    """The record-version part of an entity tag: `"<version>"` or `"<version>.<clocks>"` -> `<version>`."""
    tag = tag.strip()
    if tag.startswith("W/"):
        tag = tag[2:]
    return tag.strip('"').split(".", 1)[0]


def representation_etag(instance: models.Model, data: Any) -> str:
    """The ETag of one read of a record. A representation carrying running deadline clocks
    (`remaining_seconds`, `overdue`, `status` computed when read) changes with time while the record does
    not, so its tag adds a digest of those clocks: a conditional GET never answers 304 with a stale clock,
    while If-Match (which compares the version part) still accepts the tag of any earlier read of the same
    version."""
    version = etag_for(instance)
    clocks = data.get("deadlines") if isinstance(data, dict) else None
    running = [
        clock
        for clock in clocks or ()
        if isinstance(clock, dict) and clock.get("remaining_seconds") is not None
    ]
    if not running:
        return version
    digest = hashlib.sha256(repr(running).encode()).hexdigest()[:12]
    return f'{version[:-1]}.{digest}"'


def check_if_match(request: Request, instance: models.Model) -> None:
    """412 when the caller sent If-Match and it does not name the current version (any read's tag of it)."""
    header = request.headers.get("If-Match")
    if header is None:
        return
    current = _version_of(etag_for(instance))
    candidates = [tag.strip() for tag in header.split(",")]
    if "*" in candidates or current in {_version_of(tag) for tag in candidates}:
        return
    raise PreconditionFailed(
        "The record changed since you read it (If-Match does not match its ETag); re-read and retry.",
        code="etag_mismatch",
    )


class ETagDetailMixin:
    """Adds the record's ETag to single-record responses; Django's ConditionalGetMiddleware answers 304."""

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]
        instance = getattr(self, "etag_instance", None)
        if instance is not None and 200 <= response.status_code < 300:
            response["ETag"] = representation_etag(instance, getattr(response, "data", None))
        return response


class RecordViewSet(ETagDetailMixin, viewsets.GenericViewSet):
    """Base for resource viewsets: lists come from `list_selector`, single records from `get_selector`
    (both scoped to the principal before any handler runs), addressed by public id or UUID."""

    lookup_field = "ref"
    lookup_value_regex = r"[A-Za-z0-9-]{1,40}"
    http_method_names = ["get", "post", "patch", "head", "options"]

    def list_selector(self, actor: Principal) -> QuerySet[Any]:
        raise NotImplementedError

    def get_selector(self, actor: Principal, ref: str) -> Any:
        raise NotImplementedError

    @property
    def actor(self) -> Principal:
        return principal_of(self.request)

    def get_queryset(self) -> QuerySet[Any]:
        return self.list_selector(self.actor)

    def get_object(self) -> Any:
        instance = self.get_selector(self.actor, self.kwargs[self.lookup_field])
        self.etag_instance = instance
        return instance

    def list(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        queryset = self.filter_queryset(self.get_queryset())
        page = self.paginate_queryset(queryset)
        serializer = self.get_serializer(page, many=True)
        return self.get_paginated_response(serializer.data)

    def created(self, instance: Any, data: Any, path: str) -> Response:
        """201 with Location and ETag for a new record."""
        self.etag_instance = instance
        return Response(data, status=status.HTTP_201_CREATED, headers={"Location": path})

    def parse(self, serializer_class: type[serializers.Serializer], **kwargs: Any) -> dict[str, Any]:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context(), **kwargs)
        serializer.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(serializer.validated_data)
        return data
