"""Webhook endpoints of the caller's organisation (org admins): register, change, rotate the secret,
disable and re-enable, and read recent deliveries with their attempts."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from api_docs import examples
from coordination import selectors, services
from coordination.api.pagination import DeliveryCursorPagination
from coordination.api.serializers import (
    EmailSubscriptionSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWithSecretSerializer,
    WebhookEndpointWriteSerializer,
    WebhookReasonSerializer,
)
from coordination.filters import DeliveryFilter, WebhookEndpointFilter
from coordination.models import WebhookEndpoint
from core.actors import Principal, principal_of
from core.api.views import RecordViewSet, check_if_match
from core.idempotency import idempotent
from registry.api.views import IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF


@extend_schema_view(
    list=extend_schema(summary="Your organisation's webhook endpoints (org admins)"),
    retrieve=extend_schema(summary="One webhook endpoint", parameters=[REF]),
)
class WebhookEndpointViewSet(RecordViewSet):
    """Standard Webhooks receivers of the caller's organisation. Another organisation's endpoint is 404;
    a member who is not an admin gets 403."""

    serializer_class = WebhookEndpointSerializer
    filterset_class = WebhookEndpointFilter
    read_requires_auth = True
    write_scope = "webhooks:manage"
    openapi_tags = ["webhooks"]
    queryset = WebhookEndpoint.objects.none()  # for the schema generator; requests use the selector

    def get_queryset(self) -> Any:
        if getattr(self, "swagger_fake_view", False):
            return WebhookEndpoint.objects.none()
        return super().get_queryset()

    def list_selector(self, actor: Principal) -> Any:
        return selectors.endpoint_list(actor=actor)

    def get_selector(self, actor: Principal, ref: str) -> WebhookEndpoint:
        return selectors.endpoint_get(actor=actor, ref=ref)

    def retrieve(self, request: Request, ref: str) -> Response:
        return Response(WebhookEndpointSerializer(self.get_object()).data)

    def _with_secret(self, endpoint: WebhookEndpoint, secret: str) -> dict[str, Any]:
        self.etag_instance = endpoint
        return {**WebhookEndpointSerializer(endpoint).data, "secret": secret}

    @extend_schema(
        summary="Register a webhook endpoint (the secret is in this response only)",
        request=WebhookEndpointWriteSerializer,
        responses={201: WebhookEndpointWithSecretSerializer},
        parameters=[IDEMPOTENCY_HEADER],
        examples=[OpenApiExample("A regulator's intake", value=examples.WEBHOOK_CREATE, request_only=True)],
    )
    @idempotent(withhold=("secret",))
    def create(self, request: Request) -> Response:
        data = self.parse(WebhookEndpointWriteSerializer)
        endpoint, secret = services.webhook_endpoint_create(actor=self.actor, **data)
        return Response(
            self._with_secret(endpoint, secret),
            status=201,
            headers={"Location": f"/api/v1/webhooks/{endpoint.pk}"},
        )

    @extend_schema(
        summary="Change the URL, description or subscriptions (If-Match honoured)",
        request=WebhookEndpointWriteSerializer(partial=True),
        responses={200: WebhookEndpointSerializer},
        parameters=[IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample(
                "Also hear about deadlines",
                value={"subscriptions": ["own_reports", "deadlines"]},
                request_only=True,
            )
        ],
    )
    def partial_update(self, request: Request, ref: str) -> Response:
        endpoint = self.get_object()
        check_if_match(request, endpoint)
        changes = self.parse(WebhookEndpointWriteSerializer, partial=True)
        endpoint = services.webhook_endpoint_update(actor=self.actor, endpoint=endpoint, changes=changes)
        self.etag_instance = endpoint
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Rotate the signing secret (the old one keeps signing for the overlap)",
        request=WebhookReasonSerializer,
        responses={200: WebhookEndpointWithSecretSerializer},
        parameters=[IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample("Scheduled rotation", value={"reason": "quarterly rotation"}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    @idempotent(withhold=("secret",))
    def rotate_secret(self, request: Request, ref: str) -> Response:
        endpoint = self.get_object()
        check_if_match(request, endpoint)
        data = self.parse(WebhookReasonSerializer)
        endpoint, secret = services.webhook_secret_rotate(
            actor=self.actor, endpoint=endpoint, reason=data.get("reason", "")
        )
        return Response(self._with_secret(endpoint, secret))

    def _set_enabled(self, request: Request, enabled: bool) -> Response:
        endpoint = self.get_object()
        check_if_match(request, endpoint)
        data = self.parse(WebhookReasonSerializer)
        endpoint = services.webhook_endpoint_set_enabled(
            actor=self.actor, endpoint=endpoint, enabled=enabled, reason=data.get("reason", "")
        )
        self.etag_instance = endpoint
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Re-enable an endpoint (after an auto-disable: pending deliveries resume)",
        request=WebhookReasonSerializer,
        responses={200: WebhookEndpointSerializer},
        parameters=[IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF],
        examples=[
            OpenApiExample("Receiver fixed", value={"reason": "TLS certificate renewed"}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def enable(self, request: Request, ref: str) -> Response:
        return self._set_enabled(request, True)

    @extend_schema(
        summary="Disable an endpoint (it stops receiving; deliveries wait)",
        request=WebhookReasonSerializer,
        responses={200: WebhookEndpointSerializer},
        parameters=[IDEMPOTENCY_HEADER, IF_MATCH_HEADER, REF],
        examples=[OpenApiExample("Maintenance", value={"reason": "receiver migration"}, request_only=True)],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def disable(self, request: Request, ref: str) -> Response:
        return self._set_enabled(request, False)

    @extend_schema(
        summary="Send a signed `webhook.test` ping to this endpoint (a real delivery, in its history)",
        request=WebhookReasonSerializer,
        responses={202: WebhookDeliverySerializer},
        parameters=[IDEMPOTENCY_HEADER, REF],
        examples=[
            OpenApiExample("Check a new receiver", value={"reason": "receiver deployed"}, request_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    @idempotent
    def ping(self, request: Request, ref: str) -> Response:
        endpoint = self.get_object()
        data = self.parse(WebhookReasonSerializer)
        delivery = services.webhook_test_ping(
            actor=self.actor, endpoint=endpoint, reason=data.get("reason", "")
        )
        return Response(
            WebhookDeliverySerializer(delivery).data,
            status=202,
            headers={"Location": f"/api/v1/webhooks/{endpoint.pk}/deliveries"},
        )

    @extend_schema(
        summary="Recent deliveries to this endpoint, with their attempts",
        responses={200: WebhookDeliverySerializer(many=True)},
        parameters=[REF],
    )
    @action(
        detail=True,
        methods=["get"],
        pagination_class=DeliveryCursorPagination,
        filterset_class=DeliveryFilter,
    )
    def deliveries(self, request: Request, ref: str) -> Response:
        endpoint = self.get_object()
        queryset = self.filter_queryset(selectors.delivery_list(actor=self.actor, endpoint=endpoint))
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)


class EmailSubscriptionView(APIView):
    """The calling user's own email notifications (members signed in; an API key has no mailbox)."""

    read_requires_auth = True
    openapi_tags = ["webhooks"]

    @extend_schema(summary="Your email notification topics", responses={200: EmailSubscriptionSerializer})
    def get(self, request: Request) -> Response:
        subscriptions = selectors.email_subscriptions_of(actor=principal_of(request))
        return Response({"subscriptions": subscriptions})

    @extend_schema(
        summary="Choose your email notification topics",
        request=EmailSubscriptionSerializer,
        responses={200: EmailSubscriptionSerializer},
        examples=[
            OpenApiExample(
                "My org's reports and deadlines",
                value={"subscriptions": ["own_reports", "deadlines"]},
                request_only=True,
            )
        ],
    )
    def put(self, request: Request) -> Response:
        serializer = EmailSubscriptionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        subscription = services.email_subscription_set(
            actor=principal_of(request), subscriptions=serializer.validated_data["subscriptions"]
        )
        return Response({"subscriptions": list(subscription.subscriptions)})
