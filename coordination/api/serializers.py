"""Webhook endpoint and delivery shapes. The signing secret appears in one serializer only, the response
to create and rotate (shown once; idempotent replays withhold it)."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from coordination.models import Delivery, DeliveryAttempt, Subscription, WebhookEndpoint
from core.api.serializers import StrictSerializer


class WebhookEndpointSerializer(serializers.ModelSerializer):
    organization: serializers.SlugRelatedField[Any] = serializers.SlugRelatedField(
        slug_field="short_name", read_only=True
    )
    is_active = serializers.BooleanField(read_only=True)

    class Meta:
        model = WebhookEndpoint
        fields = [
            "id",
            "organization",
            "url",
            "description",
            "subscriptions",
            "is_active",
            "failing_since",
            "disabled_at",
            "disabled_reason",
            "created_at",
            "modified_at",
        ]
        read_only_fields = fields


class WebhookEndpointWithSecretSerializer(WebhookEndpointSerializer):
    secret = serializers.CharField(
        help_text='`whsec_...`: the signing secret, shown in this response only (a replay carries "").'
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]
        read_only_fields = fields


class WebhookEndpointWriteSerializer(StrictSerializer):
    url = serializers.URLField(max_length=2000, help_text="https (checked against the SSRF rules).")
    description = serializers.CharField(max_length=200, required=False, allow_blank=True)
    subscriptions = serializers.ListField(
        child=serializers.ChoiceField(choices=Subscription.choices), max_length=3, allow_empty=False
    )


class WebhookDeliveryAttemptSerializer(serializers.ModelSerializer):
    class Meta:
        model = DeliveryAttempt
        fields = ["attempted_at", "succeeded", "status_code", "error", "duration_ms"]
        read_only_fields = fields


class WebhookDeliverySerializer(serializers.ModelSerializer):
    topic = serializers.CharField(source="event.topic", read_only=True)
    webhook_id = serializers.SerializerMethodField()
    attempt_log = WebhookDeliveryAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = Delivery
        fields = [
            "id",
            "webhook_id",
            "topic",
            "status",
            "attempts",
            "next_attempt_at",
            "delivered_at",
            "last_error",
            "created_at",
            "payload",
            "attempt_log",
        ]
        read_only_fields = fields

    def get_webhook_id(self, obj: Delivery) -> str:
        return f"msg_{obj.pk.hex}"


class WebhookReasonSerializer(StrictSerializer):
    reason = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Kept in the audit event."
    )


class EmailSubscriptionSerializer(StrictSerializer):
    subscriptions = serializers.ListField(
        child=serializers.ChoiceField(choices=Subscription.choices),
        max_length=3,
        allow_empty=True,
        help_text="What you are emailed about (an empty list: nothing).",
    )
