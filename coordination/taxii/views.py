"""TAXII 2.1 endpoints (OASIS TAXII 2.1, sections 4 and 5), thin over coordination.selectors / services.

Every response is `application/taxii+json;version=2.1`; an Accept that excludes it gets 406, a POST whose
Content-Type is not it 415, a body over the root's max_content_length 413. Errors are the TAXII error
message carrying the service's problem+json members (coordination.taxii.media). Authentication is the
API's (`Authorization: Api-Key ...`, or the browser session); anonymous callers read TLP:CLEAR. These
endpoints follow the OASIS specification rather than the REST API's OpenAPI contract, so they are left
out of api_docs/openapi.yaml (`schema = None`)."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import MethodNotAllowed, NotAuthenticated
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from coordination import selectors, services
from coordination.models import TaxiiStatus
from coordination.stix import STIX_MEDIA_TYPE
from coordination.taxii.media import (
    TAXII_MEDIA_TYPE,
    TaxiiParser,
    TaxiiRenderer,
    cursor_decode,
    cursor_encode,
    format_timestamp,
    max_content_length,
    parse_timestamp,
    require_acceptable,
    taxii_exception_handler,
)
from core.actors import Principal, principal_of
from core.errors import Forbidden, NotFound, ValidationFailed

SERVER_TITLE = "Redline TAXII 2.1 server"


class AllowAll:
    """Reads are open (the selectors scope them); writes check the partner rule in the service."""

    def has_permission(self, request: Request, view: Any) -> bool:
        return True

    def has_object_permission(self, request: Request, view: Any, obj: Any) -> bool:
        return True


class TaxiiView(APIView):
    renderer_classes = [TaxiiRenderer]
    parser_classes = [TaxiiParser]
    permission_classes = [AllowAll]  # type: ignore[list-item]
    schema = None  # the OASIS specification documents these, not the OpenAPI file
    http_method_names = ["get", "head", "options"]

    @property
    def actor(self) -> Principal:
        return principal_of(self.request)

    def perform_content_negotiation(self, request: Request, force: bool = False) -> tuple[BaseRenderer, str]:
        if not force:
            require_acceptable(request._request)
        return TaxiiRenderer(), TAXII_MEDIA_TYPE

    def get_exception_handler(self) -> Any:
        return taxii_exception_handler

    def finalize_response(self, request: Request, response: Any, *args: Any, **kwargs: Any) -> Any:
        response = super().finalize_response(request, response, *args, **kwargs)
        if isinstance(response, Response):
            response.content_type = TAXII_MEDIA_TYPE
        response["Vary"] = "Accept, Authorization, Cookie"
        return response

    def root_url(self, root: str) -> str:
        return self.request.build_absolute_uri(_root_path(root))


def _root_path(root: str) -> str:
    if root == selectors.DEFAULT_ROOT:
        return "/taxii2/default/"
    return f"/taxii2/community/{root}/"


def _root(kwargs: dict[str, Any]) -> str:
    return str(kwargs.get("community") or selectors.DEFAULT_ROOT)


class DiscoveryView(TaxiiView):
    """GET /taxii2/: the discovery resource (the caller's API roots)."""

    def get(self, request: Request) -> Response:
        roots = selectors.taxii_api_roots(actor=self.actor)
        return Response(
            {
                "title": SERVER_TITLE,
                "description": "Frontier-AI self-replication incident reports as STIX 2.1, filtered by "
                "your clearance (TLP 2.0). The default API root serves everything you may see; each "
                "sharing community of your organisation has its own root.",
                "contact": "See the Redline documentation (ARCHITECTURE.md, TAXII 2.1).",
                "default": self.root_url(selectors.DEFAULT_ROOT),
                "api_roots": [self.root_url(root) for root in roots],
            }
        )


class ApiRootView(TaxiiView):
    def get(self, request: Request, community: str | None = None) -> Response:
        root = _root(self.kwargs)
        selectors.taxii_root_check(actor=self.actor, root=root)
        title = "Redline" if root == selectors.DEFAULT_ROOT else f"Redline: sharing community {root}"
        return Response(
            {
                "title": title,
                "description": "Incident reports you may see"
                + ("." if root == selectors.DEFAULT_ROOT else f", filed by members of {root}."),
                "versions": [TAXII_MEDIA_TYPE],
                "max_content_length": max_content_length(),
            }
        )


def _collection_resource(collection: selectors.TaxiiCollection) -> dict[str, Any]:
    return {
        "id": collection.id,
        "title": collection.title,
        "description": collection.description,
        "alias": f"{collection.root}-{collection.kind}",
        "can_read": collection.can_read,
        "can_write": collection.can_write,
        "media_types": [STIX_MEDIA_TYPE],
    }


class CollectionsView(TaxiiView):
    def get(self, request: Request, community: str | None = None) -> Response:
        collections = selectors.taxii_collections(actor=self.actor, root=_root(self.kwargs))
        return Response({"collections": [_collection_resource(c) for c in collections]})


class CollectionView(TaxiiView):
    def get(self, request: Request, collection_id: str, community: str | None = None) -> Response:
        collection = selectors.taxii_collection_get(
            actor=self.actor, root=_root(self.kwargs), collection_id=collection_id
        )
        return Response(_collection_resource(collection))


# 100 values of the longest STIX id (a 250-character type, "--" and a UUID), with their commas.
MAX_MATCH_CHARS = 100 * (250 + 2 + 36 + 1)


def _list(params: Any, name: str) -> tuple[str, ...]:
    values: list[str] = []
    for raw in params.getlist(name):
        # Checked before any query: a NUL would reach PostgreSQL (which refuses it in text).
        if "\x00" in raw:
            raise ValidationFailed(f"{name} contains a NUL character.", code="nul_character")
        if len(raw) > MAX_MATCH_CHARS:
            raise ValidationFailed(f"{name} is longer than {MAX_MATCH_CHARS} characters.", code="too_long")
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    if len(values) > 100:
        raise ValidationFailed(f"{name} takes at most 100 values.", code="too_many_values")
    return tuple(values)


def parse_filters(request: Request, *, object_id: str | None = None) -> selectors.TaxiiFilter:
    params = request.query_params
    added_after = params.get("added_after")
    raw_limit = params.get("limit")
    limit = selectors.TAXII_DEFAULT_PAGE
    if raw_limit:
        if not raw_limit.isdigit() or int(raw_limit) < 1:
            raise ValidationFailed("limit must be a positive integer.", code="bad_limit")
        limit = min(int(raw_limit), selectors.TAXII_MAX_PAGE)
    versions = _list(params, "match[version]") or ("last",)
    for version in versions:
        if version not in ("last", "first", "all"):
            parse_timestamp(version, field="match[version]")
    raw_next = params.get("next")
    return selectors.TaxiiFilter(
        added_after=parse_timestamp(added_after, field="added_after") if added_after else None,
        ids=(object_id,) if object_id else _list(params, "match[id]"),
        types=_list(params, "match[type]"),
        versions=versions,
        spec_versions=_list(params, "match[spec_version]"),
        limit=limit,
        after=cursor_decode(raw_next) if raw_next else None,
    )


def _page_headers(page: selectors.TaxiiPage) -> dict[str, str]:
    if not page.items:
        return {}
    return {
        "X-TAXII-Date-Added-First": format_timestamp(page.items[0].row.date_added),
        "X-TAXII-Date-Added-Last": format_timestamp(page.items[-1].row.date_added),
    }


def _envelope(page: selectors.TaxiiPage, items: list[Any], key: str = "objects") -> dict[str, Any]:
    body: dict[str, Any] = {"more": page.more}
    if page.more and page.last is not None:
        body["next"] = cursor_encode(page.last.date_added, page.last.pk)
    if items:
        body[key] = items
    return body


class _CollectionEndpoint(TaxiiView):
    def readable(self, collection_id: str) -> selectors.TaxiiCollection:
        collection = selectors.taxii_collection_get(
            actor=self.actor, root=_root(self.kwargs), collection_id=collection_id
        )
        if not collection.can_read:
            raise Forbidden(
                "This collection cannot be read (it is an inbound collection).", code="not_readable"
            )
        return collection

    def page(self, collection_id: str, object_id: str | None = None) -> selectors.TaxiiPage:
        collection = self.readable(collection_id)
        filters = parse_filters(self.request, object_id=object_id)
        return selectors.taxii_object_page(actor=self.actor, root=collection.root, filters=filters)

    def object_page(self, collection_id: str, object_id: str) -> selectors.TaxiiPage:
        """The versions of one object the filters select; 404 if none is visible."""
        page = self.page(collection_id, object_id=object_id)
        if not page.items and not page.more:
            raise NotFound(f"No object {object_id[:100]!r} in this collection.")
        return page


class ObjectsView(_CollectionEndpoint):
    """GET: a page of objects (envelope). POST: a partner registry adds objects (inbound collections)."""

    http_method_names = ["get", "head", "post", "options"]

    def get(self, request: Request, collection_id: str, community: str | None = None) -> Response:
        page = self.page(collection_id)
        return Response(_envelope(page, [item.object for item in page.items]), headers=_page_headers(page))

    def post(self, request: Request, collection_id: str, community: str | None = None) -> Response:
        root = _root(self.kwargs)
        if not self.actor.is_authenticated:  # before the lookup: anonymous callers see no inbound collection
            raise NotAuthenticated()
        collection = selectors.taxii_collection_get(actor=self.actor, root=root, collection_id=collection_id)
        if not collection.can_write:
            raise Forbidden(
                "You cannot write to this collection: only partner registries (an API key of a regulator or "
                "coordination body with the scope 'exchange:write') write to inbound collections.",
                code="not_writable",
            )
        envelope = request.data
        if not isinstance(envelope, dict):
            raise ValidationFailed("The body must be a TAXII envelope object.", code="not_an_envelope")
        status = services.exchange_receive(
            actor=self.actor, api_root=root, collection_id=collection.id, envelope=envelope
        )
        return Response(status_resource(status), status=202)


class ObjectView(_CollectionEndpoint):
    """GET one object (every version of it the filters select), as an envelope; 404 if none is visible."""

    def get(
        self, request: Request, collection_id: str, object_id: str, community: str | None = None
    ) -> Response:
        page = self.object_page(collection_id, object_id)
        return Response(_envelope(page, [item.object for item in page.items]), headers=_page_headers(page))

    def delete(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        raise MethodNotAllowed("DELETE")


class VersionsView(_CollectionEndpoint):
    def get(
        self, request: Request, collection_id: str, object_id: str, community: str | None = None
    ) -> Response:
        page = self.object_page(collection_id, object_id)
        body = _envelope(page, [item.version for item in page.items], key="versions")
        return Response(body, headers=_page_headers(page))


class ManifestView(_CollectionEndpoint):
    def get(self, request: Request, collection_id: str, community: str | None = None) -> Response:
        page = self.page(collection_id)
        records = [
            {
                "id": item.object["id"],
                "date_added": format_timestamp(item.row.date_added),
                "version": item.version,
                "media_type": STIX_MEDIA_TYPE,
            }
            for item in page.items
        ]
        return Response(_envelope(page, records), headers=_page_headers(page))


def status_resource(status: TaxiiStatus) -> dict[str, Any]:
    return {
        "id": str(status.pk),
        "status": status.status,
        "request_timestamp": format_timestamp(status.request_timestamp),
        "total_count": status.total_count,
        "success_count": status.success_count,
        "successes": status.successes,
        "failure_count": status.failure_count,
        "failures": status.failures,
        "pending_count": status.pending_count,
        "pendings": status.pendings,
    }


class StatusView(TaxiiView):
    def get(self, request: Request, status_id: str, community: str | None = None) -> Response:
        selectors.taxii_root_check(actor=self.actor, root=_root(self.kwargs))
        if not self.actor.is_authenticated:
            raise NotAuthenticated()
        return Response(status_resource(selectors.taxii_status_get(actor=self.actor, status_id=status_id)))
