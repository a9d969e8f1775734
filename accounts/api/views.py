"""Organisation directory and API key management endpoints."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts import selectors, services
from accounts.api.serializers import (
    ApiKeyCreatedSerializer,
    ApiKeyCreateSerializer,
    ApiKeyRevokeSerializer,
    ApiKeySerializer,
    OrganizationSerializer,
)
from accounts.filters import ApiKeyFilter, OrganizationFilter
from accounts.models import ApiKey, Organization
from api_docs import examples
from core.actors import Principal
from core.api.views import RecordViewSet
from core.idempotency import idempotent
from registry.api.views import IDEMPOTENCY_HEADER, REF


@extend_schema_view(
    list=extend_schema(summary="The participant directory"),
    retrieve=extend_schema(summary="One organisation (by short name or UUID)", parameters=[REF]),
)
class OrganizationViewSet(RecordViewSet):
    """The participant organisations: public directory."""

    serializer_class = OrganizationSerializer
    http_method_names = ["get", "head", "options"]
    filterset_class = OrganizationFilter
    lookup_value_regex = r"[A-Za-z0-9_-]{1,64}"

    def list_selector(self, actor: Principal) -> Any:
        return selectors.organization_list()

    def get_selector(self, actor: Principal, ref: str) -> Organization:
        return selectors.organization_get(ref=ref)

    def retrieve(self, request: Request, ref: str) -> Response:
        return Response(OrganizationSerializer(self.get_object()).data)


@extend_schema_view(
    list=extend_schema(summary="Your organisation's API keys (lab_admin)"),
    retrieve=extend_schema(summary="One API key", parameters=[REF]),
)
class ApiKeyViewSet(RecordViewSet):
    """API keys of the caller's organisation: created once (the secret is shown once), revoked at once."""

    serializer_class = ApiKeySerializer
    filterset_class = ApiKeyFilter
    read_requires_auth = True
    write_scope = "api_keys:manage"
    http_method_names = ["get", "post", "head", "options"]

    queryset = ApiKey.objects.none()  # for the schema generator; requests use the selector

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return ApiKey.objects.none()
        return super().get_queryset()

    def list_selector(self, actor: Principal) -> Any:
        return selectors.api_key_list(actor=actor)

    def get_selector(self, actor: Principal, ref: str) -> ApiKey:
        return selectors.api_key_get(actor=actor, key_id=ref)

    def retrieve(self, request: Request, ref: str) -> Response:
        return Response(ApiKeySerializer(self.get_object()).data)

    @extend_schema(
        summary="Create an API key (the secret is in this response only)",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[OpenApiExample("A CI pipeline key", value=examples.API_KEY_CREATE, request_only=True)],
    )
    @idempotent(withhold=("key",))  # the secret is shown once: a replay carries "key": ""
    def create(self, request: Request) -> Response:
        data = self.parse(ApiKeyCreateSerializer)
        if self.actor.org_id is None:
            from core.errors import Forbidden

            raise Forbidden("Only organisation members can create API keys.", code="not_key_admin")
        organization = selectors.organization_get(ref=str(self.actor.org_id))
        key, plaintext = services.api_key_create(actor=self.actor, organization=organization, **data)
        body = {**ApiKeySerializer(key).data, "key": plaintext}
        self.etag_instance = key
        return Response(body, status=201, headers={"Location": f"/api/v1/api-keys/{key.pk}"})

    @extend_schema(
        summary="Revoke an API key (effective on its next request)",
        request=ApiKeyRevokeSerializer,
        responses={200: ApiKeySerializer},
        parameters=[IDEMPOTENCY_HEADER, REF],
        examples=[
            OpenApiExample("Revoke a leaked key", value={"reason": "leaked in a CI log"}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def revoke(self, request: Request, ref: str) -> Response:
        key = self.get_object()
        data = self.parse(ApiKeyRevokeSerializer)
        key = services.api_key_revoke(actor=self.actor, key=key, reason=data.get("reason", ""))
        self.etag_instance = key
        return Response(ApiKeySerializer(key).data)
