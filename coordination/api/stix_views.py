"""STIX 2.1 exports: one incident's bundle (`/api/v1/incidents/{ref}/stix`) and a bundle for a filtered
query (`/api/v1/incidents/stix?<the incident list's filters>`), each holding only what the caller may see
(coordination.stix, through the incident selectors). Served as `application/stix+json;version=2.1`, or as
`application/json` when that is what the client accepts."""

from __future__ import annotations

import hashlib
import json
from contextlib import nullcontext
from typing import Any

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.exceptions import NotAcceptable
from rest_framework.generics import GenericAPIView
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from coordination.stix import (
    STIX_MEDIA_TYPE,
    content_bundle,
    incident_stix_objects,
    incidents_stix_objects,
    stix_bundle,
    stix_incidents,
)
from core.actors import Principal, principal_of
from incidents import selectors
from incidents.api.pagination import IncidentCursorPagination
from incidents.filters import IncidentFilter
from registry.api.views import REF


class StixJSONRenderer(JSONRenderer):
    """`application/stix+json` (any `version` parameter is checked by the view: 2.1 only)."""

    media_type = "application/stix+json"
    format = "stix"


STIX_RESPONSE = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description='A STIX 2.1 bundle: {"type": "bundle", "id": "bundle--...", "objects": [...]}.',
)


class _StixView(GenericAPIView):
    renderer_classes = [StixJSONRenderer, JSONRenderer]

    @property
    def actor(self) -> Principal:
        return principal_of(self.request)

    def stix_response(self, bundle: dict[str, Any], headers: dict[str, str] | None = None) -> Response:
        stix = isinstance(self.request.accepted_renderer, StixJSONRenderer)
        if stix:
            version = _version(self.request.accepted_media_type)
            if version not in ("", "2.1"):
                raise NotAcceptable(f"Only STIX 2.1 is served, not version {version}.")
        response = Response(bundle, headers=headers, content_type=STIX_MEDIA_TYPE if stix else None)
        # One URL, a different bundle for each caller (and each Accept).
        response["Vary"] = "Accept, Authorization, Cookie"
        return response


def _version(media_type: str) -> str:
    for part in media_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.strip().lower() == "version":
            return value.strip().strip('"')
    return ""


class IncidentStixView(_StixView):
    """One incident as a STIX 2.1 bundle (404 outside the caller's visibility, like the detail)."""

    @extend_schema(
        summary="The incident as a STIX 2.1 bundle (what you may see of it; TLP 2.0 markings)",
        operation_id="incidents_stix_retrieve",
        tags=["incidents"],
        parameters=[REF],
        responses={
            (200, STIX_MEDIA_TYPE): STIX_RESPONSE,
            (200, "application/json"): STIX_RESPONSE,
        },
    )
    def get(self, request: Request, ref: str) -> Response:
        incident = selectors.incident_get(actor=self.actor, ref=ref)
        objects = incident_stix_objects(actor=self.actor, incident=incident)
        bundle = content_bundle(objects)
        # The bundle changes with records that do not touch the incident's modified_at (an assessment,
        # a model's TLP): the ETag is the content's digest, so ConditionalGetMiddleware answers 304.
        digest = hashlib.sha256(json.dumps(bundle, sort_keys=True).encode()).hexdigest()[:32]
        return self.stix_response(bundle, headers={"ETag": f'"{digest}"'})


class IncidentQueryStixView(_StixView):
    """The incidents a filtered query returns, one page at a time (the list's filters, limit, cursor and
    ordering), as one STIX 2.1 bundle; the next page's address is in the `Link` header (rel="next")."""

    filterset_class = IncidentFilter
    filter_backends = [DjangoFilterBackend]
    pagination_class = IncidentCursorPagination

    def get_queryset(self) -> Any:
        return stix_incidents(selectors.incident_list(actor=self.actor))

    @extend_schema(
        summary="A STIX 2.1 bundle of the incidents a query returns (a page; next page in the Link header)",
        operation_id="incidents_stix_query",
        tags=["incidents"],
        filters=True,
        parameters=[
            OpenApiParameter("cursor", OpenApiTypes.STR, description="Opaque cursor from the `Link` header."),
            OpenApiParameter(
                "limit", OpenApiTypes.INT, description="Incidents per page, 1 to 200 (default 50)."
            ),
            OpenApiParameter("ordering", OpenApiTypes.STR, enum=list(IncidentCursorPagination.orderings)),
        ],
        responses={
            (200, STIX_MEDIA_TYPE): STIX_RESPONSE,
            (200, "application/json"): STIX_RESPONSE,
        },
    )
    def get(self, request: Request) -> Response:
        text = request.query_params.get("search", "").strip()
        with selectors.incident_search_time_limit() if text else nullcontext():
            queryset = self.filter_queryset(self.get_queryset())
            paginator = self.paginator
            assert paginator is not None
            page = paginator.paginate_queryset(queryset, request, view=self)
            assert page is not None
        objects = incidents_stix_objects(actor=self.actor, incidents=page)
        headers = {}
        next_link = paginator.get_next_link()  # type: ignore[attr-defined]
        if next_link:
            headers["Link"] = f'<{next_link}>; rel="next"'
        return self.stix_response(stix_bundle(objects), headers=headers)
