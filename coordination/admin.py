"""Notifications in the admin: read-only (services own every write; secrets are never shown)."""

from __future__ import annotations

from django.contrib import admin

from coordination.models import Delivery, EmailSubscription, WebhookEndpoint
from core.admin import ReadOnlyAdmin


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ReadOnlyAdmin):
    # WebhookSecret is neither registered nor inlined: secrets never appear in the admin.
    list_display = ("organization", "url", "disabled_at", "failing_since", "created_at")
    list_filter = ("organization",)


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ("created_at", "channel", "endpoint", "user", "status", "attempts", "next_attempt_at")
    list_filter = ("status", "channel")


@admin.register(EmailSubscription)
class EmailSubscriptionAdmin(ReadOnlyAdmin):
    list_display = ("membership", "subscriptions", "modified_at")
